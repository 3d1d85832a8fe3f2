/**
 * The harness of the hardening suite: real Express, Fastify and Koa servers on
 * 127.0.0.1 port 0 in front of a tiergate on a real store (memory, PostgreSQL
 * in a random schema, Redis under a random key prefix), with a fake clock, a
 * logger that keeps every line (so tests can prove no token, key or context
 * ever reaches a log), accounts added on demand (kept as SHA-256 hashes by
 * `apiKeyAuthenticator`), a controllable callback receiver, a TCP relay that
 * takes PostgreSQL or Redis down, and a store wrapper that injects failures
 * at the Store port.
 *
 * A missing `DATABASE_URL` / `REDIS_URL` skips the store visibly, and fails
 * under `TIERGATE_REQUIRE_SERVICES=1` (see `storeKinds`).
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect, createServer as createTcpServer, type Socket } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import Koa from 'koa';
import pg from 'pg';
import { expect } from 'vitest';
import {
  PAGE_CSP,
  apiKeyAuthenticator,
  createTiergate,
  generateWebhookSecret,
  hashApiKey,
  memoryStore,
  storeUnavailable,
  type Account,
  type Logger,
  type LookupAll,
  type RateLimiter,
  type SecretInput,
  type Store,
  type Tiergate,
  type TiergateOptions,
} from '@tiergate/core';
import { requireCapability as expressGuard, tiergateRouter } from '@tiergate/express';
import { tiergatePlugin } from '@tiergate/fastify';
import { requireCapability as koaGuard, tiergateMiddleware } from '@tiergate/koa';
import { postgresStore } from '@tiergate/postgres';
import { redisStore } from '@tiergate/redis';
import { createFakeClock, decisionForm, decodeEntities, listenLocal, serviceUrl, type DecisionForm, type FakeClock } from '@tiergate/testing';

/** The frameworks every case runs on. */
export const FRAMEWORKS = ['express', 'fastify', 'koa'] as const;
/** A framework adapter under test. */
export type Framework = (typeof FRAMEWORKS)[number];
/** A store under test. */
export type StoreKind = 'memory' | 'postgres' | 'redis';

/** Where tiergate is mounted on every test server. */
export const PREFIX = '/tiergate';
/** Start of every fake clock. */
export const START = '2026-03-10T09:00:00.000Z';

const DATABASE_EXAMPLE = 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_EXAMPLE = 'redis://127.0.0.1:6379';

/**
 * The stores a test file runs its state-changing cases on: memory always,
 * PostgreSQL and Redis when their URL is set. A missing one is reported once
 * per file (a warning, or a failing test under `TIERGATE_REQUIRE_SERVICES=1`).
 * Call at the top level of a test file.
 */
export function storeKinds(file: string): StoreKind[] {
  const kinds: StoreKind[] = ['memory'];
  if (serviceUrl('DATABASE_URL', DATABASE_EXAMPLE, `${file} on PostgreSQL`) !== undefined) kinds.push('postgres');
  if (serviceUrl('REDIS_URL', REDIS_EXAMPLE, `${file} on Redis`) !== undefined) kinds.push('redis');
  return kinds;
}

/** Every framework × store pair of `stores`, for `describe.each`. */
export function matrix(stores: readonly StoreKind[]): { framework: Framework; store: StoreKind }[] {
  return FRAMEWORKS.flatMap((framework) => stores.map((store) => ({ framework, store })));
}

// --------------------------------------------------------------------- TCP relay

/** A TCP relay to a real server that a test can take down and bring back on the same port. */
export interface TcpRelay {
  readonly port: number;
  /** Cuts every open connection and refuses new ones. */
  down(): Promise<void>;
  /** Relays again, on the same port. */
  up(): Promise<void>;
  close(): Promise<void>;
}

