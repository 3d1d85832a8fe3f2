-- @tiergate/postgres 001_init: tables of the tiergate store in schema "tiergate".
-- Idempotent: every statement is IF NOT EXISTS. Times are epoch milliseconds (BIGINT)
-- from the application's clock; contexts and webhook secrets arrive encrypted.

CREATE SCHEMA IF NOT EXISTS "tiergate";

CREATE TABLE IF NOT EXISTS "tiergate".schema_migrations (
  name text PRIMARY KEY,
  applied_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS "tiergate".notifications (
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
CREATE INDEX IF NOT EXISTS notifications_purge_at ON "tiergate".notifications (purge_at);

CREATE TABLE IF NOT EXISTS "tiergate".approvals (
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
CREATE INDEX IF NOT EXISTS approvals_pending_due ON "tiergate".approvals (expires_at, id) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS approvals_purge_at ON "tiergate".approvals (purge_at);

CREATE TABLE IF NOT EXISTS "tiergate".audit (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  approval_id text NOT NULL REFERENCES "tiergate".approvals (id) ON DELETE CASCADE,
  at bigint NOT NULL,
  event text NOT NULL,
  actor text NOT NULL,
  ip text,
  user_agent text
);
CREATE INDEX IF NOT EXISTS audit_approval ON "tiergate".audit (approval_id, seq);

CREATE TABLE IF NOT EXISTS "tiergate".outbox (
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
CREATE INDEX IF NOT EXISTS outbox_pending_available ON "tiergate".outbox (available_at, seq) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS outbox_subject ON "tiergate".outbox (subject_id, seq);
CREATE INDEX IF NOT EXISTS outbox_settled_purge_at ON "tiergate".outbox (purge_at) WHERE state <> 'pending';

CREATE TABLE IF NOT EXISTS "tiergate".counters (
  account_id text NOT NULL,
  action text NOT NULL,
  window_key text NOT NULL,
  used bigint NOT NULL,
  expires_at bigint NOT NULL,
  PRIMARY KEY (account_id, action, window_key)
);
CREATE INDEX IF NOT EXISTS counters_expires_at ON "tiergate".counters (expires_at);

CREATE TABLE IF NOT EXISTS "tiergate".endpoint_health (
  account_id text PRIMARY KEY,
  healthy boolean NOT NULL,
  consecutive_failures integer NOT NULL,
  disabled_urls text[] NOT NULL DEFAULT '{}'
);

-- The table of rate-limiter-flexible's RateLimiterPostgres (its own layout; expire is
-- epoch ms of the limiter's clock).
CREATE TABLE IF NOT EXISTS "tiergate"."rate_limits" (
  key varchar(255) PRIMARY KEY,
  points integer NOT NULL DEFAULT 0,
  expire bigint
);
CREATE INDEX IF NOT EXISTS "rate_limits_expire" ON "tiergate"."rate_limits" (expire);

INSERT INTO "tiergate".schema_migrations (name) VALUES ('001_init') ON CONFLICT (name) DO NOTHING;
