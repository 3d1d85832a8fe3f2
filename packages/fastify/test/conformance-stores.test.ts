// The HTTP conformance suite on the shared stores (PostgreSQL and Redis),
// through Fastify (the example server's default framework): the adapters never
// touch the store, so one framework is enough to check the HTTP behaviour that
// depends on it (LISTEN/NOTIFY and pub/sub long polls, the store's rate
// limiter, concurrent quota consumes, the outbox). Each test group gets its own
// random PostgreSQL schema or Redis key prefix, removed afterwards.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';
import { describe } from 'vitest';
import { postgresStore } from '@tiergate/postgres';
import { redisStore } from '@tiergate/redis';
import { runAdapterConformance, serviceUrl } from '@tiergate/testing';
import { startFastifyServer } from './conformance-server.js';

const databaseUrl = serviceUrl('DATABASE_URL', 'postgres://postgres@127.0.0.1:5432/test', 'fastify conformance on PostgreSQL');
const redisUrl = serviceUrl('REDIS_URL', 'redis://127.0.0.1:6379', 'fastify conformance on Redis');

/** A migrated PostgreSQL store in a fresh schema, dropped by `cleanup`. */
async function makePostgresStore() {
  const schema = `tg_conformance_${randomBytes(6).toString('hex')}`;
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 30, connectionTimeoutMillis: 5_000 });
  const store = postgresStore({ pool, schema });
  await store.migrate();
  return {
    store,
    async cleanup() {
      await store.close();
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await pool.end();
    },
  };
}

/** A Redis store under a fresh key prefix, whose keys `cleanup` deletes. */
async function makeRedisStore() {
  const keyPrefix = `tg-conformance-${randomBytes(6).toString('hex')}:`;
  const client = new Redis(redisUrl as string, { maxRetriesPerRequest: 1 });
  const store = redisStore({ client, keyPrefix });
  return {
    store,
    async cleanup() {
      await store.close();
      let cursor = '0';
      do {
        const [next, found] = await client.scan(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', 500);
        cursor = next;
        if (found.length > 0) await client.unlink(...found);
      } while (cursor !== '0');
      client.disconnect();
    },
  };
}


describe.skipIf(databaseUrl === undefined)('on PostgreSQL', () => {
  runAdapterConformance('fastify + postgres', startFastifyServer, { makeStore: makePostgresStore });
});

describe.skipIf(redisUrl === undefined)('on Redis', () => {
  runAdapterConformance('fastify + redis', startFastifyServer, { makeStore: makeRedisStore });
});