/** Starts a relay on 127.0.0.1 (random port) to `host:port`. */
export async function startTcpRelay(host: string, port: number): Promise<TcpRelay> {
  const sockets = new Set<Socket>();
  let server: ReturnType<typeof createTcpServer> | undefined;
  let listenPort = 0;
  const listen = async (): Promise<void> => {
    const s = createTcpServer((inbound) => {
      const outbound = connect(port, host);
      for (const socket of [inbound, outbound]) {
        sockets.add(socket);
        socket.on('error', () => undefined);
        socket.on('close', () => {
          sockets.delete(socket);
          inbound.destroy();
          outbound.destroy();
        });
      }
      inbound.pipe(outbound);
      outbound.pipe(inbound);
    });
    await new Promise<void>((resolve) => s.listen(listenPort, '127.0.0.1', resolve));
    listenPort = (s.address() as AddressInfo).port;
    server = s;
  };
  const down = async (): Promise<void> => {
    const s = server;
    server = undefined;
    for (const socket of sockets) socket.destroy();
    if (s !== undefined) await new Promise<void>((resolve) => s.close(() => resolve()));
  };
  await listen();
  return {
    get port() {
      return listenPort;
    },
    down,
    up: async () => {
      if (server === undefined) await listen();
    },
    close: down,
  };
}

// ------------------------------------------------------------------------ stores

/** Record counts of a store (to prove a refused request stored nothing). */
export interface RecordCounts {
  readonly notifications: number;
  readonly approvals: number;
  readonly outbox: number;
}

/** A store under test with its cleanup and inspection helpers. */
export interface StoreHandle {
  readonly kind: StoreKind;
  readonly store: Store;
  /** How many records of each kind it holds. */
  counts(): Promise<RecordCounts>;
  /** Every stored byte as text (PostgreSQL rows, Redis values); `undefined` for memory, which keeps nothing at rest. */
  dump(): Promise<string | undefined>;
  /** Takes the backend down / brings it back (only for stores opened with `{ relay: true }`). */
  readonly outage?: { down(): Promise<void>; up(): Promise<void> };
  cleanup(): Promise<void>;
}

/**
 * Opens an empty store of `kind`: a fresh `memoryStore()`, a migrated
 * PostgreSQL schema or a Redis key prefix of its own. With `relay`, the
 * PostgreSQL pool or Redis client connects through a {@link TcpRelay} so the
 * test can take the backend down.
 */
