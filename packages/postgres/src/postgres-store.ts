/**
 * `postgresStore()`: the tiergate `Store` on the host's own PostgreSQL, over
 * the host's `pg.Pool`. Every instance of the application points at the same
 * database; the guarantees of the `Store` port hold across all of them:
 *
 * - multi-record writes (`createNotification`, `transitionApproval`) are one
 *   SQL statement each, so they commit entirely or not at all;
 * - the approval decision is `UPDATE … WHERE status = 'pending'`: of any number
 *   of concurrent transitions exactly one updates the row;
 * - the expiry sweep and the outbox claim use `FOR UPDATE SKIP LOCKED` (the
 *   claim sets the lease in the same statement), so every instance runs them
 *   at once without handing one message to two dispatchers;
 * - quota consumes lock the window rows (`INSERT … ON CONFLICT DO UPDATE …
 *   WHERE used + amount <= limit`), so concurrent consumes never overshoot;
 * - times are the application's epoch milliseconds (BIGINT), never `now()`.
 *
 * **Failures.** Any error from `pg` — connection refused, timeout, connection
 * terminated, missing table — rejects with `STORE_UNAVAILABLE` (HTTP 503),
 * with the `pg` error as `cause`; a transaction is rolled back by discarding
 * its connection. The one exception: a duplicate id on create is a caller bug
 * and rejects with `INTERNAL_ERROR`. The rate limiter fails closed too (see
 * {@link PostgresStore.rateLimiter}).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Pool, PoolClient, QueryResult } from 'pg';
import { RateLimiterPostgres } from 'rate-limiter-flexible';
import {
  TiergateError,
  checkTransitionBatch,
  rateLimiterFrom,
  storeUnavailable,
  type ApprovalRecord,
  type ApprovalTransitionInput,
  type ClaimedMessage,
  type RateLimiter,
  type RateLimiterOptions,
  type Store,
  type TransitionResult,
} from '@tiergate/core';
import { approvalWaiter } from './approval-waiter.js';
import { checkout } from './pool-checkout.js';
import { DEFAULT_RATE_LIMITER_TABLE, DEFAULT_SCHEMA, approvalChannel, checkIdentifier, migrationSql } from './migration.js';
import {
  OUTBOX_JSON_COLUMNS,
  approvalFromRow,
  auditFromRow,
  healthFromRow,
  notificationFromRow,
  outboxFromRow,
  outboxJson,
  outboxRows,
  type Row,
} from './record-rows.js';

/** Options of {@link postgresStore}. */
export interface PostgresStoreOptions {
  /** The host's pool (`new pg.Pool(...)`). The store never ends it. Give it `connectionTimeoutMillis` (and ideally `query_timeout`) so an unreachable database fails fast instead of hanging. */
  readonly pool: Pool;
  /** Schema holding the store's tables (default `tiergate`): `[a-z_][a-z0-9_]*`, at most 48 characters. */
  readonly schema?: string;
  /** Table of the rate limiter inside the schema (default `rate_limits`). */
  readonly rateLimiterTable?: string;
  /** `false` makes `waitForApproval` poll instead of holding a LISTEN connection (e.g. behind a transaction-mode pooler). Default `true`. */
  readonly listen?: boolean;
  /** Poll interval of `waitForApproval` when LISTEN is off or unavailable, ms (default 1 000). */
  readonly pollIntervalMs?: number;
  /** How long the LISTEN connection is kept with no wait pending before it goes back, ms (default 30 000). */
  readonly listenerIdleMs?: number;
}

