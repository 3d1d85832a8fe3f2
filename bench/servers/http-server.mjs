// The server under test, run as a child process of bench/run.mjs so the load
// generator (autocannon, in the parent) and the server each have a core.
//
// One process serves the bare routes and the tiergate routes of one framework,
// so both are measured with the same framework, process and setup. Driven over
// IPC: the parent asks for CPU time (to compute server CPU per request),
// approvals to decide, and shutdown.
//
// Config (JSON in BENCH_SERVER): { framework, mode: 'app' | 'guard', store: { kind, url?, schema?, prefix?, db? }, pages }
import http from 'node:http';
import { PerformanceObserver } from 'node:perf_hooks';
import {
  apiKeyAuthenticator,
  createTiergate,
  defaultTiers,
  generateWebhookSecret,
  memoryStore,
  PAGE_HEADERS,
} from '@tiergate/core';
import { GUARD_TIERS, registerFastifyGuardRoutes, sent, sentBy } from './guard-routes.mjs';
import { sleepsSoFar } from '../lib/sleeps.mjs';
import { capabilitiesFloor, contractFloor, readJson } from './contract-floor.mjs';

const config = JSON.parse(process.env.BENCH_SERVER ?? '{}');

// Time spent in garbage collection (ms, main-thread pauses), reported with the CPU time.
let gcMs = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) gcMs += entry.duration;
}).observe({ entryTypes: ['gc'] });
const framework = config.framework ?? 'fastify';
const mode = config.mode ?? 'app';
const ACCOUNTS_PER_KIND = 64;
const SECRET = 'bench-link-secret-0123456789abcdef-0123456789';

/** Bodies of the bare routes: small JSON, serialised by the framework as a host's route would. */
const BARE_GET = { result: { ok: true, service: 'bench' }, next_steps: [] };

/**
 * The operator page's exact bytes and headers, served as a fixed string (set once the first page exists):
 * what the page route costs with none of tiergate's work.
 */
let barePage = '';

/**
 * A free account's capabilities answer, exact bytes and the headers tiergate set on it, served as a fixed
 * string (both taken from the route once the server listens): what that route costs with none of tiergate's
 * work. Nothing is serialised per request, as tiergate reuses the answer's serialised body (a 3.2 KB object
 * through JSON.stringify costs ≈ 12 µs on the bench machine, which would hide the difference being measured).
 */
let bareCapabilities = '';
let capabilitiesHeaders = {};
/**
 * The floor of GET /v1/capabilities (bench/servers/contract-floor.mjs): the body for an `Authorization`
 * header (the answer's bytes above, for a free account), undefined for an unknown key. Set in main().
 */
let capabilitiesFloorBody = () => undefined;
const UNKNOWN_KEY = JSON.stringify({ error: { code: 'UNAUTHORIZED' } });
/** Headers the framework writes on every response (not tiergate's). */
const FRAMEWORK_HEADERS = new Set(['connection', 'content-length', 'date', 'keep-alive', 'transfer-encoding']);

/**
 * BENCH_SPIN_US (for bench/profile-route.mjs; unset in `npm run bench`): a busy wait of that many
 * microseconds in Fastify's bare page route and its bare 1.4 KB POST — what a given amount of added
 * JavaScript costs a live server on this machine, measured against the same route without it (see
 * NOTES.md).
 */
const SPIN_NS = Number(process.env.BENCH_SPIN_US ?? 0) * 1000;
function spin() {
  if (SPIN_NS === 0) return;
  const start = process.hrtime.bigint();
  while (Number(process.hrtime.bigint() - start) < SPIN_NS);
}

const quietLogger = { debug() {}, info() {}, warn() {}, error: (message, fields) => console.error(`[tiergate] ${message}`, fields ?? '') };

function makeAccounts() {
  const entries = [];
  const kinds = mode === 'guard' ? ['volume'] : ['free', 'developer'];
  for (const tier of kinds) {
    for (let i = 0; i < ACCOUNTS_PER_KIND; i += 1) {
      const n = String(i).padStart(2, '0');
      entries.push({
        apiKey: `bench-${tier}-${n}-4f9a1c2e8b7d6a5f`,
        account: { id: `acc_${tier}_${n}`, tier, operatorEmail: `ops+${n}@example.com`, webhookSecret: generateWebhookSecret() },
      });
    }
  }
  return entries;
}

