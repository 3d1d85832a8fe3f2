// Part 4: the stores. notify-operator and a decision over HTTP (Fastify) on
// memory, PostgreSQL and Redis; then how the expiry sweep and the outbox scan
// cost grow with the number of stored approvals (10k → 1M).
import { measureRoutes, ratio } from '../lib/load.mjs';
import { startServer } from '../lib/server-process.mjs';
import { DATABASE_URL, REDIS_DB, REDIS_URL, dropSchema, removeRedisPrefix, runId } from '../lib/services.mjs';
import { onInterrupt } from '../lib/cleanup.mjs';
import { runWorker } from '../lib/worker.mjs';
import { fmt, fmtRatio } from '../lib/stats.mjs';
import { COLUMNS, NOTIFY_BODY, checkRoute, row } from './http.mjs';

const JSON_HEADERS = { 'content-type': 'application/json' };
/** The bare POST plus what the contract requires of any notify-operator on the store (see the caption). */
const FLOOR = "bare POST + the contract's minimum (floor)";
const FORM_HEADERS = { 'content-type': 'application/x-www-form-urlencoded' };

/**
 * A fresh place in each store for one use, and how to remove it (also on Ctrl-C: bench/lib/cleanup.mjs).
 * `services.redis.emptyDb`: the bench's Redis database held nothing before the run (then it is flushed).
 */
export function placeFor(kind, services) {
  const place = placeOf(kind, services);
  const forget = onInterrupt(place.cleanup);
  return {
    spec: place.spec,
    async cleanup() {
      forget();
      await place.cleanup();
    },
  };
}

function placeOf(kind, services) {
  const id = runId();
  // (The scale worker adds a reference store in `<schema>_ref` / `<prefix>ref:`: removed here too.)
  if (kind === 'postgres') return { spec: { kind, url: DATABASE_URL, schema: `bench_${id}` }, cleanup: async () => Promise.all([dropSchema(`bench_${id}`), dropSchema(`bench_${id}_ref`)]) };
  if (kind === 'redis') {
    const prefix = `tiergate-bench:${id}:`;
    return { spec: { kind, url: REDIS_URL, db: REDIS_DB, prefix }, cleanup: () => removeRedisPrefix(prefix, services.redis.emptyDb) };
  }
  return { spec: { kind: 'memory' }, cleanup: async () => undefined };
}

async function httpOnStore(kind, services, load, decisions) {
  const place = placeFor(kind, services);
  let server;
  try {
    server = await startServer({ framework: 'fastify', mode: 'app', store: place.spec, pages: 0 });
    const keys = server.keys.free;
    const routes = {
      'bare POST': { method: 'POST', path: '/bench/post', headers: JSON_HEADERS, body: NOTIFY_BODY, keys },
      [FLOOR]: { method: 'POST', path: '/bench/post-floor', headers: JSON_HEADERS, body: NOTIFY_BODY, keys },
      'POST /v1/notify-operator': { method: 'POST', path: '/v1/notify-operator', headers: JSON_HEADERS, body: NOTIFY_BODY, keys },
      'POST /operator/action (approve)': { method: 'POST', path: '/operator/action', headers: FORM_HEADERS, oneShot: true, prepare: () => server.approvals(decisions) },
    };
    await checkRoute(server, routes['bare POST'], 201);
    await checkRoute(server, routes[FLOOR], 201);
    await checkRoute(server, routes['POST /v1/notify-operator'], 201);
    const [body] = await server.approvals(1);
    await checkRoute(server, { method: 'POST', path: '/operator/action', headers: FORM_HEADERS, body }, 200);
    await checkRoute(server, { method: 'POST', path: '/operator/action', headers: FORM_HEADERS, body }, 409);
    return await measureRoutes(server, routes, load);
  } finally {
    await server?.close();
    await place.cleanup();
  }
}

async function scaleOnStore(kind, services, levels, samples) {
  const place = placeFor(kind, services);
  try {
    const nodeArgs = kind === 'memory' ? ['--max-old-space-size=8192'] : [];
    return await runWorker('scale-worker.mjs', { nodeArgs, env: { BENCH_SCALE: JSON.stringify({ ...place.spec, levels, samples }) } });
  } finally {
    await place.cleanup();
  }
}

