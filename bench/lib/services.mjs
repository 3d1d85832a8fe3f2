// PostgreSQL and Redis for the store parts: found (never started) and cleaned up.
import { randomBytes } from 'node:crypto';

export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
/** Redis database the bench writes to (a fresh key prefix inside it; flushed only if it was empty before). */
export const REDIS_DB = Number(process.env.BENCH_REDIS_DB ?? 14);

/** A short random suffix for schema names and key prefixes. */
export const runId = () => randomBytes(4).toString('hex');

/** Whether PostgreSQL answers (3 s), and its version. */
export async function probePostgres() {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: DATABASE_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    const { rows } = await client.query('SHOW server_version');
    return { ok: true, version: rows[0].server_version };
  } catch (err) {
    return { ok: false, reason: err instanceof Error ? err.message : String(err) };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Whether Redis answers (3 s), its version and whether the bench database is empty. */
export async function probeRedis() {
  const { Redis } = await import('ioredis');
  const client = new Redis(REDIS_URL, { db: REDIS_DB, lazyConnect: true, connectTimeout: 3000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const info = await client.info('server');
    const size = await client.dbsize();
    return { ok: true, version: /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown', emptyDb: size === 0 };
  } catch (err) {
    return { ok: false, reason: err instanceof Error ? err.message : String(err) };
  } finally {
    client.disconnect();
  }
}

/** Drops a bench schema. */
export async function dropSchema(schema) {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: DATABASE_URL, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

/**
 * Removes a bench key prefix: FLUSHDB of the bench database when it was empty
 * before the run (nothing else lives there), otherwise SCAN + UNLINK of the prefix.
 */
export async function removeRedisPrefix(prefix, dbWasEmpty) {
  const { Redis } = await import('ioredis');
  const client = new Redis(REDIS_URL, { db: REDIS_DB, maxRetriesPerRequest: 1 });
  try {
    if (dbWasEmpty) {
      // Only our keys can be there: check a sample before flushing, to be safe.
      const [, sample] = await client.scan('0', 'COUNT', 1000);
      if (sample.every((key) => key.startsWith(prefix))) {
        await client.flushdb('ASYNC');
        return;
      }
    }
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 5000);
      cursor = next;
      if (keys.length > 0) await client.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    client.disconnect();
  }
}