async function openStore(spec) {
  if (spec === undefined || spec.kind === 'memory') {
    const kept = new Map();
    return { store: memoryStore(), floorKeep: (id, record) => void kept.set(id, record), close: async () => undefined };
  }
  if (spec.kind === 'postgres') {
    const { default: pg } = await import('pg');
    const { postgresStore } = await import('@tiergate/postgres');
    const pool = new pg.Pool({ connectionString: spec.url, max: 16, connectionTimeoutMillis: 5000 });
    const store = postgresStore({ pool, schema: spec.schema });
    await store.migrate();
    // The floor route's table: what a host's own endpoint writes per request.
    await pool.query(`CREATE TABLE IF NOT EXISTS ${spec.schema}.bench_floor (id text PRIMARY KEY, record jsonb NOT NULL)`);
    const insert = `INSERT INTO ${spec.schema}.bench_floor (id, record) VALUES ($1, $2)`;
    return {
      store,
      floorKeep: (id, record) => pool.query({ name: 'bench_floor_insert', text: insert, values: [id, JSON.stringify(record)] }),
      close: async () => {
        await store.close();
        await pool.end();
      },
    };
  }
  if (spec.kind === 'redis') {
    const { Redis } = await import('ioredis');
    const { redisStore } = await import('@tiergate/redis');
    const client = new Redis(spec.url, { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 5000, db: spec.db ?? 0 });
    await new Promise((resolve, reject) => {
      client.once('ready', resolve);
      client.once('error', reject);
    });
    const store = redisStore({ client, keyPrefix: spec.prefix });
    return {
      store,
      floorKeep: (id, record) => client.set(`${spec.prefix}floor:${id}`, JSON.stringify(record), 'PX', 600_000),
      close: async () => {
        await store.close();
        client.disconnect();
      },
    };
  }
  throw new Error(`unknown store ${JSON.stringify(spec)}`);
}

const bareCreated = (body) => ({ result: { received: true, issue_length: typeof body?.issue === 'string' ? body.issue.length : 0 }, next_steps: [] });
/** A bare POST answer as large as notify-operator's (~1.35 KB: the operator link twice, the label, id and steps). */
const bareCreatedLarge = (body) => ({ ...bareCreated(body), result: { ...bareCreated(body).result, padding: 'x'.repeat(1290) } });
async function buildFastify(tiergate, floor, direct, entries) {
  const { default: Fastify } = await import('fastify');
  const { tiergatePlugin } = await import('@tiergate/fastify');
  const app = Fastify({ logger: false });
  app.get('/bench/get', async () => BARE_GET);
  app.get('/bench/capabilities', async (_request, reply) => reply.headers(capabilitiesHeaders).send(bareCapabilities));
  app.get('/bench/capabilities-floor', async (request, reply) => {
    const body = capabilitiesFloorBody(request.headers.authorization);
    return body === undefined ? reply.code(401).type('application/json').send(UNKNOWN_KEY) : reply.headers(capabilitiesHeaders).send(body);
  });
  app.get('/bench/page', async (_request, reply) => {
    spin();
    return reply.headers(PAGE_HEADERS).send(barePage);
  });
  app.post('/bench/post', async (request, reply) => reply.code(201).send(bareCreated(request.body)));
  app.post('/bench/post-large', async (request, reply) => {
    spin();
    return reply.code(201).send(bareCreatedLarge(request.body));
  });
  app.post('/bench/notify-direct', async (request, reply) => reply.code(201).send(await direct(request.headers.authorization, request.body)));
  app.post('/bench/post-floor', async (request, reply) => reply.code(201).send(await floor(request.headers.authorization, request.body)));
  if (mode === 'guard') await registerFastifyGuardRoutes(app, tiergate, entries);
  else await app.register(tiergatePlugin, { tiergate });
  await app.ready();
  return app.server;
}

async function buildExpress(tiergate, floor) {
  const { default: express } = await import('express');
  const { tiergateRouter, requireCapability } = await import('@tiergate/express');
  const app = express();
  app.get('/bench/get', (_req, res) => res.json(BARE_GET));
  app.get('/bench/capabilities', (_req, res) => res.set(capabilitiesHeaders).send(bareCapabilities));
  app.get('/bench/capabilities-floor', (req, res) => {
    const body = capabilitiesFloorBody(req.headers.authorization);
    if (body === undefined) res.status(401).type('application/json').send(UNKNOWN_KEY);
    else res.set(capabilitiesHeaders).send(body);
  });
  app.get('/bench/page', (_req, res) => res.set(PAGE_HEADERS).send(barePage));
  app.post('/bench/post', express.json(), (req, res) => res.status(201).json(bareCreated(req.body)));
  app.post('/bench/post-large', express.json(), (req, res) => res.status(201).json(bareCreatedLarge(req.body)));
  app.post('/bench/post-floor', express.json(), async (req, res) => res.status(201).json(await floor(req.headers.authorization, req.body)));
  if (mode === 'guard') {
    app.post('/send/bare', (_req, res) => res.json(sent()));
    app.post('/send/guard', requireCapability(tiergate, 'send_messages', { consume: 1 }), (req, res) => res.json(sentBy(req.tiergate)));
  }
  app.use(tiergateRouter(tiergate));
  return http.createServer(app);
}

