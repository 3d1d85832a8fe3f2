// Part 5, run as a child process with --expose-gc: RSS of memoryStore() per
// 100k notifications, and back near the baseline once they have expired and
// been purged. Time is injected (a clock the worker moves), as in the tests.
// Config (JSON in BENCH_MEMORY): { count, cycles }. Writes one JSON line to stdout.
import { apiKeyAuthenticator, createTiergate, memoryStore } from '@tiergate/core';

const config = JSON.parse(process.env.BENCH_MEMORY ?? '{}');
const COUNT = config.count ?? 100_000;
const CYCLES = config.cycles ?? 3;
const DAY = 86_400_000;
let now = Date.parse('2026-01-15T12:00:00.000Z');
const clock = { now: () => now };

const MB = 2 ** 20;
function settle() {
  for (let i = 0; i < 4; i += 1) globalThis.gc();
  const m = process.memoryUsage();
  return { rssMB: m.rss / MB, heapMB: m.heapUsed / MB };
}

const accounts = Array.from({ length: 64 }, (_, i) => ({ apiKey: `bench-free-${i}-4f9a1c2e8b7d6a5f`, account: { id: `acc_free_${i}`, tier: 'free' } }));
const store = memoryStore();
const tiergate = createTiergate({
  authenticate: apiKeyAuthenticator(accounts),
  secret: 'bench-memory-secret-0123456789abcdef-0123456789',
  publicUrl: 'http://127.0.0.1:3000',
  store,
  clock,
  notifyRateLimit: { points: 1_000_000_000, durationSeconds: 3600 },
  logger: { debug() {}, info() {}, warn() {}, error: (m, f) => console.error(m, f) },
});

async function notify(n) {
  for (let i = 0; i < n; i += 1) {
    await tiergate.notifyOperator(accounts[i % accounts.length].account, {
      issue: `I need to send receipt #${i} to a customer, but this account is on the free tier.`,
      context: { customer_id: `cus_${i}`, attempted_action: 'send_messages', recipients: 1 },
    });
  }
}

async function expireAll() {
  // Past expiry (7 days) and retention (30 days): everything may go.
  now += 40 * DAY;
  let total = 0;
  for (;;) {
    const { purged } = await tiergate.sweep();
    total += purged;
    if (purged === 0) break;
  }
  return total;
}

// Warm-up: the code, the caches of links and capabilities, the limiter.
await notify(5_000);
await expireAll();
const baseline = settle();
const cycles = [];
for (let c = 0; c < CYCLES; c += 1) {
  await notify(COUNT);
  const filled = settle();
  const sizes = store.size();
  const purged = await expireAll();
  const expired = settle();
  cycles.push({ filled, expired, purged, stored: sizes.notifications, left: store.size() });
}
process.stdout.write(`${JSON.stringify({ count: COUNT, baseline, cycles })}\n`);