export async function openStore(kind: StoreKind, options: { readonly relay?: boolean } = {}): Promise<StoreHandle> {
  if (kind === 'memory') {
    const store = memoryStore();
    return {
      kind,
      store,
      counts: async () => {
        const size = store.size();
        return { notifications: size['notifications'] ?? 0, approvals: size['approvals'] ?? 0, outbox: size['outbox'] ?? 0 };
      },
      dump: async () => undefined,
      cleanup: async () => undefined,
    };
  }
  if (kind === 'postgres') {
    const url = new URL(process.env['DATABASE_URL'] ?? DATABASE_EXAMPLE);
    const relay = options.relay === true ? await startTcpRelay(url.hostname, Number(url.port || 5432)) : undefined;
    const schema = `tg_hardening_${randomBytes(6).toString('hex')}`;
    // (pg lets a connection string override host and port, so the relayed pool gets the parts.)
    const connection =
      relay === undefined
        ? { connectionString: url.toString() }
        : { host: '127.0.0.1', port: relay.port, user: decodeURIComponent(url.username) || 'postgres', password: decodeURIComponent(url.password), database: url.pathname.slice(1) || 'postgres' };
    const pool = new pg.Pool({ ...connection, max: 12, connectionTimeoutMillis: 2_000, query_timeout: 5_000 });
    pool.on('error', () => undefined); // idle clients die when the relay goes down
    const store = postgresStore({ pool, schema });
    await store.migrate();
    const tables = ['notifications', 'approvals', 'audit', 'outbox', 'rate_limits'];
    return {
      kind,
      store,
      counts: async () => {
        const { rows } = await pool.query(
          `SELECT (SELECT count(*) FROM "${schema}".notifications)::int AS n, (SELECT count(*) FROM "${schema}".approvals)::int AS a, (SELECT count(*) FROM "${schema}".outbox)::int AS o`,
        );
        const row = rows[0] as { n: number; a: number; o: number };
        return { notifications: row.n, approvals: row.a, outbox: row.o };
      },
      dump: async () => {
        const parts: string[] = [];
        for (const table of tables) parts.push(JSON.stringify((await pool.query(`SELECT * FROM "${schema}"."${table}"`)).rows));
        return parts.join('\n');
      },
      ...(relay === undefined ? {} : { outage: { down: relay.down, up: relay.up } }),
      async cleanup() {
        await relay?.up();
        await store.close();
        await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
        await pool.end();
        await relay?.close();
      },
    };
  }
  const url = new URL(process.env['REDIS_URL'] ?? REDIS_EXAMPLE);
  const relay = options.relay === true ? await startTcpRelay(url.hostname, Number(url.port || 6379)) : undefined;
  const keyPrefix = `tg-hardening-${randomBytes(6).toString('hex')}:`;
  const client =
    relay === undefined
      ? new Redis(url.toString(), { maxRetriesPerRequest: 1 })
      : new Redis({ host: '127.0.0.1', port: relay.port, maxRetriesPerRequest: 1, retryStrategy: () => 50, connectTimeout: 1_000 });
  client.on('error', () => undefined);
  const inspector = new Redis(url.toString(), { maxRetriesPerRequest: 1 });
  const store = redisStore({ client, keyPrefix, timeoutMs: 1_000 });
  const keys = async (): Promise<string[]> => {
    const all: string[] = [];
    let cursor = '0';
    do {
      const [next, found] = await inspector.scan(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', 500);
      cursor = next;
      all.push(...found);
    } while (cursor !== '0');
    return all;
  };
  return {
    kind,
    store,
    counts: async () => {
      const all = await keys();
      const count = (tag: string) => all.filter((k) => k.startsWith(`${keyPrefix}${tag}`)).length;
      return { notifications: count('n:'), approvals: count('a:'), outbox: count('o:') };
    },
    dump: async () => {
      const parts: string[] = [];
      for (const key of await keys()) {
        const type = await inspector.type(key);
        const value =
          type === 'string'
            ? await inspector.get(key)
            : type === 'hash'
              ? await inspector.hgetall(key)
              : type === 'list'
                ? await inspector.lrange(key, 0, -1)
                : type === 'zset'
                  ? await inspector.zrange(key, '0', '-1')
                  : type === 'set'
                    ? await inspector.smembers(key)
                    : null;
        parts.push(`${key} ${JSON.stringify(value)}`);
      }
      return parts.join('\n');
    },
    ...(relay === undefined ? {} : { outage: { down: relay.down, up: relay.up } }),
    async cleanup() {
      await relay?.up();
      await store.close();
      client.disconnect();
      const all = await keys();
      if (all.length > 0) await inspector.unlink(...all);
      inspector.disconnect();
      await relay?.close();
    },
  };
}

/** Failures to inject at the Store port: a method name → how many upcoming calls fail. */
export interface StoreFaults {
  /** Makes the next `times` calls of `method` reject with a plain error (a crashed backend, not a tiergate error). */
  fail(method: keyof Store, times?: number): void;
  /** Every method and the rate limiter fail until {@link StoreFaults.heal}. */
  down(): void;
  heal(): void;
}

/**
 * Wraps a store so a test can make its methods fail — the way a driver
 * reports a dead backend (a plain `Error`). The rate limiter follows its
 * port's contract (rejects with `STORE_UNAVAILABLE`).
 */
export function faultyStore(inner: Store): { store: Store; faults: StoreFaults } {
  const pending = new Map<string, number>();
  let down = false;
  const check = (method: string): void => {
    if (down) throw new Error(`connect ECONNREFUSED (injected: ${method})`);
    const left = pending.get(method) ?? 0;
    if (left > 0) {
      pending.set(method, left - 1);
      throw new Error(`connection terminated unexpectedly (injected: ${method})`);
    }
  };
  const store = new Proxy(inner, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (property === 'rateLimiter') {
        return (options: Parameters<Store['rateLimiter']>[0]): RateLimiter => {
          const limiter = target.rateLimiter(options);
          return {
            consume: async (key, points) => {
              if (down) throw storeUnavailable(new Error('rate limiter backend down (injected)'));
              return limiter.consume(key, points);
            },
            refund: async (key, points) => {
              if (down) throw storeUnavailable(new Error('rate limiter backend down (injected)'));
              return limiter.refund(key, points);
            },
          };
        };
      }
      if (typeof value !== 'function' || property === 'waitForApproval') return typeof value === 'function' ? value.bind(target) : value;
      return async (...args: unknown[]) => {
        check(String(property));
        return (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
      };
    },
  });
  return {
    store,
    faults: {
      fail: (method, times = 1) => pending.set(String(method), (pending.get(String(method)) ?? 0) + times),
      down: () => {
        down = true;
      },
      heal: () => {
        down = false;
        pending.clear();
      },
    },
  };
}

// ----------------------------------------------------------------------- servers

/** A running test server. */
export interface TestServer {
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  close(): Promise<void>;
}

