/**
 * Shared set-up of the PostgreSQL tests: the database comes from
 * `DATABASE_URL`; every test file works in its own random schema and drops it
 * afterwards, so files run in parallel against one server.
 */
import { randomBytes } from 'node:crypto';
import { closedPort, serviceUrl } from '@tiergate/testing';
import pg from 'pg';
import { postgresStore, type PostgresStore, type PostgresStoreOptions } from '@tiergate/postgres';

/** The database under test, or undefined (tests skip, or fail with `TIERGATE_REQUIRE_SERVICES=1`). */
export const databaseUrl: string | undefined = process.env['DATABASE_URL'] || undefined;

/**
 * Reports a missing `DATABASE_URL`: a warning when tests may skip, a failing
 * test when `TIERGATE_REQUIRE_SERVICES=1`. Call at the top of each file.
 */
export function reportMissingDatabase(file: string): void {
  serviceUrl('DATABASE_URL', 'postgres://postgres@127.0.0.1:5432/test', file);
}

/** A random schema name for one test file or test. */
export function randomSchema(): string {
  return `tg_test_${randomBytes(6).toString('hex')}`;
}

/** A pool on the test database. Connection errors of idle clients are expected in fault tests, so they are swallowed. */
export function openPool(config: pg.PoolConfig = {}): pg.Pool {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 8, connectionTimeoutMillis: 5_000, ...config });
  pool.on('error', () => undefined);
  return pool;
}

/** Drops a schema and everything in it. */
export async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

/** A migrated store in a fresh schema with its own pool, and its cleanup. */
export async function openStore(options: Partial<PostgresStoreOptions> = {}, poolConfig: pg.PoolConfig = {}) {
  const schema = options.schema ?? randomSchema();
  const pool = options.pool ?? openPool(poolConfig);
  const store: PostgresStore = postgresStore({ ...options, pool, schema });
  await store.migrate();
  return {
    store,
    pool,
    schema,
    async cleanup() {
      await store.close();
      await pool.end();
      await dropSchema(schema);
    },
  };
}

/** A store whose pool points at a closed port. */
export async function unreachableStore() {
  const pool = new pg.Pool({ host: '127.0.0.1', port: await closedPort(), user: 'postgres', database: 'test', max: 2, connectionTimeoutMillis: 2_000 });
  pool.on('error', () => undefined);
  const store = postgresStore({ pool, schema: randomSchema() });
  return {
    store,
    async cleanup() {
      await store.close();
      await pool.end();
    },
  };
}
