// Part 3: the guard. A host route protected by requireCapability('send_messages',
// { consume: 1 }) against the same route protected by @fastify/rate-limit and
// against the bare route (Fastify); Express and Koa guard against bare for reference.
import { measureRoutes, ratio } from '../lib/load.mjs';
import { startServer } from '../lib/server-process.mjs';
import { fmt, fmtRatio } from '../lib/stats.mjs';
import { SEND_BODY } from '../servers/guard-routes.mjs';
import { checkRoute, COLUMNS, row } from './http.mjs';

const JSON_HEADERS = { 'content-type': 'application/json' };

/** Part 3's routes on a guard-mode bench server (also used by bench/profile-route.mjs). */
export function guardRoutes(server, framework) {
  const keys = server.keys.volume;
  const route = (path) => ({ method: 'POST', path, headers: JSON_HEADERS, body: SEND_BODY, keys });
  const routes = { 'bare route': route('/send/bare'), 'requireCapability(consume: 1)': route('/send/guard') };
  if (framework === 'fastify') {
    routes['@fastify/rate-limit'] = route('/send/rate-limit');
    routes["the guard's minimum (floor)"] = route('/send/floor');
  }
  return routes;
}

export async function runGuard({ load, frameworks }) {
  const rows = [];
  const targets = [];
  const notes = [];
  for (const framework of frameworks) {
    const server = await startServer({ framework, mode: 'guard', store: { kind: 'memory' } });
    try {
      const routes = guardRoutes(server, framework);
      for (const r of Object.values(routes)) await checkRoute(server, r, 200);
      // The guard must refuse what it should: no key → 401 (so the numbers are of a working guard).
      await checkRoute(server, { ...routes['requireCapability(consume: 1)'], keys: undefined }, 401);
      const m = await measureRoutes(server, routes, load);
      const bare = m['bare route'];
      for (const [name, s] of Object.entries(m)) rows.push(row(framework, name, s, name === 'bare route' ? undefined : bare));
      if (framework === 'fastify') {
        const guard = m['requireCapability(consume: 1)'];
        const peer = m['@fastify/rate-limit'];
        const floor = m["the guard's minimum (floor)"];
        const measured = ratio(guard, peer);
        const valid = guard.failed === 0 && peer.failed === 0;
        targets.push({
          part: 'guard',
          name: 'fastify: requireCapability ÷ @fastify/rate-limit (same route)',
          measured: fmtRatio(measured, 1),
          required: '≥ 1.00',
          pass: valid && measured >= 1,
          note: `CPU/req ${fmt(guard.cpuPerRequestUs, 0)} µs vs ${fmt(peer.cpuPerRequestUs, 0)} µs; per round ${guard.rounds.map((r, i) => fmt(r.rps / peer.rounds[i].rps, 2)).join(', ')}; the guard's minimum (floor) ÷ @fastify/rate-limit: ${fmtRatio(ratio(floor, peer), 1)}; requireCapability ÷ floor: ${fmtRatio(ratio(guard, floor), 1)}`,
        });
      }
    } finally {
      await server.close();
    }
  }
  notes.push(
    'The guarded route authenticates the API key (SHA-256, then a map lookup of the hash), decides send_messages for the account and takes one unit of its day and month quota in the store, atomically; @fastify/rate-limit counts requests per Authorization header in its in-memory LRU. The accounts are on a host tier with a 10⁹/day send quota so no request is refused during the run.',
    "\"the guard's minimum (floor)\" is the least any guard of this route must do, in a Fastify preHandler with none of tiergate's code: find the account by its API key's SHA-256 (DESIGN: stores keep hashes of API keys, compared in constant time; the map lookup of the digest is that comparison) and take one unit of a per-account counter in a Map — no tiers, no second window, no context for the handler beyond the account.",
  );
  return {
    title: '3. The guard',
    tables: [{ columns: COLUMNS, rows, caption: `POST with a small JSON body; memory store; ${load.reps} rounds of ${load.seconds} s per route, back to back; medians, ratios paired by round (as in part 2).` }],
    targets,
    notes,
  };
}
