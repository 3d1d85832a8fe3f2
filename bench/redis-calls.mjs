#!/usr/bin/env node
// What `redisStore()` adds to each Redis call it makes (its guard: readiness, a timeout, error mapping;
// fix 41): the client's CPU time per call, 50 callers at once on one ioredis client, for a bare call and
// the same call through the store, side by side:
//   - `client.get(key)` against `store.getNotification(id)` (a GET of a missing key either way);
//   - rate-limiter-flexible's `RateLimiterRedis.consume()` against the store's `rateLimiter().consume()`
//     (the same limiter inside; what every notify-operator request spends on its rate limit).
// Rounds alternate the ways; medians over the rounds. Not part of `npm run bench`.
//   node bench/redis-calls.mjs [calls per way and round = 40000] [rounds = 7]
// Uses REDIS_URL (default redis://127.0.0.1:6379), database BENCH_REDIS_DB (default 14), a fresh key
// prefix, removed afterwards.
import { Redis } from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import { redisStore } from '@tiergate/redis';
import { REDIS_DB, REDIS_URL, removeRedisPrefix, runId } from './lib/services.mjs';
import { median } from './lib/stats.mjs';

const [calls = '40000', rounds = '7'] = process.argv.slice(2);
const CALLERS = 50;
const prefix = `tiergate-bench:${runId()}:`;
const client = new Redis(REDIS_URL, { db: REDIS_DB, maxRetriesPerRequest: 1, enableOfflineQueue: false });
await new Promise((resolve, reject) => {
  client.once('ready', resolve);
  client.once('error', reject);
});
const store = redisStore({ client, keyPrefix: prefix });
const LIMIT = { points: 1_000_000_000, duration: 3600 };
const bareLimiter = new RateLimiterRedis({ storeClient: client, keyPrefix: `${prefix}bare-rl`, ...LIMIT });
const storeLimiter = store.rateLimiter({ keyPrefix: 'calls', points: LIMIT.points, durationSeconds: LIMIT.duration });

const pairs = [
  ['GET', () => client.get(`${prefix}n:missing`), () => store.getNotification('missing')],
  ['rate-limit consume', () => bareLimiter.consume('acc_calls'), () => storeLimiter.consume('acc_calls')],
];

/** CPU µs per call of `call`, `CALLERS` at once. */
async function cpuPerCall(call) {
  const n = Number(calls);
  let started = 0;
  const before = process.cpuUsage();
  await Promise.all(
    Array.from({ length: CALLERS }, async () => {
      while (started++ < n) await call();
    }),
  );
  const used = process.cpuUsage(before);
  return (used.user + used.system) / n;
}

try {
  const samples = pairs.map(() => ({ bare: [], store: [] }));
  // Warm-up: both ways of each pair, so the JIT has seen them.
  for (const [, bare, viaStore] of pairs) {
    await cpuPerCall(bare);
    await cpuPerCall(viaStore);
  }
  for (let round = 0; round < Number(rounds); round++) {
    for (const [i, [, bare, viaStore]] of pairs.entries()) {
      samples[i].bare.push(await cpuPerCall(bare));
      samples[i].store.push(await cpuPerCall(viaStore));
    }
  }
  console.log(`| call | bare (µs CPU) | through redisStore (µs CPU) | added |`);
  console.log(`|---|--:|--:|--:|`);
  for (const [i, [name]] of pairs.entries()) {
    const bare = median(samples[i].bare);
    const viaStore = median(samples[i].store);
    console.log(`| ${name} | ${bare.toFixed(2)} | ${viaStore.toFixed(2)} | ${(viaStore - bare).toFixed(2)} |`);
  }
  console.log(`\n${calls} calls per way and round, ${CALLERS} at once, ${rounds} rounds; medians.`);
} finally {
  await store.close();
  client.disconnect();
  await removeRedisPrefix(prefix, false);
}