export async function runStores({ load, quick, services }) {
  const kinds = ['memory'];
  const notes = [];
  if (services.postgres.ok) kinds.push('postgres');
  else notes.push(`PostgreSQL not measured: ${services.postgres.reason} (set DATABASE_URL).`);
  if (services.redis.ok) kinds.push('redis');
  else notes.push(`Redis not measured: ${services.redis.reason} (set REDIS_URL).`);

  // HTTP: notify-operator and a decision on each store.
  const decisions = quick ? 1000 : 3000;
  const rows = [];
  const targets = [];
  for (const kind of kinds) {
    const m = await httpOnStore(kind, services, load, decisions);
    const bare = m['bare POST'];
    rows.push(row(kind, 'bare POST', bare));
    rows.push(row(kind, FLOOR, m[FLOOR], bare));
    rows.push(row(kind, 'POST /v1/notify-operator', m['POST /v1/notify-operator'], bare));
    rows.push(row(kind, 'POST /operator/action (approve)', m['POST /operator/action (approve)'], bare));
    if (kind !== 'memory') {
      const notify = m['POST /v1/notify-operator'];
      const floor = m[FLOOR];
      const measured = ratio(notify, bare);
      targets.push({
        part: 'stores',
        name: `${kind}: POST /v1/notify-operator ÷ bare POST (Fastify)`,
        measured: fmtRatio(measured, 0.3),
        required: '≥ 0.30',
        pass: notify.failed === 0 && measured >= 0.3,
        note: `the contract's minimum on ${kind} (floor): ${fmt(ratio(floor, bare), 2)} of the bare POST; notify-operator ÷ floor: ${fmt(ratio(notify, floor), 2)}`,
      });
    }
  }

  // Scale: sweep and outbox scan from 10k to 1M stored approvals.
  const levels = quick ? [10_000, 100_000] : [10_000, 100_000, 1_000_000];
  const samples = quick ? 7 : 15;
  const scaleRows = [];
  for (const kind of kinds) {
    // The memory store answers in ~0.1 ms, where one GC pause moves a sample: take more of them.
    const result = await scaleOnStore(kind, services, levels, kind === 'memory' ? samples * 4 : samples);
    const first = result.levels[0];
    for (const level of result.levels) {
      scaleRows.push([
        kind,
        level.stored.toLocaleString('en-US'),
        fmt(level.sweepMs, 3),
        fmt(level.sweepMs / first.sweepMs, 2),
        fmt(level.sweepVsReference, 2),
        fmt(level.probeMs, 3),
        fmt(level.claimMs, 3),
        fmt(level.claimMs / first.claimMs, 2),
        fmt(level.claimVsReference, 2),
        fmt(level.fillMs / 1000, 1),
      ]);
    }
    const last = result.levels.at(-1);
    for (const [what, key, paired, reference] of [
      ['expiry sweep', 'sweepMs', 'sweepVsReference', 'referenceSweepMs'],
      ['outbox scan (claim)', 'claimMs', 'claimVsReference', 'referenceClaimMs'],
    ]) {
      const growth = last[paired];
      targets.push({
        part: 'stores',
        name: `${kind}: ${what} cost, ${last.stored.toLocaleString('en-US')} ÷ ${result.reference.toLocaleString('en-US')} stored approvals`,
        measured: `${fmt(growth, 2)}×`,
        required: '≤ 1.5×',
        pass: growth <= 1.5,
        note: `side by side: ${fmt(last[key], 3)} ms vs ${fmt(last[reference], 3)} ms (the ${result.reference.toLocaleString('en-US')} store); against the first level, minutes earlier: ${fmt(first[key], 3)} ms → ${fmt(last[key], 3)} ms, ${fmt(last[key] / first[key], 2)}×`,
      });
    }
  }
  if (quick) notes.push('BENCH_QUICK: the scale test stops at 100k stored approvals.');

  return {
    title: '4. Stores',
    tables: [
      {
        title: 'notify-operator and a decision on each store (Fastify)',
        columns: ['store', ...COLUMNS.slice(1)],
        rows,
        caption: `Same server setup as part 2 with the store swapped (PostgreSQL pool of 16, ioredis client as the store README recommends). A decision is a POST of the operator page's form (token + anti-forgery token) on a fresh pending approval: ${decisions.toLocaleString('en-US')} approvals per run, each decided once. The notify-operator rate limit is raised for the run (the limiter still runs on the store's backend). "${FLOOR}" is the bare POST plus what the wire contract and DESIGN require of any notify-operator on that store, written directly on node:crypto, zod, rate-limiter-flexible and the store's client with none of tiergate's code: the account found by its API key's SHA-256, the body validated with zod, one rate-limit point taken on the store's backend (DESIGN: rate limits use rate-limiter-flexible), the context sealed with AES-256-GCM (security rule 5), one operator link signed (HS256 JWT with the claims rule 3 pins), the record kept with one write (memory: a Map; PostgreSQL: an INSERT into a two-column table; Redis: a SET with expiry), and an answer of the same fields and size.`,
      },
      {
        title: 'Expiry sweep and outbox scan against stored approvals',
        columns: ['store', 'stored approvals', 'sweep ms', 'sweep vs first level', `sweep vs ${levels[0].toLocaleString('en-US')}, side by side`, 'due-index probe ms', 'outbox claim ms', 'claim vs first level', `claim vs ${levels[0].toLocaleString('en-US')}, side by side`, 'fill s'],
        rows: scaleRows,
        caption: `Stored: half pending (deadlines 1 h – 7 days ahead), half decided, each with its notification, audit entry and one outbox message (90% delivered, 10% retrying later). Each sample: ${20} approvals past their deadline are added (untimed), then the sweep (due-index query, the expiries as one \`transitionApprovals\` batch of compare-and-sets — half of them with their approval.expired callback — and the purge pass) is timed; the due-index probe is the query alone with nothing due; the outbox claim leases the ${20} due messages among all stored ones (they are put back untimed). Medians of ${samples} samples (${samples * 4} for the memory store). A second store of the same kind (its own schema or key prefix; for memory, a second memoryStore() in the same process) stays at ${levels[0].toLocaleString('en-US')} approvals for the whole run, and every sample times both stores back to back, in alternating order: "vs ${levels[0].toLocaleString('en-US')}, side by side" is the median of those per-sample ratios, which a drift of the machine between levels (filling 1M records takes minutes) does not move; the targets use it. "vs first level" compares medians taken minutes apart. PostgreSQL rows are bulk-inserted with generate_series, then VACUUM (ANALYZE) (and read back through the store), Redis and memory records through the store's own createNotification.`,
      },
    ],
    targets,
    notes,
  };
}