async function buildKoa(tiergate, floor) {
  const { default: Koa } = await import('koa');
  const { tiergateMiddleware, requireCapability } = await import('@tiergate/koa');
  const app = new Koa();
  const guard = mode === 'guard' ? requireCapability(tiergate, 'send_messages', { consume: 1 }) : undefined;
  // The bench's own routes, as a host's middleware before tiergate's. Falling through to tiergate costs string
  // compares only: the path and method are read once (each `ctx.path` is a getter that parses the URL), and the
  // middleware is a plain function (an async one would wrap next()'s promise in its own, which costs extra
  // microtask turns on every request that reaches tiergate and on none that the bench answers itself).
  app.use((ctx, next) => {
    const path = ctx.path;
    const method = ctx.method;
    if (path === '/bench/get' && method === 'GET') {
      ctx.body = BARE_GET;
      return;
    }
    if (path === '/bench/capabilities' && method === 'GET') {
      ctx.set(capabilitiesHeaders);
      ctx.body = bareCapabilities;
      return;
    }
    if (path === '/bench/page' && method === 'GET') {
      ctx.set(PAGE_HEADERS);
      ctx.body = barePage;
      return;
    }
    if (path === '/bench/post' && method === 'POST') {
      return readJson(ctx.req).then((body) => {
        ctx.status = 201;
        ctx.body = bareCreated(body);
      });
    }
    if (path === '/bench/post-large' && method === 'POST') {
      return readJson(ctx.req).then((body) => {
        ctx.status = 201;
        ctx.body = bareCreatedLarge(body);
      });
    }
    if (guard !== undefined && method === 'POST' && path === '/send/bare') {
      ctx.body = sent();
      return;
    }
    if (guard !== undefined && method === 'POST' && path === '/send/guard') {
      return guard(ctx, async () => {
        ctx.body = sentBy(ctx.state.tiergate);
      });
    }
    return next();
  });
  // The floors, as a host's own endpoints doing what tiergate's do, sit where tiergate sits: one middleware
  // later, reached through the bench's next(), and tiergate's middleware is called from the same one, so
  // both are reached through the same dispatches. Answered in the first middleware, a floor skipped the
  // dispatch that tiergate's routes pay (about half of the capabilities floor's gap to tiergate on Koa, see
  // NOTES.md, "1 December, midday"); in a middleware of their own before tiergate's, the floors made
  // tiergate pay one more. The bare routes stay first: they are what the targets divide by.
  const tiergateRoutes = tiergateMiddleware(tiergate, { prefix: '' });
  app.use((ctx, next) => {
    const path = ctx.path;
    const method = ctx.method;
    if (path === '/bench/capabilities-floor' && method === 'GET') {
      const body = capabilitiesFloorBody(ctx.get('authorization'));
      if (body === undefined) {
        ctx.status = 401;
        ctx.type = 'application/json';
        ctx.body = UNKNOWN_KEY;
      } else {
        ctx.set(capabilitiesHeaders);
        ctx.body = body;
      }
      return;
    }
    if (path === '/bench/post-floor' && method === 'POST') {
      return readJson(ctx.req)
        .then((body) => floor(ctx.get('authorization'), body))
        .then((answer) => {
          ctx.status = 201;
          ctx.body = answer;
        });
    }
    return tiergateRoutes(ctx, next);
  });
  return http.createServer(app.callback());
}

