// Part 2: HTTP on Fastify, Koa and Express — tiergate's routes against a bare
// JSON GET and POST served by the same framework in the same process.
import { measureRoutes, ratio } from '../lib/load.mjs';
import { startServer } from '../lib/server-process.mjs';
import { fmt, fmtRatio, int } from '../lib/stats.mjs';

import { NOTIFY_BODY } from '../lib/in-process.mjs';

export { NOTIFY_BODY };
const JSON_HEADERS = { 'content-type': 'application/json' };

/** Fails loudly when a route does not answer as the benchmark assumes. */
export async function checkRoute(server, { method = 'GET', path, headers = {}, body, keys }, expectStatus, check) {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: { ...headers, ...(keys === undefined ? {} : { authorization: keys[0] }) },
    ...(body === undefined ? {} : { body }),
  });
  const text = await response.text();
  if (response.status !== expectStatus) throw new Error(`${method} ${path}: expected ${expectStatus}, got ${response.status}: ${text.slice(0, 300)}`);
  if (check !== undefined) check(text);
}

/** The routes of part 2 for one server. */
export function appRoutes(server) {
  const keys = server.keys.free;
  return {
    'bare GET': { path: '/bench/get', keys },
    // A free account's capabilities answer, exact bytes and headers, served as a fixed string: no work.
    'bare GET, capabilities bytes': { path: '/bench/capabilities', keys },
    // The same bytes after the contract's minimum: the key's SHA-256 lookup and a read of the account's usage.
    'capabilities floor': { path: '/bench/capabilities-floor', keys },
    'GET /v1/capabilities': { path: '/v1/capabilities', keys },
    // The same request bytes (the page's URL with its token) and the same response bytes and headers, no work.
    'bare GET, page bytes': { paths: server.pages.map((page) => `/bench/page${page.slice(page.indexOf('?'))}`) },
    'GET /operator/action': { paths: server.pages },
    'bare POST': { method: 'POST', path: '/bench/post', headers: JSON_HEADERS, body: NOTIFY_BODY, keys },
    'bare POST, 1.4 KB': { method: 'POST', path: '/bench/post-large', headers: JSON_HEADERS, body: NOTIFY_BODY, keys },
    'contract floor': { method: 'POST', path: '/bench/post-floor', headers: JSON_HEADERS, body: NOTIFY_BODY, keys },
    'POST /v1/notify-operator': { method: 'POST', path: '/v1/notify-operator', headers: JSON_HEADERS, body: NOTIFY_BODY, keys },
  };
}

/**
 * The routes named in `names` (separated by `;`), in that order, as [name, route] pairs taken from `all`;
 * an unknown name throws, listing the known ones. For the profiling scripts' command lines.
 */
export function pickRoutes(all, names) {
  return names.split(';').map((name) => {
    const route = all[name.trim()];
    if (route === undefined) throw new Error(`unknown route ${name}; choose from: ${Object.keys(all).join(', ')}`);
    return [name.trim(), route];
  });
}

export async function checkAppRoutes(server) {
  const routes = appRoutes(server);
  await checkRoute(server, routes['bare GET'], 200);
  await checkRoute(server, routes['bare POST'], 201);
  const answer = await (await fetch(`${server.url}/v1/capabilities`, { headers: { authorization: routes['GET /v1/capabilities'].keys[0] } })).text();
  await checkRoute(server, routes['bare GET, capabilities bytes'], 200, (text) => {
    if (text.length !== answer.length || !text.includes('"unlock_url"')) throw new Error(`the bare capabilities route does not serve a capabilities answer's bytes: ${text.slice(0, 200)}`);
  });
  await checkRoute(server, routes['capabilities floor'], 200, (text) => {
    if (text !== answer) throw new Error(`the capabilities floor does not answer the capabilities answer's bytes: ${text.slice(0, 200)}`);
  });
  await checkRoute(server, { ...routes['capabilities floor'], keys: ['Bearer not-a-key'] }, 401);
  await checkRoute(server, { path: routes['bare GET, page bytes'].paths[0] }, 200, (text) => {
    if (!text.includes('<html')) throw new Error('the bare page route serves no page');
  });
  await checkRoute(server, routes['GET /v1/capabilities'], 200, (text) => {
    const { result } = JSON.parse(text);
    const unlock = result.cannot.filter((c) => typeof c.unlock_url === 'string');
    if (result.tier !== 'free' || result.cannot.length !== 3 || unlock.length !== 3) throw new Error(`capabilities of a free account should have three cannot entries with unlock links: ${text}`);
  });
  await checkRoute(server, routes['POST /v1/notify-operator'], 201);
  await checkRoute(server, routes['contract floor'], 201, (text) => {
    if (!JSON.parse(text).result.operator_action_url.includes('token=')) throw new Error(`the floor route answers no link: ${text}`);
  });
  await checkRoute(server, { path: server.pages[0] }, 200, (text) => {
    if (!text.includes('<html')) throw new Error('operator page is not HTML');
  });
}

