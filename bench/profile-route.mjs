#!/usr/bin/env node
// Loads one or more routes of the bench server for a while, for profiling:
//   BENCH_CPU_PROF=/tmp/prof node bench/profile-route.mjs fastify 'GET /v1/capabilities' [seconds=8] [rounds=1]
// then `node bench/profile-summary.mjs /tmp/prof/<file>.cpuprofile`.
// Route names are those of part 2 (bench/parts/http.mjs), plus 'notifyOperator() in a plain route'
// (Fastify); several may be given, separated by ';'. Part 3's routes: `node bench/profile-route.mjs fastify-guard
// 'requireCapability(consume: 1);@fastify/rate-limit'`.
import { appRoutes, checkAppRoutes, pickRoutes } from './parts/http.mjs';
import { guardRoutes } from './parts/guard.mjs';
import { measureRoutes, ratio } from './lib/load.mjs';
import { startServer } from './lib/server-process.mjs';
import { fmt } from './lib/stats.mjs';

const [target = 'fastify', names = 'GET /v1/capabilities', seconds = '8', reps = '1'] = process.argv.slice(2);
const guard = target.endsWith('-guard');
const framework = guard ? target.slice(0, -'-guard'.length) : target;
const server = await startServer({ framework, mode: guard ? 'guard' : 'app', store: { kind: 'memory' }, pages: 64 });
try {
  if (!guard) await checkAppRoutes(server);
  const all = guard
    ? guardRoutes(server, framework)
    : {
        ...appRoutes(server),
        // Fastify only: the service's notifyOperator() from a plain route, without tiergate's HTTP kernel.
        'notifyOperator() in a plain route': { ...appRoutes(server)['POST /v1/notify-operator'], path: '/bench/notify-direct' },
      };
  const chosen = Object.fromEntries(pickRoutes(all, names));
  const m = await measureRoutes(server, chosen, { warmupSeconds: 1, seconds: Number(seconds), reps: Number(reps) });
  const [first] = Object.values(m);
  for (const [name, s] of Object.entries(m)) {
    // With several routes: each one ÷ the first, in req/s and in server CPU (medians of the per-round ratios).
    const against = s === first ? '' : `; ÷ first ${fmt(ratio(s, first), 2)} (req/s), ${fmt(ratio(s, first, { by: 'cpu' }), 2)} (server CPU)`;
    console.log(`${framework} ${name}: ${fmt(s.rps, 0)} req/s, ${fmt(s.cpuPerRequestUs, 1)} µs CPU/req (GC pauses ${fmt(s.gcPerRequestUs, 1)} µs/req), sleeps/req server ${fmt(s.serverSleepsPerRequest, 2)} / load generator ${fmt(s.loadSleepsPerRequest, 2)}, failed ${s.failed}${against}`);
  }
} finally {
  await server.close();
}