async function main() {
  const opened = await openStore(config.store);
  const entries = makeAccounts();
  const byId = new Map(entries.map((e) => [e.account.id, e.account]));
  let base = 'http://127.0.0.1:0';
  const tiergate = createTiergate({
    authenticate: apiKeyAuthenticator(entries),
    findAccount: (id) => byId.get(id) ?? null,
    secret: SECRET,
    publicUrl: () => base,
    store: opened.store,
    tiers: mode === 'guard' ? GUARD_TIERS : defaultTiers,
    // Raised for the run: the bench measures the limiter's cost, not its refusals.
    notifyRateLimit: { points: 1_000_000_000, durationSeconds: 3600 },
    logger: quietLogger,
  });
  const build = { fastify: buildFastify, express: buildExpress, koa: buildKoa }[framework];
  // For profiling (Fastify): the service's notifyOperator() called from a plain route, without the HTTP kernel.
  const byKey = new Map(entries.map((e) => [`Bearer ${e.apiKey}`, e.account]));
  const direct = async (authorization, body) => ({ result: await tiergate.notifyOperator(byKey.get(authorization), body), next_steps: [] });
  const floor = await contractFloor(opened.store, () => base, entries, opened.floorKeep);
  // The bench loads capabilities with free accounts' keys, whose usage is never used up; every free account
  // is answered the first one's bytes (the same size: only the links' account ids differ).
  capabilitiesFloorBody = capabilitiesFloor(entries, (account, usedUp) => (account.tier === 'free' && !usedUp ? bareCapabilities : undefined));
  const server = await build(tiergate, floor, direct, entries);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${server.address().port}`;
  tiergate.start();

  // Operator pages to load: notifications of free accounts blocked from sending.
  const pages = [];
  if (mode === 'app') {
    const free = entries.filter((e) => e.account.tier === 'free');
    for (let i = 0; i < (config.pages ?? 64); i += 1) {
      const account = free[i % free.length].account;
      const result = await tiergate.notifyOperator(account, {
        issue: 'I need to send a receipt to a customer, but this account is on the free tier.',
        action_label: 'Upgrade to send',
        context: { customer_id: `cus_${i}`, attempted_action: 'send_messages', recipients: 1, reason: 'SEND_REQUIRES_PAID' },
      });
      pages.push(new URL(result.operator_action_url).pathname + new URL(result.operator_action_url).search);
    }
    if (pages.length > 0) barePage = await (await fetch(`${base}${pages[0]}`)).text();
    const free0 = entries.find((e) => e.account.tier === 'free');
    const answer = await fetch(`${base}/v1/capabilities`, { headers: { authorization: `Bearer ${free0.apiKey}` } });
    capabilitiesHeaders = Object.fromEntries([...answer.headers].filter(([name]) => !FRAMEWORK_HEADERS.has(name)));
    bareCapabilities = await answer.text();
  }

  async function prepareApprovals(count) {
    const developers = entries.filter((e) => e.account.tier === 'developer');
    const bodies = new Array(count);
    let next = 0;
    async function worker() {
      while (next < count) {
        const i = next++;
        const account = developers[i % developers.length].account;
        const result = await tiergate.notifyOperator(account, {
          type: 'approval_request',
          issue: 'Send 120 onboarding emails to new users',
          action: 'send_messages',
          reason: 'Weekly onboarding batch',
          urgency: 'medium',
          context: { batch: i, recipients: 120 },
        });
        const token = new URL(result.operator_action_url).searchParams.get('token');
        // What the operator's browser does first: open the page (GET /operator/action), whose form carries the anti-forgery token.
        const view = await tiergate.operatorView(token);
        const formToken = view.formToken;
        bodies[i] = `token=${encodeURIComponent(token)}&form_token=${encodeURIComponent(formToken)}&decision=approve`;
      }
    }
    await Promise.all(Array.from({ length: 16 }, worker));
    return bodies;
  }

  async function close() {
    await tiergate.stop();
    await new Promise((resolve) => {
      server.closeAllConnections?.();
      server.close(() => resolve());
    });
    await opened.close();
  }

  process.on('message', async (message) => {
    try {
      if (message.type === 'cpu') {
        const usage = process.cpuUsage();
        process.send({ id: message.id, cpuMicros: usage.user + usage.system, at: performance.now(), rss: process.memoryUsage.rss(), gcMs, sleeps: sleepsSoFar() });
      } else if (message.type === 'approvals') {
        process.send({ id: message.id, bodies: await prepareApprovals(message.count) });
      } else if (message.type === 'close') {
        await close();
        process.send({ id: message.id, closed: true }, () => process.exit(0));
      }
    } catch (err) {
      process.send({ id: message.id, error: err instanceof Error ? err.stack : String(err) });
    }
  });

  const key = (tier) => entries.filter((e) => e.account.tier === tier).map((e) => `Bearer ${e.apiKey}`);
  process.send({ type: 'ready', url: base, pages, keys: { free: key('free'), developer: key('developer'), volume: key('volume') } });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