/** A PostgreSQL-backed {@link Store}, plus schema management and shutdown. */
export interface PostgresStore extends Store {
  readonly kind: 'postgres';
  /** The schema in use. */
  readonly schema: string;
  /** The batch compare-and-set: one statement and one commit for the whole batch (see `Store.transitionApprovals`). */
  transitionApprovals(inputs: readonly ApprovalTransitionInput[]): Promise<readonly TransitionResult[]>;
  /**
   * Creates the schema, tables and indexes if missing (the DDL of
   * `migrationSql(schema, rateLimiterTable)`). Idempotent, and safe when
   * several instances run it at once (a transaction-scoped advisory lock
   * serialises them). Call it once at startup, before serving requests.
   */
  migrate(): Promise<void>;
  /**
   * Ends pending `waitForApproval` calls and gives back the connection held
   * for LISTEN. Call it before `pool.end()` (which waits for checked-out
   * connections). The store stays usable: a later wait listens again.
   */
  close(): Promise<void>;
  /**
   * A `rate-limiter-flexible` `RateLimiterPostgres` on the store's pool and
   * schema, shared by every instance with the same `keyPrefix`. Its table is
   * created by `migrate()`, so no request races its creation. It keeps its
   * own expiry times on the real clock (the one exception to injected time).
   *
   * **Fails closed**: if PostgreSQL is unreachable, `consume` rejects with
   * `STORE_UNAVAILABLE` (503) — it neither lets the request through nor
   * reports 429. There is deliberately no in-memory insurance limiter: the
   * request it guards needs this same database anyway.
   */
  rateLimiter(options: RateLimiterOptions): RateLimiter;
}

const PG_UNIQUE_VIOLATION = '23505';

/** A 64-bit advisory lock key per schema, so migrations of different schemas do not wait for each other. */
function migrationLockKey(schema: string): string {
  return createHash('sha256').update(`tiergate:migrate:${schema}`).digest().readBigInt64BE(0).toString();
}

/**
 * Creates a store over `options.pool`. Nothing is sent to the database until
 * the first call; run {@link PostgresStore.migrate} (or the shipped SQL file)
 * before serving requests.
 *
 * @example
 * ```ts
 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, connectionTimeoutMillis: 5000 });
 * const store = postgresStore({ pool });
 * await store.migrate();
 * const tiergate = createTiergate({ store, ... });
 * ```
 */
