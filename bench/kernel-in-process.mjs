#!/usr/bin/env node
// The kernel alone, without HTTP: createHandler() called in a loop on a memory store,
// one request at a time, to tell tiergate's own work from the framework and the system calls.
//   node bench/kernel-in-process.mjs notify 50000      # POST /v1/notify-operator
//   node bench/kernel-in-process.mjs notify-bytes 50000   # the same with the body as bytes (as Fastify hands it over), not a stream
//   node bench/kernel-in-process.mjs notify-floor 50000   # the contract's floor of it (bench/servers/contract-floor.mjs), same body
//   node bench/kernel-in-process.mjs caps 100000       # GET /v1/capabilities (free account)
//   node bench/kernel-in-process.mjs page 100000       # GET /operator/action (64 notifications in turn)
//   node bench/kernel-in-process.mjs guard 500000      # createGuard('send_messages', { consume: 1 }), as requireCapability runs it
//   node bench/kernel-in-process.mjs guard-fastify 20000   # part 3's three Fastify routes through app.inject(): Fastify's
//                                                          # whole request lifecycle without sockets, alternating, medians of 7
//   node bench/kernel-in-process.mjs send-guard-fastify 20000   # one of those routes alone (also send-bare-, send-floor-,
//                                                               # send-rate-limit-fastify), for bench/instructions.mjs
//   node bench/kernel-in-process.mjs notify-fastify 20000        # POST /v1/notify-operator through @tiergate/fastify and app.inject()
//   node bench/kernel-in-process.mjs notify-floor-fastify 20000  # the floor as a Fastify route (as the bench server has it), app.inject()
//   node bench/kernel-in-process.mjs notify-floor-headers-fastify 20000  # the same floor answering with tiergate's six headers
//   node bench/kernel-in-process.mjs caps-fastify 20000        # GET /v1/capabilities through @tiergate/fastify and app.inject()
//   node bench/kernel-in-process.mjs caps-bytes-fastify 20000  # a Fastify route answering that answer's bytes and headers
//   node bench/kernel-in-process.mjs page-fastify 20000        # GET /operator/action (64 links in turn), likewise
//   node bench/kernel-in-process.mjs page-bytes-fastify 20000  # the page's bytes and headers, to the same URLs
//   node bench/kernel-in-process.mjs caps-koa 20000        # GET /v1/capabilities through @tiergate/koa, light-my-request on app.callback()
//   node bench/kernel-in-process.mjs caps-floor-koa 20000  # the capabilities floor as the bench server's Koa has it, likewise
//   node bench/kernel-in-process.mjs notify-koa 20000        # POST /v1/notify-operator through @tiergate/koa, likewise
//   node bench/kernel-in-process.mjs notify-floor-koa 20000  # the notify-operator floor as the bench server's Koa has it, likewise
//   (BENCH_ALLOC_PROF=<file> with these eleven and the four send- modes: a sampled profile of every allocation of the timed requests,
//   for bench/alloc-summary.mjs)
// Add --cpu-prof to profile it. Run `npm run build` first.
import { createGuard, createHandler, defaultTiers, memoryStore } from '@tiergate/core';
import { NOTIFY_BODY, PUBLIC_URL, inProcessTiergate } from './lib/in-process.mjs';
import { capabilitiesFloor, contractFloor, readJson } from './servers/contract-floor.mjs';
import { GUARD_TIERS, SEND_BODY, registerFastifyGuardRoutes } from './servers/guard-routes.mjs';
const route = process.argv[2] ?? 'notify';
const N = Number(process.argv[3] ?? 50000);
// The guard runs on part 3's host tier (a quota that never runs out); the other routes on the default tiers.
const guardMode = route.startsWith('guard') || route.startsWith('send-');
const { entries, tiergate } = inProcessTiergate({ tier: guardMode ? 'volume' : 'free', tiers: guardMode ? GUARD_TIERS : defaultTiers });
const handle = createHandler(tiergate);
const BODY = Buffer.from(NOTIFY_BODY);
const guard = createGuard(tiergate, 'send_messages', { consume: 1 });
// Operator pages to load (as in part 2): the query strings of 64 notifications' links, viewed in turn.
const pages = [];
if (route.startsWith('page')) {
  for (let i = 0; i < 64; i++) {
    const result = await tiergate.notifyOperator(entries[i].account, JSON.parse(BODY.toString()));
    pages.push(new URL(result.operator_action_url).search.slice(1));
  }
}
// The notify-operator floor on its own memory store, every record kept (as the memory store keeps tiergate's).
const kept = new Map();
const notifyFloor = () => contractFloor(memoryStore(), () => PUBLIC_URL, entries, (id, record) => void kept.set(id, record));
// In process, its answer serialised as the kernel serialises tiergate's (the HTTP framework's part is not here).
const floor = route === 'notify-floor' ? await notifyFloor() : undefined;
async function one(i) {
  const headers = { authorization: `Bearer ${entries[i % 64].apiKey}`, 'content-type': 'application/json', host: '127.0.0.1:3000' };
  if (route === 'guard') {
    const result = await guard(headers);
    return result.ok ? { status: 200 } : result.response;
  }
  if (route === 'notify-floor') {
    return { status: 201, body: JSON.stringify(await floor(headers.authorization, JSON.parse(BODY.toString()))) };
  }
  if (route === 'notify') return handle({ method: 'POST', path: '/v1/notify-operator', query: '', headers, body: (async function* () { yield BODY; })() });
  // The body as bytes, as @tiergate/fastify hands it over (no stream to read).
  if (route === 'notify-bytes') return handle({ method: 'POST', path: '/v1/notify-operator', query: '', headers, body: BODY });
  if (route === 'page') return handle({ method: 'GET', path: '/operator/action', query: pages[i % 64], headers: { host: '127.0.0.1:3000', accept: 'text/html' } });
  return handle({ method: 'GET', path: '/v1/capabilities', query: '', headers });
}
/** A request of part 3's routes through app.inject(): the small body, posted with the i-th account's key. */
const sendRequest = (url, i) => ({ method: 'POST', url, headers: { 'content-type': 'application/json', authorization: `Bearer ${entries[i % 64].apiKey}`, host: '127.0.0.1:3000' }, payload: SEND_BODY });
if (route === 'guard-fastify') {
  const { default: Fastify } = await import('fastify');
  const app = Fastify({ logger: false });
  await registerFastifyGuardRoutes(app, tiergate, entries);
  await app.ready();
  const run = async (url, n) => {
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      const r = await app.inject(sendRequest(url, i));
      if (r.statusCode !== 200) throw new Error(`${url}: ${r.statusCode} ${r.body}`);
    }
    return Number(process.hrtime.bigint() - start) / 1e3 / n;
  };
  const times = { '/send/bare': [], '/send/rate-limit': [], '/send/floor': [], '/send/guard': [] };
  for (const url of Object.keys(times)) await run(url, 5000);
  for (let k = 0; k < 7; k++) for (const url of Object.keys(times)) times[url].push(await run(url, N));
  for (const [url, t] of Object.entries(times)) console.log(`${url}: ${t.sort((a, b) => a - b)[3].toFixed(2)} µs per request through app.inject() (median of 7)`);
  process.exit(0);
}
// Fastify's whole request lifecycle (routing, body collection, hooks, reply, Node's header writing) without
// sockets, one request at a time: what the live route does in the server process, less the system calls.
// Each tiergate route has a counterpart that does none of tiergate's work: the notify-operator floor, and a
// bare route answering the capabilities answer's / the operator page's exact bytes and headers (as part 2's
// "bytes" rows do).
// Part 3's routes, each alone (send-bare-fastify, send-guard-fastify, send-floor-fastify, send-rate-limit-fastify).
const SEND_ROUTE = /^send-(bare|guard|floor|rate-limit)-fastify$/.exec(route)?.[1];
const FASTIFY_MODES = new Set(['notify-fastify', 'notify-floor-fastify', 'notify-floor-headers-fastify', 'caps-fastify', 'caps-bytes-fastify', 'page-fastify', 'page-bytes-fastify']);
if (FASTIFY_MODES.has(route) || SEND_ROUTE !== undefined) {
  const { default: Fastify } = await import('fastify');
  const { tiergatePlugin } = await import('@tiergate/fastify');
  const app = Fastify({ logger: false });
  const kind = route.split('-')[0];
  const viaTiergate = route === `${kind}-fastify`;
  if (kind === 'send') await registerFastifyGuardRoutes(app, tiergate, entries);
  else if (viaTiergate) await app.register(tiergatePlugin, { tiergate });
  const authorization = (i) => `Bearer ${entries[i % 64].apiKey}`;
  // The requests: notify-operator posts the body; capabilities GETs with a key; the page cycles through 64 links;
  // part 3's routes post their small body with a key.
  let request;
  if (kind === 'send') {
    request = (i) => sendRequest(`/send/${SEND_ROUTE}`, i);
  } else if (kind === 'notify') {
    request = (i) => ({ method: 'POST', url: viaTiergate ? '/v1/notify-operator' : '/bench/post-floor', headers: { 'content-type': 'application/json', authorization: authorization(i), host: '127.0.0.1:3000' }, payload: BODY });
  } else if (kind === 'caps') {
    request = (i) => ({ method: 'GET', url: viaTiergate ? '/v1/capabilities' : '/bench/caps-bytes', headers: { authorization: authorization(i), host: '127.0.0.1:3000' } });
  } else {
    // The bytes route gets the same URL bytes (the link's query), as part 2's does.
    request = (i) => ({ method: 'GET', url: `${viaTiergate ? '/operator/action' : '/bench/page-bytes'}?${pages[i % 64]}`, headers: { host: '127.0.0.1:3000', accept: 'text/html' } });
  }
  if (kind === 'notify' && !viaTiergate) {
    const floorRoute = await notifyFloor();
    // With tiergate's headers: the same six header lines as its answer (the rate-limit values as strings).
    const withHeaders = route === 'notify-floor-headers-fastify';
    let remaining = 1e9;
    app.post('/bench/post-floor', async (req, reply) => {
      const answer = await floorRoute(req.headers.authorization, req.body);
      if (!withHeaders) return reply.code(201).send(answer);
      remaining -= 1;
      return reply
        .code(201)
        .headers({ 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', 'ratelimit-limit': '1000000000', 'ratelimit-remaining': String(remaining), 'ratelimit-reset': '3600' })
        .send(JSON.stringify(answer));
    });
  } else if (!viaTiergate && kind !== 'send') {
    // tiergate's answer to the first request, taken once from a handler of the same service, served as it is.
    const answer = await handle(
      kind === 'caps'
        ? { method: 'GET', path: '/v1/capabilities', query: '', headers: request(0).headers }
        : { method: 'GET', path: '/operator/action', query: pages[0], headers: request(0).headers },
    );
    app.get(request(0).url.split('?')[0], (_req, reply) => reply.code(answer.status).headers(answer.headers).send(answer.body));
  }
  await app.ready();
  const status = kind === 'notify' ? 201 : 200;
  await timeInjected('app.inject()', async (i) => {
    const r = await app.inject(request(i));
    if (r.statusCode !== status) throw new Error(`${route}: ${r.statusCode} ${r.body}`);
  });
}
// Koa's whole request lifecycle without sockets (Koa has no inject: light-my-request, which Fastify's inject
// uses, drives app.callback()), as deep as the bench server has them: the bench's own routes in a first
// middleware, then, behind its next(), tiergate's middleware or the floor.
const KOA_MODES = new Set(['caps-koa', 'caps-floor-koa', 'notify-koa', 'notify-floor-koa']);
if (KOA_MODES.has(route)) {
  const { default: Koa } = await import('koa');
  const { default: inject } = await import('light-my-request');
  const { tiergateMiddleware } = await import('@tiergate/koa');
  const kind = route.split('-')[0];
  const authorization = (i) => `Bearer ${entries[i % 64].apiKey}`;
  const app = new Koa();
  app.use((ctx, next) => {
    const path = ctx.path;
    if (path === '/bench/get' && ctx.method === 'GET') {
      ctx.body = { ok: true };
      return undefined;
    }
    return next();
  });
  if (route === `${kind}-koa`) app.use(tiergateMiddleware(tiergate, { prefix: '' }));
  else if (kind === 'notify') {
    // The notify-operator floor as the bench server's Koa has it: the body read as a Koa body parser reads it.
    const floorRoute = await notifyFloor();
    app.use((ctx, next) => {
      if (ctx.path === '/v1/notify-operator' && ctx.method === 'POST') {
        return readJson(ctx.req)
          .then((body) => floorRoute(ctx.get('authorization'), body))
          .then((answer) => {
            ctx.status = 201;
            ctx.body = answer;
          });
      }
      return next();
    });
  } else {
    // Each account's own answer (the links name the account), taken from a handler of the same service.
    const answers = new Map();
    for (let i = 0; i < entries.length; i++) answers.set(entries[i].account, await handle({ method: 'GET', path: '/v1/capabilities', query: '', headers: { authorization: authorization(i) } }));
    const body = capabilitiesFloor(entries, (account) => answers.get(account).body);
    const headers = answers.get(entries[0].account).headers;
    app.use((ctx, next) => {
      if (ctx.path === '/v1/capabilities' && ctx.method === 'GET') {
        ctx.set(headers);
        ctx.body = body(ctx.get('authorization'));
        return undefined;
      }
      return next();
    });
  }
  const callback = app.callback();
  // notify-operator posts the body and answers 201 with the link first; capabilities answers the free tier's 200.
  const [request, status, starts] =
    kind === 'notify'
      ? [(i) => ({ method: 'POST', url: '/v1/notify-operator', headers: { 'content-type': 'application/json', authorization: authorization(i), host: '127.0.0.1:3000' }, payload: BODY }), 201, '{"result":{"operator_action_url":']
      : [(i) => ({ method: 'GET', url: '/v1/capabilities', headers: { authorization: authorization(i), host: '127.0.0.1:3000' } }), 200, '{"result":{"tier":"free"'];
  await timeInjected('light-my-request on Koa', async (i) => {
    const r = await inject(callback, request(i));
    if (r.statusCode !== status || !r.body.startsWith(starts)) throw new Error(`${route}: ${r.statusCode} ${r.body}`);
  });
}

/**
 * Times `send` (one request, checked) over N requests after 5,000 to warm up, prints µs per request and exits.
 * BENCH_ALLOC_PROF: V8's sampling heap profiler over the timed requests, every allocation counted (also what
 * the next scavenge frees), one sample per 64 bytes on average. It slows the requests down many times over.
 */
async function timeInjected(through, send) {
  for (let i = 0; i < 5000; i++) await send(i);
  const allocFile = process.env.BENCH_ALLOC_PROF;
  const session = allocFile ? new (await import('node:inspector')).Session() : undefined;
  const post = (method, params) => new Promise((resolve, reject) => session.post(method, params, (err, r) => (err ? reject(err) : resolve(r))));
  if (session !== undefined) {
    session.connect();
    await post('HeapProfiler.startSampling', { samplingInterval: 64, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  }
  const start = process.hrtime.bigint();
  for (let i = 0; i < N; i++) await send(i);
  if (session !== undefined) {
    const { profile } = await post('HeapProfiler.stopSampling');
    (await import('node:fs')).writeFileSync(allocFile, JSON.stringify({ requests: N, ...profile }));
  }
  console.log(`${route}: ${(Number(process.hrtime.bigint() - start) / 1e3 / N).toFixed(2)} µs per request through ${through}`);
  process.exit(0);
}
for (let i = 0; i < 5000; i++) await one(i);
const t0 = process.hrtime.bigint();
for (let i = 0; i < N; i++) { const r = await one(i); if (r.status >= 300) throw new Error(r.body); }
const dt = Number(process.hrtime.bigint() - t0) / 1e3 / N;
console.log(`${route}: ${dt.toFixed(2)} µs per request in process`);
