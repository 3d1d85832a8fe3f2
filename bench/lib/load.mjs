// HTTP load with autocannon as a library (in this process; the server runs in a child).
import autocannon from 'autocannon';
import { sleepsSoFar } from './sleeps.mjs';
import { median } from './stats.mjs';

export const CONNECTIONS = 50;

/**
 * BENCH_SPIN_CLIENT=1 (for bench/profile-route.mjs; unset in `npm run bench`): the load generator's event
 * loop never blocks while a route is loaded (a `setImmediate` chain keeps it polling), so the server's
 * writes never pay to wake it. What a route costs the server then, against the usual run, tells how much
 * of its live cost is wake-ups of the load generator rather than the server's own work (see NOTES.md).
 */
const SPIN_CLIENT = process.env.BENCH_SPIN_CLIENT === '1';

/**
 * Options of one route: `method`, `path`, `headers`, `body`; `keys` gives each
 * connection its own `Authorization` (one agent per connection); `paths`
 * cycles each connection through several URLs; `bodies` sends each body once
 * (with `amount`, for one-shot requests such as decisions).
 */
function autocannonOptions(server, route, run) {
  const headers = { ...(route.headers ?? {}) };
  const options = {
    url: server.url,
    connections: CONNECTIONS,
    pipelining: 1,
    method: route.method ?? 'GET',
    headers,
    ...(route.body === undefined ? {} : { body: route.body }),
    ...(run.amount === undefined ? { duration: run.seconds } : { amount: run.amount }),
  };
  if (route.paths !== undefined) {
    options.requests = route.paths.map((path) => ({ method: options.method, path, headers }));
  } else if (route.bodies !== undefined) {
    let next = 0;
    const bodies = route.bodies;
    options.requests = [
      {
        method: options.method,
        path: route.path,
        headers,
        setupRequest: (request) => ({ ...request, body: bodies[Math.min(next++, bodies.length - 1)] }),
      },
    ];
  } else {
    options.requests = [{ method: options.method, path: route.path, headers, ...(route.body === undefined ? {} : { body: route.body }) }];
  }
  if (route.keys !== undefined) {
    let client = 0;
    const keys = route.keys;
    options.setupClient = (c) => {
      if (route.paths === undefined && route.bodies === undefined) c.setHeaders({ ...headers, authorization: keys[client++ % keys.length] });
    };
  }
  return options;
}

/** One autocannon run against `route`, with the server's CPU time over it. */
export async function loadOnce(server, route, run) {
  const before = await server.cpu();
  const ownBefore = sleepsSoFar();
  let spinning = SPIN_CLIENT;
  const spin = () => {
    if (spinning) setImmediate(spin);
  };
  spin();
  const result = await autocannon(autocannonOptions(server, route, run));
  spinning = false;
  const ownAfter = sleepsSoFar();
  const after = await server.cpu();
  const seconds = (new Date(result.finish).getTime() - new Date(result.start).getTime()) / 1000;
  const ok = result['2xx'];
  const serverCpuMs = (after.cpuMicros - before.cpuMicros) / 1000;
  return {
    rps: ok / seconds,
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: result.requests.total,
    ok,
    failed: result.non2xx + result.errors + result.timeouts,
    cpuPerRequestUs: (serverCpuMs * 1000) / Math.max(1, result.requests.total),
    serverCpuShare: serverCpuMs / (after.at - before.at),
    gcPerRequestUs: ((after.gcMs - before.gcMs) * 1000) / Math.max(1, result.requests.total),
    serverSleepsPerRequest: (after.sleeps - before.sleeps) / Math.max(1, result.requests.total),
    loadSleepsPerRequest: (ownAfter - ownBefore) / Math.max(1, result.requests.total),
  };
}

/**
 * Median of several runs of one route. `failed` is the sum over the runs.
 * `rounds` keeps each run's req/s and CPU per request, in round order, for {@link ratio}.
 */
export function summarize(samples) {
  return {
    rounds: samples.map((s) => ({ rps: s.rps, cpuPerRequestUs: s.cpuPerRequestUs })),
    rps: median(samples.map((s) => s.rps)),
    p50: median(samples.map((s) => s.p50)),
    p99: median(samples.map((s) => s.p99)),
    cpuPerRequestUs: median(samples.map((s) => s.cpuPerRequestUs)),
    serverCpuShare: median(samples.map((s) => s.serverCpuShare)),
    gcPerRequestUs: median(samples.map((s) => s.gcPerRequestUs)),
    serverSleepsPerRequest: median(samples.map((s) => s.serverSleepsPerRequest)),
    loadSleepsPerRequest: median(samples.map((s) => s.loadSleepsPerRequest)),
    failed: samples.reduce((n, s) => n + s.failed, 0),
    requests: samples.reduce((n, s) => n + s.requests, 0),
    runs: samples.length,
  };
}

/**
 * Measures routes side by side: warms every route up once, then runs `reps`
 * rounds, each running every route once, back to back (A, B, C, A, B, C, …),
 * so that drift of a shared machine hits every route alike and {@link ratio}
 * can pair runs of the same round. Returns summaries by route name.
 */
export async function measureRoutes(server, routes, { warmupSeconds, seconds, reps }) {
  for (const route of Object.values(routes)) {
    if (route.oneShot) continue;
    await loadOnce(server, route, { seconds: warmupSeconds });
  }
  const samples = Object.fromEntries(Object.keys(routes).map((name) => [name, []]));
  for (let r = 0; r < reps; r += 1) {
    for (const [name, route] of Object.entries(routes)) {
      if (route.oneShot) {
        const bodies = await route.prepare();
        samples[name].push(await loadOnce(server, { ...route, bodies }, { amount: bodies.length }));
      } else {
        samples[name].push(await loadOnce(server, route, { seconds }));
      }
    }
  }
  return Object.fromEntries(Object.entries(samples).map(([name, list]) => [name, summarize(list)]));
}

/**
 * `route` ÷ `base` in req/s (or `base` ÷ `route` in server CPU per request, `by: 'cpu'`), paired by
 * round: the median of the per-round ratios. A round runs every route of the server once, back to
 * back, so the two runs of a pair are seconds apart and a drift of the machine between rounds
 * cancels out of each ratio (a ratio of two medians would mix runs minutes apart).
 */
export function ratio(route, base, { by = 'rps' } = {}) {
  const n = Math.min(route.rounds.length, base.rounds.length);
  const ratios = [];
  for (let i = 0; i < n; i += 1) {
    const r = route.rounds[i];
    const b = base.rounds[i];
    ratios.push(by === 'cpu' ? b.cpuPerRequestUs / r.cpuPerRequestUs : r.rps / b.rps);
  }
  return median(ratios);
}