export function postgresStore(options: PostgresStoreOptions): PostgresStore {
  const { pool } = options;
  const schema = checkIdentifier(options.schema ?? DEFAULT_SCHEMA, 'schema');
  const rateLimiterTable = checkIdentifier(options.rateLimiterTable ?? DEFAULT_RATE_LIMITER_TABLE, 'rateLimiterTable');
  const s = `"${schema}"`;
  const channel = approvalChannel(schema);
  const limiters = new Map<string, RateLimiter>();

  const sql = {
    createNotification: `
      WITH n AS (
        INSERT INTO ${s}.notifications (id, account_id, issue, action_label, sealed_context, approval_id, link_id, account, created_at, expires_at, purge_at)
        VALUES ($1::text, $2::text, $3::text, $4::text, $5::text, $6::text, $7::text, $8::jsonb, $9::bigint, $10::bigint, $11::bigint)
      ), a AS (
        INSERT INTO ${s}.approvals (id, account_id, notification_id, action, reason, urgency, callback_url, sealed_secret, status, created_at, expires_at, decided_at, decided_by, denial_reason, purge_at)
        SELECT x.* FROM jsonb_to_recordset($12::jsonb) AS x(id text, account_id text, notification_id text, action text, reason text, urgency text, callback_url text,
          sealed_secret text, status text, created_at bigint, expires_at bigint, decided_at bigint, decided_by text, denial_reason text, purge_at bigint)
      ), au AS (
        INSERT INTO ${s}.audit (approval_id, at, event, actor, ip, user_agent)
        SELECT x.* FROM jsonb_to_recordset($13::jsonb) AS x(approval_id text, at bigint, event text, actor text, ip text, user_agent text)
      )
      INSERT INTO ${s}.outbox (id, account_id, topic, type, subject_id, target, state, attempts, next_attempt_at, created_at, last_error, purge_at)
      SELECT m.id, m.account_id, m.topic, m.type, m.subject_id, m.target, m.state, m.attempts, m.next_attempt_at, m.created_at, m.last_error, m.purge_at
      FROM ROWS FROM (jsonb_to_recordset($14::jsonb) AS (${OUTBOX_JSON_COLUMNS})) WITH ORDINALITY AS m
      ORDER BY m.ordinality`,
    getNotification: `SELECT * FROM ${s}.notifications WHERE id = $1::text`,
    getApproval: `SELECT * FROM ${s}.approvals WHERE id = $1::text`,
    approvalStatus: `SELECT status FROM ${s}.approvals WHERE id = $1::text`,
    // One statement: the compare-and-set, its audit entry, its outbox messages and the
    // NOTIFY (sent on commit) happen together or not at all.
    transitionApproval: `
      WITH upd AS (
        UPDATE ${s}.approvals SET status = $2::text, decided_at = $3::bigint, decided_by = $4::text, denial_reason = $5::text
        WHERE id = $1::text AND status = 'pending'
        RETURNING *
      ), au AS (
        INSERT INTO ${s}.audit (approval_id, at, event, actor, ip, user_agent)
        SELECT upd.id, $6::bigint, $7::text, $8::text, $9::text, $10::text FROM upd
      ), ob AS (
        INSERT INTO ${s}.outbox (id, account_id, topic, type, subject_id, target, state, attempts, next_attempt_at, created_at, last_error, purge_at)
        SELECT m.id, m.account_id, m.topic, m.type, m.subject_id, m.target, m.state, m.attempts, m.next_attempt_at, m.created_at, m.last_error, m.purge_at
        FROM upd, ROWS FROM (jsonb_to_recordset($11::jsonb) AS (${OUTBOX_JSON_COLUMNS})) WITH ORDINALITY AS m
        ORDER BY m.ordinality
      )
      SELECT upd.*, pg_notify($12::text, upd.id) IS NULL AS notified FROM upd`,
    // The batch form of transitionApproval (the expiry sweep's): one statement, one commit.
    // The rows are locked in id order first, so two batches over the same approvals wait for
    // each other instead of deadlocking; the UPDATE then re-checks 'pending' on the locked rows.
    transitionApprovals: `
      WITH t AS (
        SELECT * FROM ROWS FROM (jsonb_to_recordset($1::jsonb) AS (
          id text, status text, decided_at bigint, decided_by text, denial_reason text,
          at bigint, event text, actor text, ip text, user_agent text, outbox jsonb)) WITH ORDINALITY AS t
      ), locked AS (
        SELECT a.id FROM ${s}.approvals a JOIN t ON a.id = t.id
        WHERE a.status = 'pending'
        ORDER BY a.id
        FOR NO KEY UPDATE OF a
      ), upd AS (
        UPDATE ${s}.approvals a SET status = t.status, decided_at = t.decided_at, decided_by = t.decided_by, denial_reason = t.denial_reason
        FROM t, locked
        WHERE a.id = t.id AND a.id = locked.id AND a.status = 'pending'
        RETURNING a.*
      ), au AS (
        INSERT INTO ${s}.audit (approval_id, at, event, actor, ip, user_agent)
        SELECT t.id, t.at, t.event, t.actor, t.ip, t.user_agent FROM upd JOIN t ON t.id = upd.id
        ORDER BY t.ordinality
      ), ob AS (
        INSERT INTO ${s}.outbox (id, account_id, topic, type, subject_id, target, state, attempts, next_attempt_at, created_at, last_error, purge_at)
        SELECT m.id, m.account_id, m.topic, m.type, m.subject_id, m.target, m.state, m.attempts, m.next_attempt_at, m.created_at, m.last_error, m.purge_at
        FROM upd JOIN t ON t.id = upd.id, ROWS FROM (jsonb_to_recordset(t.outbox) AS (${OUTBOX_JSON_COLUMNS})) WITH ORDINALITY AS m
        ORDER BY t.ordinality, m.ordinality
      )
      SELECT upd.*, pg_notify($2::text, upd.id) IS NULL AS notified FROM upd`,
    approvalsById: `SELECT * FROM ${s}.approvals WHERE id = ANY($1::text[])`,
    dueApprovals: `
      SELECT * FROM ${s}.approvals
      WHERE status = 'pending' AND expires_at <= $1::bigint
      ORDER BY expires_at, id
      LIMIT $2::int
      FOR UPDATE SKIP LOCKED`,
    listAudit: `SELECT * FROM ${s}.audit WHERE approval_id = $1::text ORDER BY seq`,
    claimOutbox: `
      WITH picked AS (
        SELECT id, available_at FROM ${s}.outbox
        WHERE state = 'pending' AND available_at <= $1::bigint
        ORDER BY available_at, seq
        LIMIT $2::int
        FOR UPDATE SKIP LOCKED
      )
      UPDATE ${s}.outbox o SET lease = $3::text, lease_until = $4::bigint
      FROM picked WHERE o.id = picked.id
      RETURNING o.*, picked.available_at AS claimed_at`,
    settleOutbox: `
      UPDATE ${s}.outbox
      SET state = $3::text, attempts = $4::int, next_attempt_at = coalesce($5::bigint, next_attempt_at), last_error = $6::text, lease = NULL, lease_until = 0
      WHERE id = $1::text AND lease = $2::text AND state = 'pending'`,
    listOutbox: `SELECT * FROM ${s}.outbox WHERE subject_id = $1::text ORDER BY seq`,
    // Adds to every window that still has room; a window without room yields no row,
    // and the caller then rolls the whole consume back. The row lock taken by
    // ON CONFLICT makes the check-and-add atomic per window; ORDER BY fixes the lock order.
    consumeQuota: `
      INSERT INTO ${s}.counters AS c (account_id, action, window_key, used, expires_at)
      SELECT $1::text, $2::text, w.key, $3::bigint, w.expires_at
      FROM unnest($4::text[], $5::bigint[], $6::bigint[]) AS w(key, lim, expires_at)
      WHERE $3::bigint <= w.lim
      ORDER BY w.key
      ON CONFLICT (account_id, action, window_key) DO UPDATE SET used = c.used + EXCLUDED.used
      WHERE c.used + EXCLUDED.used <= ($5::bigint[])[array_position($4::text[], c.window_key)]
      RETURNING window_key, used`,
    readCounters: `SELECT window_key, used FROM ${s}.counters WHERE account_id = $1::text AND action = $2::text AND window_key = ANY($3::text[])`,
    refundQuota: `
      UPDATE ${s}.counters c SET used = greatest(0, c.used - $3::bigint)
      FROM (
        SELECT window_key FROM ${s}.counters
        WHERE account_id = $1::text AND action = $2::text AND window_key = ANY($4::text[])
        ORDER BY window_key
        FOR UPDATE
      ) l
      WHERE c.account_id = $1::text AND c.action = $2::text AND c.window_key = l.window_key`,
    readAccountState: `
      SELECT
        (SELECT coalesce(jsonb_agg(jsonb_build_array(action, window_key, used)), '[]'::jsonb)
           FROM ${s}.counters
          WHERE account_id = $1::text AND action = ANY($2::text[]) AND window_key = ANY($3::text[])) AS counters,
        h.healthy, h.consecutive_failures, h.disabled_urls
      FROM (VALUES (1)) AS one (x)
      LEFT JOIN ${s}.endpoint_health h ON h.account_id = $1::text`,
    recordSuccess: `
      INSERT INTO ${s}.endpoint_health AS h (account_id, healthy, consecutive_failures, disabled_urls) VALUES ($1::text, true, 0, '{}')
      ON CONFLICT (account_id) DO UPDATE SET healthy = true, consecutive_failures = 0
      RETURNING healthy, consecutive_failures, disabled_urls`,
    recordFailure: `
      INSERT INTO ${s}.endpoint_health AS h (account_id, healthy, consecutive_failures, disabled_urls) VALUES ($1::text, 1 < $2::int, 1, '{}')
      ON CONFLICT (account_id) DO UPDATE SET consecutive_failures = h.consecutive_failures + 1, healthy = h.healthy AND h.consecutive_failures + 1 < $2::int
      RETURNING healthy, consecutive_failures, disabled_urls`,
    recordGone: `
      INSERT INTO ${s}.endpoint_health AS h (account_id, healthy, consecutive_failures, disabled_urls) VALUES ($1::text, false, 1, ARRAY[$2::text])
      ON CONFLICT (account_id) DO UPDATE SET healthy = false, consecutive_failures = h.consecutive_failures + 1,
        disabled_urls = CASE WHEN $2::text = ANY (h.disabled_urls) THEN h.disabled_urls ELSE array_append(h.disabled_urls, $2::text) END
      RETURNING healthy, consecutive_failures, disabled_urls`,
    // Undelivered outbox messages are kept past purgeAt: the dispatcher still owes them.
    purge: `
      WITH n AS (
        DELETE FROM ${s}.notifications WHERE id IN (
          SELECT id FROM ${s}.notifications WHERE purge_at <= $1::bigint ORDER BY purge_at LIMIT $2::int FOR UPDATE SKIP LOCKED)
        RETURNING 1
      ), a AS (
        DELETE FROM ${s}.approvals WHERE id IN (
          SELECT id FROM ${s}.approvals WHERE purge_at <= $1::bigint ORDER BY purge_at LIMIT $2::int FOR UPDATE SKIP LOCKED)
        RETURNING 1
      ), o AS (
        DELETE FROM ${s}.outbox WHERE id IN (
          SELECT id FROM ${s}.outbox WHERE state <> 'pending' AND purge_at <= $1::bigint ORDER BY purge_at LIMIT $2::int FOR UPDATE SKIP LOCKED)
        RETURNING 1
      ), c AS (
        DELETE FROM ${s}.counters WHERE (account_id, action, window_key) IN (
          SELECT account_id, action, window_key FROM ${s}.counters WHERE expires_at <= $1::bigint ORDER BY expires_at LIMIT $2::int FOR UPDATE SKIP LOCKED)
        RETURNING 1
      )
      SELECT (SELECT count(*) FROM n) + (SELECT count(*) FROM a) + (SELECT count(*) FROM o) + (SELECT count(*) FROM c) AS removed`,
  } as const;

  /** Runs `work`, turning every failure into `STORE_UNAVAILABLE` (duplicates into `INTERNAL_ERROR` where asked). */
  async function call<T>(work: () => Promise<T>, duplicateIsMisuse = false): Promise<T> {
    try {
      return await work();
    } catch (err) {
      if (err instanceof TiergateError) throw err;
      if (duplicateIsMisuse && (err as { code?: unknown }).code === PG_UNIQUE_VIOLATION) {
        throw new TiergateError('INTERNAL_ERROR', `postgresStore: duplicate id (${String((err as { constraint?: unknown }).constraint ?? 'unique')})`, { cause: err });
      }
      throw storeUnavailable(err);
    }
  }

  // Every statement is sent as a named prepared statement, so each connection parses and plans it
  // once instead of on every call (the notification insert is a large CTE). The name is derived
  // from the text, which includes the schema: stores of several schemas can share one pool.
  const statementNames = new Map<string, string>();
  const named = (text: string, values: readonly unknown[]) => {
    let name = statementNames.get(text);
    if (name === undefined) {
      name = `tiergate_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`;
      statementNames.set(text, name);
    }
    return { name, text, values: values as unknown[] };
  };
  const query = (text: string, values: readonly unknown[]): Promise<QueryResult<Row>> => pool.query<Row>(named(text, values));

  /**
   * Runs `work` on one connection of the pool. If anything fails, the
   * connection is released with the error, so the pool destroys it and the
   * server rolls back whatever transaction it had open.
   */
  async function withClient<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    const held = await checkout(pool);
    try {
      const result = await work(held.client);
      held.release();
      return result;
    } catch (err) {
      held.release(err instanceof Error ? err : new Error(String(err)));
      throw err;
    }
  }

  const waiter = approvalWaiter({
    pool,
    channel,
    listen: options.listen ?? true,
    pollIntervalMs: options.pollIntervalMs ?? 1_000,
    idleMs: options.listenerIdleMs ?? 30_000,
    readStatus: async (id) => {
      const { rows } = await query(sql.approvalStatus, [id]);
      return rows[0] === undefined ? null : String(rows[0]['status']);
    },
  });

  const store = {
    kind: 'postgres' as const,
    schema,

    async migrate() {
      try {
        await withClient(async (client) => {
          await client.query('BEGIN');
          await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [migrationLockKey(schema)]);
          await client.query(migrationSql(schema, rateLimiterTable));
          await client.query('COMMIT');
        });
      } catch (err) {
        throw new TiergateError('STORE_UNAVAILABLE', `postgresStore: migration of schema "${schema}" failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
    },

    close: () => waiter.close(),

    createNotification({ notification: n, approval, audit, outbox }) {
      return call(async () => {
        const approvals = approval === undefined ? [] : [approval];
        const auditRows = approval === undefined || audit === undefined ? [] : [audit];
        await query(sql.createNotification, [
          n.id,
          n.accountId,
          n.issue,
          n.actionLabel,
          n.sealedContext,
          n.approvalId,
          n.linkId,
          JSON.stringify(n.account),
          n.createdAt,
          n.expiresAt,
          n.purgeAt,
          JSON.stringify(
            approvals.map((a) => ({
              id: a.id,
              account_id: a.accountId,
              notification_id: a.notificationId,
              action: a.action,
              reason: a.reason,
              urgency: a.urgency,
              callback_url: a.callbackUrl,
              sealed_secret: a.sealedSecret,
              status: a.status,
              created_at: a.createdAt,
              expires_at: a.expiresAt,
              decided_at: a.decidedAt,
              decided_by: a.decidedBy,
              denial_reason: a.denialReason,
              purge_at: a.purgeAt,
            })),
          ),
          JSON.stringify(
            auditRows.map((e) => ({ approval_id: (approval as ApprovalRecord).id, at: e.at, event: e.event, actor: e.actor, ip: e.ip, user_agent: e.userAgent })),
          ),
          outboxJson(outbox),
        ]);
      }, true);
    },

    getNotification(id) {
      return call(async () => {
        const { rows } = await query(sql.getNotification, [id]);
        return rows[0] === undefined ? null : notificationFromRow(rows[0]);
      });
    },

    getApproval(id) {
      return call(async () => {
        const { rows } = await query(sql.getApproval, [id]);
        return rows[0] === undefined ? null : approvalFromRow(rows[0]);
      });
    },

    transitionApproval({ id, patch, audit, outbox }) {
      return call(async () => {
        const { rows } = await query(sql.transitionApproval, [
          id,
          patch.status,
          patch.decidedAt,
          patch.decidedBy,
          patch.denialReason,
          audit.at,
          audit.event,
          audit.actor,
          audit.ip,
          audit.userAgent,
          outboxJson(outbox),
          channel,
        ]);
        if (rows[0] !== undefined) return { ok: true as const, approval: approvalFromRow(rows[0]) };
        // Lost the compare-and-set (or unknown id): read the current record in a fresh snapshot,
        // which includes the winner's commit.
        const current = await query(sql.getApproval, [id]);
        return { ok: false as const, approval: current.rows[0] === undefined ? null : approvalFromRow(current.rows[0]) };
      }, true);
    },

    transitionApprovals(inputs) {
      return call(async () => {
        checkTransitionBatch(inputs, 'postgres');
        if (inputs.length === 0) return [];
        const batch = JSON.stringify(
          inputs.map(({ id, patch, audit, outbox }) => ({
            id,
            status: patch.status,
            decided_at: patch.decidedAt,
            decided_by: patch.decidedBy,
            denial_reason: patch.denialReason,
            at: audit.at,
            event: audit.event,
            actor: audit.actor,
            ip: audit.ip,
            user_agent: audit.userAgent,
            outbox: outboxRows(outbox),
          })),
        );
        const { rows } = await query(sql.transitionApprovals, [batch, channel]);
        const won = new Map(rows.map((row) => [row.id as string, approvalFromRow(row)]));
        // The ones that lost their compare-and-set (or do not exist): read in a fresh snapshot,
        // which includes the winners' commits.
        const lost = inputs.filter((input) => !won.has(input.id)).map((input) => input.id);
        const current = new Map<string, ApprovalRecord>();
        if (lost.length > 0) for (const row of (await query(sql.approvalsById, [lost])).rows) current.set(row.id as string, approvalFromRow(row));
        return inputs.map(({ id }): TransitionResult => {
          const approval = won.get(id);
          return approval !== undefined ? { ok: true, approval } : { ok: false, approval: current.get(id) ?? null };
        });
      }, true);
    },

    dueApprovals(now, limit) {
      return call(async () => (await query(sql.dueApprovals, [now, limit])).rows.map(approvalFromRow));
    },

    listAudit(approvalId) {
      return call(async () => (await query(sql.listAudit, [approvalId])).rows.map(auditFromRow));
    },

    claimOutbox(now, limit, leaseMs) {
      return call(async () => {
        const lease = randomBytes(12).toString('base64url');
        const { rows } = await query(sql.claimOutbox, [now, limit, lease, now + leaseMs]);
        // RETURNING has no order: restore "earliest first".
        rows.sort((a, b) => Number(a['claimed_at']) - Number(b['claimed_at']) || Number(a['seq']) - Number(b['seq']));
        return rows.map((row): ClaimedMessage => ({ ...outboxFromRow(row), lease }));
      });
    },

    settleOutbox(id, lease, settlement) {
      return call(async () => {
        const nextAttemptAt = settlement.state === 'pending' ? settlement.nextAttemptAt : null;
        const lastError = settlement.state === 'delivered' ? null : settlement.lastError;
        const { rowCount } = await query(sql.settleOutbox, [id, lease, settlement.state, settlement.attempts, nextAttemptAt, lastError]);
        return rowCount === 1;
      });
    },

    listOutbox(subjectId) {
      return call(async () => (await query(sql.listOutbox, [subjectId])).rows.map(outboxFromRow));
    },

    consumeQuota({ accountId, action, amount, windows }) {
      return call(async () => {
        if (windows.length === 0) return { ok: true as const, used: [] };
        const values = [accountId, action, amount, windows.map((w) => w.key), windows.map((w) => w.limit), windows.map((w) => w.expiresAt)];
        const usedOf = (rows: readonly Row[]): Map<string, number> => new Map(rows.map((r) => [String(r['window_key']), Number(r['used'])]));
        return withClient(async (client) => {
          // One window: the statement alone is atomic. Several: all or none, in one transaction.
          const several = windows.length > 1;
          if (several) await client.query('BEGIN');
          const added = usedOf((await client.query<Row>(named(sql.consumeQuota, values))).rows);
          if (added.size === windows.length) {
            if (several) await client.query('COMMIT');
            return { ok: true as const, used: windows.map((w) => added.get(w.key) ?? 0) };
          }
          if (several) await client.query('ROLLBACK');
          const current = usedOf((await client.query<Row>(named(sql.readCounters, [accountId, action, windows.map((w) => w.key)]))).rows);
          const used = windows.map((w) => current.get(w.key) ?? 0);
          let exceeded = windows.findIndex((w, i) => (used[i] as number) + amount > w.limit);
          // A concurrent refund may have made room since; report the window that refused.
          if (exceeded === -1) exceeded = Math.max(0, windows.findIndex((w) => !added.has(w.key)));
          return { ok: false as const, used, exceeded };
        });
      });
    },

    refundQuota({ accountId, action, amount, windowKeys }) {
      return call(async () => {
        if (windowKeys.length === 0) return;
        await query(sql.refundQuota, [accountId, action, amount, [...windowKeys]]);
      });
    },

    readAccountState(accountId, actions, windowKeys) {
      return call(async () => {
        const [dayKey, monthKey] = windowKeys;
        const { rows } = await query(sql.readAccountState, [accountId, [...actions], [dayKey, monthKey]]);
        const row = rows[0];
        const counters = (row?.['counters'] as [string, string, number][] | undefined) ?? [];
        const usage: Record<string, readonly [number, number]> = {};
        for (const name of actions) {
          const of = (key: string): number => Number(counters.find(([a, k]) => a === name && k === key)?.[2] ?? 0);
          usage[name] = [of(dayKey), of(monthKey)];
        }
        return { usage, health: healthFromRow(row) };
      });
    },

    recordDelivery(accountId, outcome, url, threshold) {
      return call(async () => {
        const { rows } =
          outcome === 'success'
            ? await query(sql.recordSuccess, [accountId])
            : outcome === 'failure'
              ? await query(sql.recordFailure, [accountId, threshold])
              : await query(sql.recordGone, [accountId, url]);
        return healthFromRow(rows[0]);
      });
    },

    rateLimiter({ keyPrefix, points, durationSeconds }) {
      const name = `${keyPrefix}\u0000${points}\u0000${durationSeconds}`;
      let limiter = limiters.get(name);
      if (limiter === undefined) {
        limiter = rateLimiterFrom(
          new RateLimiterPostgres({
            storeClient: pool,
            storeType: 'pool',
            schemaName: schema,
            tableName: rateLimiterTable,
            tableCreated: true,
            keyPrefix,
            points,
            duration: durationSeconds,
          }),
          points,
        );
        limiters.set(name, limiter);
      }
      return limiter;
    },

    waitForApproval(id, timeoutMs, signal) {
      return waiter.wait(id, timeoutMs, signal);
    },

    purge(now, limit) {
      return call(async () => {
        const { rows } = await query(sql.purge, [now, limit]);
        return Number(rows[0]?.['removed'] ?? 0);
      });
    },
  } satisfies Store & Omit<PostgresStore, keyof Store>;

  return store;
}
