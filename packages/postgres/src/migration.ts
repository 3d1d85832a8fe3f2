/**
 * The database schema of `@tiergate/postgres`, as plain SQL.
 *
 * `migrationSql()` is the single source of the DDL: `store.migrate()` runs it
 * under an advisory lock, and `sql/001_init.sql` in the package is its output
 * for the default schema, for hosts that run their own migrations. Every
 * statement is `IF NOT EXISTS`, so running it again changes nothing.
 *
 * Index choices (why each exists):
 * - `approvals_pending_due` — partial on `status = 'pending'`, ordered by
 *   deadline: the expiry sweep reads only due pending rows, however many
 *   decided approvals are kept.
 * - `outbox_pending_available` — partial on `state = 'pending'`, ordered by the
 *   instant the message becomes claimable (`available_at`, a generated
 *   column = later of retry time and lease end): claiming never scans
 *   delivered or dead messages.
 * - `*_purge_at`, `counters_expires_at` — the retention purge reads only rows
 *   past their deadline.
 */
import { TiergateError } from '@tiergate/core';

/** The schema used when none is given. */
export const DEFAULT_SCHEMA = 'tiergate';
/** The rate limiter's table (inside the schema) when none is given. */
export const DEFAULT_RATE_LIMITER_TABLE = 'rate_limits';

// Lower-case, unquoted-style identifiers only: they are spliced into SQL and into
// the NOTIFY channel name (at most 63 bytes), so keep them short and plain.
const IDENTIFIER = /^[a-z_][a-z0-9_]{0,47}$/;

/** Checks a schema or table name; throws `CONFIG_INVALID` for anything but `[a-z_][a-z0-9_]*` up to 48 characters. */
export function checkIdentifier(name: string, option: string): string {
  if (!IDENTIFIER.test(name)) {
    throw new TiergateError('CONFIG_INVALID', `postgresStore: ${option} must match ${IDENTIFIER.source} (got "${name}")`, { details: { option } });
  }
  return name;
}

/** The LISTEN/NOTIFY channel on which approval transitions of `schema` are announced. */
export function approvalChannel(schema: string): string {
  return `${schema}.approvals`;
}

/**
 * The complete, idempotent DDL for one schema: schema, tables and indexes of
 * the store, and the table of the `rate-limiter-flexible` limiter. Requires
 * PostgreSQL 12 or later (generated columns).
 */
export function migrationSql(schema: string = DEFAULT_SCHEMA, rateLimiterTable: string = DEFAULT_RATE_LIMITER_TABLE): string {
  const s = `"${checkIdentifier(schema, 'schema')}"`;
  const rl = `"${checkIdentifier(rateLimiterTable, 'rateLimiterTable')}"`;
  return `-- @tiergate/postgres 001_init: tables of the tiergate store in schema ${s}.
-- Idempotent: every statement is IF NOT EXISTS. Times are epoch milliseconds (BIGINT)
-- from the application's clock; contexts and webhook secrets arrive encrypted.

CREATE SCHEMA IF NOT EXISTS ${s};

CREATE TABLE IF NOT EXISTS ${s}.schema_migrations (
  name text PRIMARY KEY,
  applied_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS ${s}.notifications (
  id text PRIMARY KEY,
  account_id text NOT NULL,
  issue text NOT NULL,
  action_label text NOT NULL,
  sealed_context text,
  approval_id text,
  link_id text NOT NULL,
  account jsonb NOT NULL,
  created_at bigint NOT NULL,
  expires_at bigint NOT NULL,
  purge_at bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS notifications_purge_at ON ${s}.notifications (purge_at);

CREATE TABLE IF NOT EXISTS ${s}.approvals (
  id text PRIMARY KEY,
  account_id text NOT NULL,
  notification_id text NOT NULL,
  action text NOT NULL,
  reason text NOT NULL,
  urgency text NOT NULL,
  callback_url text,
  sealed_secret text,
  status text NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'expired')),
  created_at bigint NOT NULL,
  expires_at bigint NOT NULL,
  decided_at bigint,
  decided_by text,
  denial_reason text,
  purge_at bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS approvals_pending_due ON ${s}.approvals (expires_at, id) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS approvals_purge_at ON ${s}.approvals (purge_at);

CREATE TABLE IF NOT EXISTS ${s}.audit (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  approval_id text NOT NULL REFERENCES ${s}.approvals (id) ON DELETE CASCADE,
  at bigint NOT NULL,
  event text NOT NULL,
  actor text NOT NULL,
  ip text,
  user_agent text
);
CREATE INDEX IF NOT EXISTS audit_approval ON ${s}.audit (approval_id, seq);

CREATE TABLE IF NOT EXISTS ${s}.outbox (
  id text PRIMARY KEY,
  seq bigint GENERATED ALWAYS AS IDENTITY,
  account_id text NOT NULL,
  topic text NOT NULL,
  type text NOT NULL,
  subject_id text NOT NULL,
  target text NOT NULL,
  state text NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at bigint NOT NULL,
  lease text,
  lease_until bigint NOT NULL DEFAULT 0,
  available_at bigint GENERATED ALWAYS AS (greatest(next_attempt_at, lease_until)) STORED,
  created_at bigint NOT NULL,
  last_error text,
  purge_at bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_pending_available ON ${s}.outbox (available_at, seq) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS outbox_subject ON ${s}.outbox (subject_id, seq);
CREATE INDEX IF NOT EXISTS outbox_settled_purge_at ON ${s}.outbox (purge_at) WHERE state <> 'pending';

CREATE TABLE IF NOT EXISTS ${s}.counters (
  account_id text NOT NULL,
  action text NOT NULL,
  window_key text NOT NULL,
  used bigint NOT NULL,
  expires_at bigint NOT NULL,
  PRIMARY KEY (account_id, action, window_key)
);
CREATE INDEX IF NOT EXISTS counters_expires_at ON ${s}.counters (expires_at);

CREATE TABLE IF NOT EXISTS ${s}.endpoint_health (
  account_id text PRIMARY KEY,
  healthy boolean NOT NULL,
  consecutive_failures integer NOT NULL,
  disabled_urls text[] NOT NULL DEFAULT '{}'
);

-- The table of rate-limiter-flexible's RateLimiterPostgres (its own layout; expire is
-- epoch ms of the limiter's clock).
CREATE TABLE IF NOT EXISTS ${s}.${rl} (
  key varchar(255) PRIMARY KEY,
  points integer NOT NULL DEFAULT 0,
  expire bigint
);
CREATE INDEX IF NOT EXISTS ${`"${rateLimiterTable}_expire"`} ON ${s}.${rl} (expire);

INSERT INTO ${s}.schema_migrations (name) VALUES ('001_init') ON CONFLICT (name) DO NOTHING;
`;
}