export function row(framework, name, m, bare) {
  return [
    framework,
    name,
    int(m.rps),
    fmt(m.p50, 0),
    fmt(m.p99, 0),
    fmt(m.cpuPerRequestUs, 0),
    bare === undefined ? '1 (bare)' : fmt(ratio(m, bare), 2),
    bare === undefined ? '1 (bare)' : fmt(ratio(m, bare, { by: 'cpu' }), 2),
    `${fmt(m.serverSleepsPerRequest, 2)} / ${fmt(m.loadSleepsPerRequest, 2)}`,
    m.failed === 0 ? '0' : `**${m.failed}**`,
  ];
}

export const COLUMNS = ['framework', 'route', 'req/s', 'p50 ms', 'p99 ms', 'server CPU µs/req', 'ratio to bare (req/s)', 'ratio to bare (server CPU)', 'sleeps/req: server / load gen.', 'non-2xx'];

export async function runHttp({ load, frameworks }) {
  const rows = [];
  const targets = [];
  const notes = [];
  for (const framework of frameworks) {
    const server = await startServer({ framework, mode: 'app', store: { kind: 'memory' }, pages: 64 });
    try {
      await checkAppRoutes(server);
      const m = await measureRoutes(server, appRoutes(server), load);
      const bareGet = m['bare GET'];
      const barePost = m['bare POST'];
      rows.push(row(framework, 'bare GET', bareGet));
      rows.push(row(framework, 'bare GET, capabilities\' bytes and headers', m['bare GET, capabilities bytes'], bareGet));
      rows.push(row(framework, 'bare GET + the contract\'s minimum for capabilities (floor)', m['capabilities floor'], bareGet));
      rows.push(row(framework, 'GET /v1/capabilities', m['GET /v1/capabilities'], bareGet));
      rows.push(row(framework, 'bare GET, operator page\'s bytes and headers', m['bare GET, page bytes'], bareGet));
      rows.push(row(framework, 'GET /operator/action', m['GET /operator/action'], bareGet));
      rows.push(row(framework, 'bare POST', barePost));
      rows.push(row(framework, 'bare POST, 1.4 KB body', m['bare POST, 1.4 KB'], barePost));
      rows.push(row(framework, 'bare POST + the contract\'s minimum (floor)', m['contract floor'], barePost));
      rows.push(row(framework, 'POST /v1/notify-operator', m['POST /v1/notify-operator'], barePost));
      const failed = Object.values(m).reduce((n, s) => n + s.failed, 0);
      const valid = failed === 0;
      // A `≥ min` target of this framework; a run with failed responses fails every target.
      const target = (name, value, min, note) =>
        targets.push({ part: 'http', name: `${framework}: ${name}`, measured: fmtRatio(value, min), required: `≥ ${fmt(min, 2)}`, pass: valid && value >= min, note });
      const of = (name, base) => fmt(ratio(m[name], base), 2);
      target('GET /v1/capabilities ÷ bare GET', ratio(m['GET /v1/capabilities'], bareGet), 0.8, `a bare GET of the answer's bytes and headers: ${of('bare GET, capabilities bytes', bareGet)} of the bare GET; capabilities ÷ that: ${of('GET /v1/capabilities', m['bare GET, capabilities bytes'])}; the contract's minimum (floor): ${of('capabilities floor', bareGet)}; capabilities ÷ floor: ${of('GET /v1/capabilities', m['capabilities floor'])}`);
      target('POST /v1/notify-operator ÷ bare POST (memory)', ratio(m['POST /v1/notify-operator'], barePost), 0.4, `a bare POST answering the same 1.4 KB: ${of('bare POST, 1.4 KB', barePost)} of the bare POST; the contract's minimum (floor): ${of('contract floor', barePost)}; notify-operator ÷ floor: ${of('POST /v1/notify-operator', m['contract floor'])}`);
      target('GET /operator/action ÷ bare GET', ratio(m['GET /operator/action'], bareGet), 0.35, `a bare GET of the page's bytes and headers: ${of('bare GET, page bytes', bareGet)} of the bare GET; the page ÷ that: ${of('GET /operator/action', m['bare GET, page bytes'])}`);
      if (!valid) notes.push(`${framework}: ${failed} responses were not 2xx; its targets are marked failed.`);
      const bareShare = bareGet.serverCpuShare;
      if (bareShare < 0.9) notes.push(`${framework}: the server used ${fmt(bareShare * 100, 0)}% of a core on the bare GET, so the load generator (one core) was the limit there; the ratios of that framework are then optimistic — compare the CPU µs/req column.`);
    } finally {
      await server.close();
    }
  }
  return {
    title: '2. HTTP (memory store)',
    tables: [
      {
        columns: COLUMNS,
        rows,
        caption: `${load.reps} rounds after a ${load.warmupSeconds} s warm-up per route; a round runs every route for ${load.seconds} s, back to back. req/s, latency and CPU are medians over the rounds; a ratio is the median of the per-round ratios (the two runs of a pair are seconds apart, so drift of the machine between rounds cancels). 50 connections, loopback, one agent (API key) per connection; the server is a child process, autocannon runs in the parent. "server CPU µs/req" is the server process's CPU time (all its threads: GC helpers too) divided by the requests answered; "ratio (server CPU)" is bare ÷ route of that, which does not depend on whether the server or the load generator was the limit. "sleeps/req" counts how often per request the server's and the load generator's main threads blocked waiting for the other (voluntary context switches): each such sleep is a wake-up the other side's write pays for, one of the costliest steps of a request on this virtual machine, and a slower route makes the load generator wait, and so be woken, more often. The free account's capabilities answer is 3.2 KB (five signed links of ~390 bytes: three unlock_url, operator_action_url and the agent_script that quotes it); "bare GET, capabilities' bytes and headers" serves that exact answer (taken from the server at start) as a fixed string with tiergate's headers, to tell bytes from work, and "bare GET + the contract's minimum for capabilities (floor)" answers the same bytes after what any implementation must do per request: find the account by its API key's SHA-256 and read its usage (a Map), the answer for that account and usage computed once (tiergate's depends on nothing else, and its links are reused); likewise "bare POST, 1.4 KB body" answers as many bytes as notify-operator does (its operator link appears twice: operator_action_url and agent_script), and "bare GET, operator page's bytes and headers" answers a page's exact bytes and security headers to the page's own URL. "bare POST + the contract's minimum (floor)" adds to the bare POST what the wire contract and DESIGN require of any notify-operator, written directly on node:crypto, zod and rate-limiter-flexible with none of tiergate's code: the API key's SHA-256 lookup, zod validation, one rate-limit point, the context sealed with AES-256-GCM, one signed operator link (HS256 JWT), its ids and nonce drawn from a pooled CSPRNG buffer (as tiergate draws its own), the record kept in a Map, and an answer of the same fields and size. The operator page rotates over 64 notifications.`,
      },
    ],
    targets,
    notes,
  };
}
