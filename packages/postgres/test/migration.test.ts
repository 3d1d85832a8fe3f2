import { readFile } from 'node:fs/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrationSql, postgresStore } from '@tiergate/postgres';
import { databaseUrl, dropSchema, openPool, randomSchema, reportMissingDatabase } from './test-database.js';

reportMissingDatabase('migration.test.ts');

const sqlFile = new URL('../sql/001_init.sql', import.meta.url);

/** Tables, columns, indexes and constraints of a schema, with the schema name blanked out. */
async function catalogOf(pool: pg.Pool, schema: string) {
  const blank = (text: unknown) => String(text).replaceAll(`"${schema}"`, 'S').replaceAll(`${schema}.`, 'S.');
  const columns = await pool.query(
    `SELECT table_name, column_name, data_type, is_nullable, column_default, is_identity, is_generated, generation_expression
       FROM information_schema.columns WHERE table_schema = $1 ORDER BY table_name, ordinal_position`,
    [schema],
  );
  const indexes = await pool.query(`SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 ORDER BY indexname`, [schema]);
  const constraints = await pool.query(
    `SELECT c.conrelid::regclass::text AS tbl, c.conname, pg_get_constraintdef(c.oid) AS def
       FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = $1 ORDER BY 1, 2`,
    [schema],
  );
  return {
    columns: columns.rows,
    indexes: indexes.rows.map((r) => ({ name: r.indexname, def: blank(r.indexdef) })),
    constraints: constraints.rows.map((r) => ({ table: blank(r.tbl), name: r.conname, def: blank(r.def) })),
  };
}

describe.skipIf(databaseUrl === undefined)('migrations', () => {
  const schemas: string[] = [];
  let pool: pg.Pool;
  beforeAll(() => {
    pool = openPool({ max: 4 });
  });
  afterAll(async () => {
    await pool.end();
    for (const schema of schemas) await dropSchema(schema);
  });
  const schema = (): string => {
    const name = randomSchema();
    schemas.push(name);
    return name;
  };

  it('creates the schema with every table, and running it again changes nothing', async () => {
    const name = schema();
    const store = postgresStore({ pool, schema: name });
    await store.migrate();
    const first = await catalogOf(pool, name);
    expect([...new Set(first.columns.map((c) => c.table_name))].sort()).toEqual(
      ['approvals', 'audit', 'counters', 'endpoint_health', 'notifications', 'outbox', 'rate_limits', 'schema_migrations'].sort(),
    );
    expect(first.indexes.map((i) => i.name)).toEqual(expect.arrayContaining(['approvals_pending_due', 'outbox_pending_available']));
    await store.migrate();
    expect(await catalogOf(pool, name)).toEqual(first);
    const applied = await pool.query(`SELECT name FROM "${name}".schema_migrations`);
    expect(applied.rows).toEqual([{ name: '001_init' }]);
  });

  it('is safe when several instances migrate at once', async () => {
    const name = schema();
    const pools = [openPool({ max: 1 }), openPool({ max: 1 }), openPool({ max: 1 }), openPool({ max: 1 })];
    try {
      const outcomes = await Promise.allSettled(pools.map((p) => postgresStore({ pool: p, schema: name }).migrate()));
      expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled']);
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
    const reference = schema();
    await postgresStore({ pool, schema: reference }).migrate();
    expect(await catalogOf(pool, name)).toEqual(await catalogOf(pool, reference));
  });

  it('ships sql/001_init.sql, which is the default-schema migration and builds the same schema', async () => {
    const file = await readFile(sqlFile, 'utf8');
    expect(file).toBe(migrationSql());
    const fromFile = schema();
    await pool.query(file.replaceAll('"tiergate"', `"${fromFile}"`));
    const fromMigrate = schema();
    await postgresStore({ pool, schema: fromMigrate }).migrate();
    expect(await catalogOf(pool, fromFile)).toEqual(await catalogOf(pool, fromMigrate));
    // The store works on the schema the file built.
    const store = postgresStore({ pool, schema: fromFile });
    expect((await store.consumeQuota({ accountId: 'acc', action: 'send', amount: 1, windows: [{ key: 'd', limit: 1, expiresAt: 1 }] })).ok).toBe(true);
    expect((await store.rateLimiter({ keyPrefix: 'file', points: 1, durationSeconds: 60 }).consume('acc')).allowed).toBe(true);
  });

  it('refuses a schema name that is not a plain identifier', () => {
    expect(() => postgresStore({ pool, schema: 'Bad"; DROP TABLE x; --' })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    expect(() => migrationSql('tiergate', 'rate limits')).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });

  it('answers the sweep and the outbox claim from the partial indexes, not a table scan', async () => {
    const name = schema();
    await postgresStore({ pool, schema: name }).migrate();
    const s = `"${name}"`;
    // Many decided approvals and delivered messages, few pending ones: the shape of a long-running install.
    await pool.query(`
      INSERT INTO ${s}.approvals (id, account_id, notification_id, action, reason, urgency, status, created_at, expires_at, purge_at)
      SELECT 'apr_' || i, 'acc', 'not_' || i, 'bulk_send', 'r', 'low', CASE WHEN i % 500 = 0 THEN 'pending' ELSE 'approved' END, i, i, i + 1000000
      FROM generate_series(1, 50000) AS i`);
    await pool.query(`
      INSERT INTO ${s}.outbox (id, account_id, topic, type, subject_id, target, state, next_attempt_at, created_at, purge_at)
      SELECT 'msg_' || i, 'acc', 'callback', 'approval.granted', 'apr_' || i, 'https://x', CASE WHEN i % 500 = 0 THEN 'pending' ELSE 'delivered' END, i, i, i + 1000000
      FROM generate_series(1, 50000) AS i`);
    await pool.query(`ANALYZE ${s}.approvals; ANALYZE ${s}.outbox`);
    const plan = async (text: string) => JSON.stringify((await pool.query(`EXPLAIN (FORMAT JSON) ${text}`)).rows[0]['QUERY PLAN']);
    const due = await plan(`SELECT * FROM ${s}.approvals WHERE status = 'pending' AND expires_at <= 60000 ORDER BY expires_at, id LIMIT 100 FOR UPDATE SKIP LOCKED`);
    expect(due).toContain('approvals_pending_due');
    expect(due).not.toContain('Seq Scan');
    const claim = await plan(
      `SELECT id, available_at FROM ${s}.outbox WHERE state = 'pending' AND available_at <= 60000 ORDER BY available_at, seq LIMIT 32 FOR UPDATE SKIP LOCKED`,
    );
    expect(claim).toContain('outbox_pending_available');
    expect(claim).not.toContain('Seq Scan');
  });
});