/**
 * Starts a real server of `framework` with tiergate's routes under
 * {@link PREFIX} and one guarded host route, `POST /host/send`
 * (`requireCapability('send_messages', { consume: 1 })`). Errors that reach
 * the framework's own error handling are pushed to `errors` (tests assert
 * there are none) and answered with a bare 500.
 */
export async function startServer(framework: Framework, tiergate: Tiergate, errors: unknown[]): Promise<TestServer> {
  if (framework === 'fastify') {
    const app = Fastify({ logger: false, forceCloseConnections: true });
    app.setErrorHandler((error, _request, reply) => {
      errors.push(error);
      return reply.code(500).send({ host_error: true });
    });
    await app.register(tiergatePlugin, { tiergate, prefix: PREFIX });
    app.post('/host/send', { preHandler: app.requireCapability('send_messages', { consume: 1 }) }, async (request) => ({
      account: request.tiergate?.account.id,
      consumed: request.tiergate?.consumed,
    }));
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    return { origin: url.replace('localhost', '127.0.0.1'), close: () => app.close() };
  }
  let listener: http.RequestListener;
  if (framework === 'express') {
    const app = express();
    app.post('/host/send', expressGuard(tiergate, 'send_messages', { consume: 1 }), (req, res) => {
      res.json({ account: req.tiergate?.account.id, consumed: req.tiergate?.consumed });
    });
    app.use(PREFIX, tiergateRouter(tiergate));
    app.use((error: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      errors.push(error);
      res.status(500).json({ host_error: true });
    });
    listener = app;
  } else {
    const app = new Koa();
    // A listener replaces Koa's default one, which prints errors to stderr.
    app.on('error', (error: unknown) => errors.push(error));
    const send = koaGuard(tiergate, 'send_messages', { consume: 1 });
    app.use(tiergateMiddleware(tiergate, { prefix: PREFIX }));
    app.use(async (ctx, next) => {
      if (ctx.method === 'POST' && ctx.path === '/host/send') {
        return send(ctx, async () => {
          ctx.body = { account: ctx.state.tiergate?.account.id, consumed: ctx.state.tiergate?.consumed };
        });
      }
      return next();
    });
    listener = app.callback();
  }
  const { origin, close } = await listenLocal(http.createServer(listener));
  return { origin, close };
}

// ---------------------------------------------------------------------- receiver

/** One callback request the receiver got. */
export interface ReceivedCall {
  readonly path: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/** What the receiver answers on a path: a status (with headers), or never (`'hang'`). */
export type ReceiverBehaviour = { readonly status: number; readonly headers?: Record<string, string> } | 'hang';

/** A real HTTP server on 127.0.0.1 receiving approval callbacks. */
export interface Receiver {
  readonly origin: string;
  readonly port: number;
  /** Every call so far. */
  readonly calls: ReceivedCall[];
  /** A fresh path of its own (so tests sharing the receiver never mix calls). */
  path(name: string): string;
  /** How `path` answers from now on (default 204). */
  on(path: string, behaviour: ReceiverBehaviour): void;
  /** Calls to `path`. */
  callsTo(path: string): ReceivedCall[];
  close(): Promise<void>;
}

/** Starts a {@link Receiver}. */
export async function startReceiver(): Promise<Receiver> {
  const calls: ReceivedCall[] = [];
  const behaviours = new Map<string, ReceiverBehaviour>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0] as string;
      calls.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      const behaviour = behaviours.get(path) ?? { status: 204 };
      if (behaviour === 'hang') return; // never answers; closed with the server
      res.writeHead(behaviour.status, behaviour.headers ?? {}).end();
    });
  });
  const { origin, port, close } = await listenLocal(server);
  return {
    origin,
    port,
    calls,
    path: (name) => `/${name}-${randomBytes(4).toString('hex')}`,
    on: (path, behaviour) => behaviours.set(path, behaviour),
    callsTo: (path) => calls.filter((c) => c.path === path),
    close,
  };
}

// ----------------------------------------------------------------------- harness

/** One log line the capturing logger kept. */
export interface LogLine {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly message: string;
  readonly fields: Record<string, unknown> | undefined;
}

/** A response as the tests read it. */
export interface Reply {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  /** Parsed body when it is JSON. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly json: any;
}

/** Options of one request. */
export interface RequestOptions {
  /** API key (sent as `Authorization: Bearer <key>`). */
  readonly key?: string;
  /** Sent as JSON. */
  readonly json?: unknown;
  /** A raw body. */
  readonly body?: string | Uint8Array;
  readonly contentType?: string;
  readonly headers?: Record<string, string>;
}

/** An account the harness created, with its API key(s). */
export interface TestAccount {
  readonly account: Account;
  readonly key: string;
  readonly keys: readonly string[];
}

/** Options of {@link startHarness}. */
export interface HarnessOptions {
  /** Link secret(s); default a random one. */
  readonly secret?: string | readonly SecretInput[];
  readonly linkAlgorithm?: 'HS256' | 'EdDSA';
  /** Overrides the public URL (default: the server's origin + {@link PREFIX}). */
  readonly publicUrl?: () => string;
  /** Default true (loopback receivers); false tests the refusal. */
  readonly allowPrivateCallbacks?: boolean;
  readonly resolve?: LookupAll;
  readonly webhookTimeoutMs?: number;
  readonly retrySchedule?: readonly number[];
  readonly unhealthyAfter?: number;
  /** A shared fake clock (default: a new one at {@link START}). */
  readonly clock?: FakeClock;
  /** Wraps the store before tiergate gets it (fault injection). */
  readonly wrapStore?: (store: Store) => Store;
}

/** A tiergate served by one framework on one store. */
export interface Harness {
  readonly framework: Framework;
  readonly storeKind: StoreKind;
  readonly stores: StoreHandle;
  readonly tiergate: Tiergate;
  readonly clock: FakeClock;
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  /** origin + prefix (the public URL, unless overridden). */
  readonly base: string;
  /** Every line tiergate logged. */
  readonly logs: LogLine[];
  /** Errors that reached the framework's own error handling (should stay empty). */
  readonly frameworkErrors: unknown[];
  /** Every API key handed out (none may appear in logs or at rest). */
  readonly apiKeys: string[];
  /** Creates an account (default tier developer) with `keys` API keys. */
  addAccount(shape?: Partial<Omit<Account, 'id'>>, keys?: number): TestAccount;
  /** A request to tiergate's routes (`path` relative to the prefix). */
  api(method: string, path: string, options?: RequestOptions): Promise<Reply>;
  /** A request to an absolute URL or a path on the server. */
  fetch(method: string, url: string, options?: RequestOptions): Promise<Reply>;
  close(): Promise<void>;
}

/**
 * Starts a tiergate on `stores` served by `framework`. The harness owns the
 * server; the store belongs to the caller (several harnesses may share one,
 * as instances of one service do).
 */
export async function startHarness(framework: Framework, stores: StoreHandle, options: HarnessOptions = {}): Promise<Harness> {
  const logs: LogLine[] = [];
  const log =
    (level: LogLine['level']) =>
    (message: string, fields?: Record<string, unknown>): void => {
      logs.push({ level, message, fields });
    };
  const logger: Logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
  const entries: { apiKeyHash: string; account: Account }[] = [];
  let authenticate = apiKeyAuthenticator(entries);
  const byId = new Map<string, Account>();
  const apiKeys: string[] = [];
  const clock = options.clock ?? createFakeClock(START);
  let base = 'http://127.0.0.1';
  const webhooks = {
    allowPrivateCallbacks: options.allowPrivateCallbacks ?? true,
    timeoutMs: options.webhookTimeoutMs ?? 5_000,
    ...(options.retrySchedule === undefined ? {} : { retrySchedule: options.retrySchedule }),
    ...(options.unhealthyAfter === undefined ? {} : { unhealthyAfter: options.unhealthyAfter }),
    ...(options.resolve === undefined ? {} : { resolve: options.resolve }),
  };
  const tiergateOptions: TiergateOptions = {
    authenticate: (key) => authenticate(key),
    findAccount: (id) => byId.get(id) ?? null,
    secret: options.secret ?? randomBytes(32).toString('base64url'),
    publicUrl: options.publicUrl ?? (() => base),
    clock,
    store: options.wrapStore === undefined ? stores.store : options.wrapStore(stores.store),
    logger,
    webhooks,
    ...(options.linkAlgorithm === undefined ? {} : { linkAlgorithm: options.linkAlgorithm }),
  };
  const tiergate = createTiergate(tiergateOptions);
  const frameworkErrors: unknown[] = [];
  const server = await startServer(framework, tiergate, frameworkErrors);
  base = `${server.origin}${PREFIX}`;

  async function request(method: string, url: string, opts: RequestOptions = {}): Promise<Reply> {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.key !== undefined) headers['authorization'] = `Bearer ${opts.key}`;
    let body: string | Uint8Array<ArrayBuffer> | undefined;
    if (opts.json !== undefined) {
      body = JSON.stringify(opts.json);
      headers['content-type'] = 'application/json';
    } else if (opts.body !== undefined) {
      body = typeof opts.body === 'string' ? opts.body : new Uint8Array(opts.body);
      if (opts.contentType !== undefined) headers['content-type'] = opts.contentType;
    }
    const response = await fetch(url.startsWith('http') ? url : `${server.origin}${url}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body }),
      redirect: 'manual',
    });
    const text = await response.text();
    const isJson = (response.headers.get('content-type') ?? '').includes('json') && text !== '';
    return { status: response.status, headers: response.headers, text, json: isJson ? JSON.parse(text) : undefined };
  }

  return {
    framework,
    storeKind: stores.kind,
    stores,
    tiergate,
    clock,
    origin: server.origin,
    get base() {
      return base;
    },
    logs,
    frameworkErrors,
    apiKeys,
    addAccount(shape = {}, count = 1) {
      const id = `acc_${randomBytes(6).toString('hex')}`;
      const account: Account = { tier: 'developer', webhookSecret: generateWebhookSecret(), ...shape, id };
      const keys = Array.from({ length: count }, () => `tgk_${randomBytes(18).toString('base64url')}`);
      for (const key of keys) entries.push({ apiKeyHash: hashApiKey(key), account });
      authenticate = apiKeyAuthenticator(entries);
      byId.set(id, account);
      apiKeys.push(...keys);
      return { account, key: keys[0] as string, keys };
    },
    api: (method, path, opts) => request(method, `${base}${path}`, opts),
    fetch: request,
    async close() {
      await server.close();
      await tiergate.stop();
    },
  };
}

// -------------------------------------------------------------------- assertions

/** Parsed JSON, shape checked by the assertions. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Parsed = any;

/** A success envelope with `status`; returns `result`. */
export function expectSuccess(reply: Reply, status: number): Parsed {
  expect({ status: reply.status, body: reply.text.slice(0, 300) }).toMatchObject({ status });
  expect(Object.keys(reply.json as object).sort()).toEqual(['next_steps', 'result']);
  return reply.json.result;
}

/** An error envelope with `status` and `code`; returns `error`. */
export function expectError(reply: Reply, status: number, code: string): Parsed {
  expect({ status: reply.status, code: reply.json?.error?.code, body: reply.text.slice(0, 300) }).toMatchObject({ status, code });
  expect(reply.headers.get('content-type')).toMatch(/^application\/json/);
  expect(reply.headers.get('cache-control')).toBe('no-store');
  expect(reply.headers.get('x-content-type-options')).toBe('nosniff');
  expect(Object.keys(reply.json as object).sort()).toEqual(['error', 'next_steps']);
  return reply.json.error;
}

/** The security headers every operator page and error page carries (DESIGN security rule 6). */
export function expectPageHeaders(reply: Reply): void {
  expect(reply.headers.get('content-type'), `content-type of a ${reply.status} page`).toMatch(/^text\/html; charset=utf-8/);
  expect(reply.headers.get('content-security-policy')).toBe(PAGE_CSP);
  expect(PAGE_CSP).toContain("default-src 'none'");
  expect(PAGE_CSP).toContain("frame-ancestors 'none'");
  expect(PAGE_CSP).not.toMatch(/script-src|unsafe-/);
  expect(reply.headers.get('referrer-policy')).toBe('no-referrer');
  expect(reply.headers.get('cache-control')).toBe('no-store');
  expect(reply.headers.get('x-robots-tag')).toMatch(/noindex/);
  expect(reply.headers.get('x-content-type-options')).toBe('nosniff');
  expect(reply.headers.get('x-frame-options')).toBe('DENY');
  expect(reply.headers.get('location')).toBeNull();
  expect(reply.text).not.toMatch(/<script/i);
}

/** Link tokens (three-part JWS) as they appear in URLs and texts; a sealed context has four parts and does not match. */
export const TOKEN_PATTERN = /(?<![A-Za-z0-9_.-])eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+(?![A-Za-z0-9_.-])/g;

/**
 * Asserts no log line holds a link token, a `token=` query, an API key, a
 * webhook secret or any of `secrets` (e.g. context markers), and that nothing
 * reached the framework's error handling.
 */
export function expectCleanLogs(h: Harness, secrets: readonly string[] = []): void {
  const text = h.logs.map((l) => `${l.level} ${l.message} ${JSON.stringify(l.fields ?? {})}`).join('\n');
  expect(text.match(TOKEN_PATTERN)).toBeNull();
  expect(text).not.toMatch(/token=|whsec_/);
  for (const key of h.apiKeys) expect(text).not.toContain(key);
  for (const secret of secrets) expect(text).not.toContain(secret);
  expect(h.frameworkErrors).toEqual([]);
}

// The page readers are @tiergate/testing's (the adapter conformance suite uses the same).
export { decisionForm, decodeEntities, type DecisionForm } from '@tiergate/testing';

/** `application/x-www-form-urlencoded` of `fields`. */
export function formBody(fields: Record<string, string>): string {
  return new URLSearchParams(fields).toString();
}

/** Content type of the operator form. */
export const FORM = 'application/x-www-form-urlencoded';

/** Posts a decision the way the page's form does. */
export function postDecision(h: Harness, form: DecisionForm, decision: string, extra: Record<string, string> = {}, headers: Record<string, string> = {}): Promise<Reply> {
  return h.fetch('POST', form.action, { body: formBody({ token: form.token, form_token: form.formToken, decision, ...extra }), contentType: FORM, headers });
}

/** A pending approval request created over HTTP, with its page's form. */
export interface CreatedApproval {
  readonly id: string;
  readonly url: string;
  readonly notificationId: string;
  readonly expiresAt: number;
  readonly form: DecisionForm;
}

/** Requests an approval (callback to `callbackUrl` when given) and opens its page. */
export async function requestApproval(h: Harness, key: string, fields: Record<string, unknown> = {}): Promise<CreatedApproval> {
  const created = expectSuccess(
    await h.api('POST', '/v1/notify-operator', {
      key,
      json: { type: 'approval_request', action: 'bulk_send', reason: 'Sending to 500 recipients', context: { recipients: 500 }, expires_in: 3600, ...fields },
    }),
    201,
  );
  const page = await h.fetch('GET', created.operator_action_url as string);
  expect(page.status).toBe(200);
  return { id: created.request_id, url: created.operator_action_url, notificationId: created.notification_id, expiresAt: Date.parse(created.expires_at), form: decisionForm(page.text) };
}

/** Everything the store knows about an approval (to prove a request changed nothing). */
export async function approvalState(h: Harness, id: string): Promise<unknown> {
  return {
    approval: await h.tiergate.approvals.get(id),
    audit: await h.tiergate.approvals.audit(id),
    outbox: await h.tiergate.approvals.deliveries(id),
  };
}

/** Polls `condition` a bounded number of times (effects of another request or process). */
export async function eventually(condition: () => boolean | Promise<boolean>, what: string, attempts = 300): Promise<void> {
  for (let i = 0; i < attempts; i += 1) {
    if (await condition()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * The error an error page shows, as its code (read from the page's title,
 * which the catalog maps one to one), or `undefined` for a page that is not
 * an error page.
 */
export function pageErrorCode(h: Harness, reply: Reply): string | undefined {
  const title = decodeEntities(/<h1>([^<]*)<\/h1>/.exec(reply.text)?.[1] ?? '');
  const p = h.tiergate.messages.page;
  const codes = new Map<string, string>([
    [p.linkInvalidTitle, 'LINK_INVALID'],
    [p.linkExpiredTitle, 'LINK_EXPIRED'],
    [p.linkScopeTitle, 'LINK_SCOPE_MISMATCH'],
    [p.forbiddenTitle, 'CSRF_REJECTED'],
    [p.notFoundTitle, 'NOT_FOUND'],
    [p.unavailableTitle, 'STORE_UNAVAILABLE'],
    [p.errorTitle, 'ERROR'],
  ]);
  return codes.get(title);
}

/** An error page with `status`, the code `code` and the security headers. */
export function expectErrorPage(h: Harness, reply: Reply, status: number, code: string): void {
  expect({ status: reply.status, code: pageErrorCode(h, reply) }).toEqual({ status, code });
  expectPageHeaders(reply);
}
