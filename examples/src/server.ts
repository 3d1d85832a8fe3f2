/**
 * The example server: tiergate mounted on Express, Fastify or Koa, with the
 * in-memory store (default) or the host's PostgreSQL / Redis, plus one demo
 * host route guarded by `requireCapability`. `main.ts` starts it from
 * environment variables (DESIGN.md); tests start it in-process.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  apiKeyAuthenticator,
  createTiergate,
  defaultTiers,
  memoryStore,
  type Logger,
  type NotifierOptions,
  type Store,
  type Tiergate,
} from '@tiergate/core';
import type { PostgresStore } from '@tiergate/postgres';
import { DEMO_ACCOUNTS, loadAccountsFile, type KeyedAccount } from './accounts.js';

/** Which framework serves the routes. */
export type Framework = 'express' | 'fastify' | 'koa';

/** The frameworks the example server runs on. */
export const FRAMEWORKS: readonly Framework[] = ['express', 'fastify', 'koa'];

/** Configuration of {@link startExampleServer} (DESIGN.md: the example server). */
export interface ExampleServerConfig {
  /** Listen port; 0 = any (default 3000). */
  readonly port?: number;
  /** Listen address (default 127.0.0.1). */
  readonly host?: string;
  /** `express`, `fastify` (default) or `koa`. */
  readonly framework?: Framework;
  /**
   * `memory` (default), a `postgres://…` URL or a `redis://…` URL. A
   * `?schema=` parameter on a PostgreSQL URL chooses the schema; a `?prefix=`
   * parameter on a Redis URL chooses the key prefix (both are removed before
   * the URL reaches the driver).
   */
  readonly store?: string;
  /**
   * PostgreSQL schema (default `tiergate`) or Redis key prefix (default
   * `tiergate:`) of the store; the same as `?schema=` / `?prefix=` on the
   * store URL. Instances that share state must use the same one; tests use a
   * random one each.
   */
  readonly storeSchema?: string;
  /** Path of a JSON accounts file; default the built-in demo accounts. */
  readonly accountsFile?: string;
  /** Link-signing secret (≥ 32 bytes); default random per start. */
  readonly secret?: string;
  /** Base of operator links; default the listen URL. */
  readonly publicUrl?: string;
  /** Allow loopback/private callback URLs (development only). */
  readonly allowPrivateCallbacks?: boolean;
  /** Operator notification channels (`main.ts` builds them from the environment); default none. */
  readonly notifiers?: NotifierOptions;
  /** tiergate's logger; also told about store connection errors. */
  readonly logger?: Logger;
  /** Options passed through to createTiergate (tests: fake clock, rate limits). */
  readonly tiergate?: Partial<Parameters<typeof createTiergate>[0]>;
}

/** A running example server. */
export interface ExampleServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** Base of the operator links it issues (`TIERGATE_PUBLIC_URL`, else {@link ExampleServer.url}). */
  readonly publicUrl: string;
  readonly framework: Framework;
  /** The store in use, e.g. `memory` or `postgres (schema tiergate)`; never credentials. */
  readonly store: string;
  /** The service, for tests (fake-clock `sweep()` / `deliver()`) and host code. */
  readonly tiergate: Tiergate;
  /** The accounts it authenticates (demo accounts or the accounts file). */
  readonly accounts: readonly KeyedAccount[];
  /** True when the secret was generated for this start (links die with the process). */
  readonly randomSecret: boolean;
  /** Stops listening, stops the background work and closes the store's connections. */
  close(): Promise<void>;
}

interface OpenedStore {
  readonly store: Store;
  /** What the server prints: the store kind with its schema or key prefix, no credentials. */
  readonly description: string;
  close(): Promise<void>;
}

const REDIS_PREFIX_SYNTAX = /^[\x21-\x7E]{1,100}$/;

/** Takes `?<name>=` off a store URL (drivers must not see it) and reconciles it with the `storeSchema` option. */
function namespaceOf(url: URL, parameter: string, option: string | undefined): string | undefined {
  const fromUrl = url.searchParams.get(parameter) ?? undefined;
  url.searchParams.delete(parameter);
  if (fromUrl !== undefined && option !== undefined && fromUrl !== option) {
    throw new Error(`TIERGATE_STORE's ?${parameter}= ("${fromUrl}") and TIERGATE_STORE_SCHEMA ("${option}") disagree; set one of them`);
  }
  const value = fromUrl ?? option;
  if (value === '') throw new Error(`the store ${parameter} must not be empty`);
  return value;
}

function parseStoreUrl(spec: string): URL {
  try {
    return new URL(spec);
  } catch {
    throw new Error('TIERGATE_STORE is not a valid URL');
  }
}

async function openStore(spec: string, storeSchema: string | undefined, logger: Logger | undefined): Promise<OpenedStore> {
  if (spec === 'memory') {
    if (storeSchema !== undefined) throw new Error('TIERGATE_STORE_SCHEMA applies to a postgres:// or redis:// store only');
    return { store: memoryStore(), description: 'memory', close: async () => undefined };
  }
  if (spec.startsWith('postgres://') || spec.startsWith('postgresql://')) {
    const url = parseStoreUrl(spec);
    const schema = namespaceOf(url, 'schema', storeSchema);
    const { default: pg } = await import('pg');
    const { postgresStore } = await import('@tiergate/postgres');
    const pool = new pg.Pool({ connectionString: url.toString(), max: 10, connectionTimeoutMillis: 5000 });
    // An idle client's error (database restarted) must not crash the process; the next query reconnects.
    pool.on('error', (err) => logger?.warn('postgres pool error', { error: err.message }));
    let opened: PostgresStore;
    try {
      opened = postgresStore(schema === undefined ? { pool } : { pool, schema });
    } catch (err) {
      await pool.end();
      throw new Error(`TIERGATE_STORE_SCHEMA / ?schema=: ${err instanceof Error ? err.message : String(err)}`);
    }
    try {
      await opened.migrate();
    } catch (err) {
      await pool.end();
      throw err;
    }
    return {
      store: opened,
      description: `postgres (schema ${opened.schema})`,
      close: async () => {
        await opened.close();
        await pool.end();
      },
    };
  }
  if (spec.startsWith('redis://') || spec.startsWith('rediss://')) {
    const url = parseStoreUrl(spec);
    const keyPrefix = namespaceOf(url, 'prefix', storeSchema);
    if (keyPrefix !== undefined && !REDIS_PREFIX_SYNTAX.test(keyPrefix)) throw new Error('the Redis key prefix (TIERGATE_STORE_SCHEMA / ?prefix=) must be 1–100 printable ASCII characters without spaces');
    const { Redis } = await import('ioredis');
    const { redisStore } = await import('@tiergate/redis');
    // The redis package README's client settings: one retry per command, reconnect forever.
    const client = new Redis(url.toString(), { maxRetriesPerRequest: 1, connectTimeout: 5000, lazyConnect: true });
    let lastError: Error | undefined;
    client.on('error', (err: Error) => {
      lastError = err;
      logger?.warn('redis client error', { error: err.message });
    });
    try {
      await client.connect();
    } catch (err) {
      client.disconnect();
      // ioredis rejects with "Connection is closed"; the socket error before it says why.
      throw new Error(`cannot connect to Redis: ${(lastError ?? (err instanceof Error ? err : new Error(String(err)))).message}`);
    }
    const store = redisStore(keyPrefix === undefined ? { client } : { client, keyPrefix });
    return {
      store,
      description: `redis (key prefix ${store.keyPrefix})`,
      close: async () => {
        await store.close();
        await client.quit().catch(() => client.disconnect());
      },
    };
  }
  throw new Error(`TIERGATE_STORE must be "memory", a postgres:// URL or a redis:// URL (got "${spec.replace(/\/\/[^@/]*@/, '//***@')}")`);
}

/** The demo host route: "send a message", guarded by the send quota. */
const SEND_ROUTE = '/v1/messages/send';

async function listen(framework: Framework, tiergate: Tiergate, port: number, host: string): Promise<{ server: http.Server; close(): Promise<void> }> {
  if (framework === 'express') {
    const { default: express } = await import('express');
    const { tiergateRouter, requireCapability } = await import('@tiergate/express');
    const app = express();
    app.disable('x-powered-by');
    app.post(SEND_ROUTE, requireCapability(tiergate, 'send_messages', { consume: 1 }), (req, res) => {
      res.status(200).json({ result: { sent: true, account: req.tiergate?.account.id }, next_steps: ['Check usage via GET /v1/account'] });
    });
    app.use(tiergateRouter(tiergate));
    const server = http.createServer(app);
    await new Promise<void>((r) => server.listen(port, host, r));
    return { server, close: () => closeServer(server) };
  }
  if (framework === 'fastify') {
    const { default: Fastify } = await import('fastify');
    const { tiergatePlugin } = await import('@tiergate/fastify');
    const app = Fastify({ logger: false });
    await app.register(tiergatePlugin, { tiergate });
    app.post(SEND_ROUTE, { preHandler: app.requireCapability('send_messages', { consume: 1 }) }, async (request) => ({
      result: { sent: true, account: request.tiergate?.account.id },
      next_steps: ['Check usage via GET /v1/account'],
    }));
    await app.listen({ port, host });
    return { server: app.server, close: () => app.close() };
  }
  const { default: Koa } = await import('koa');
  const { tiergateMiddleware, requireCapability } = await import('@tiergate/koa');
  const app = new Koa();
  const guard = requireCapability(tiergate, 'send_messages', { consume: 1 });
  app.use(async (ctx, next) => {
    if (ctx.method !== 'POST' || ctx.path !== SEND_ROUTE) return next();
    await guard(ctx, async () => {
      ctx.body = { result: { sent: true, account: ctx.state.tiergate?.account.id }, next_steps: ['Check usage via GET /v1/account'] };
    });
  });
  app.use(tiergateMiddleware(tiergate, { prefix: '' }));
  const server = http.createServer(app.callback());
  await new Promise<void>((r) => server.listen(port, host, r));
  return { server, close: () => closeServer(server) };
}

function closeServer(server: http.Server): Promise<void> {
  server.closeIdleConnections();
  return new Promise((resolve) => {
    const timer = setTimeout(() => server.closeAllConnections(), 2000);
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Checks `publicUrl`: an absolute http(s) URL without query or fragment. */
function checkPublicUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`TIERGATE_PUBLIC_URL must be an absolute http(s) URL (got "${value}")`);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.search !== '' || url.hash !== '') {
    throw new Error(`TIERGATE_PUBLIC_URL must be an http(s) URL without query or fragment (got "${value}")`);
  }
  return value.replace(/\/+$/, '');
}

/**
 * Starts the example server: validates the configuration (a bad framework,
 * store, accounts file or public URL throws before anything listens), opens
 * the store (migrating PostgreSQL), listens, and starts tiergate's expiry
 * sweep and callback dispatcher.
 */
export async function startExampleServer(config: ExampleServerConfig = {}): Promise<ExampleServer> {
  const framework = config.framework ?? 'fastify';
  if (!FRAMEWORKS.includes(framework)) throw new Error(`FRAMEWORK must be express, fastify or koa (got "${String(framework)}")`);
  const tiers = config.tiergate?.tiers ?? defaultTiers;
  const accounts = config.accountsFile === undefined ? DEMO_ACCOUNTS : loadAccountsFile(config.accountsFile, tiers);
  const byId = new Map(accounts.map((a) => [a.account.id, a.account]));
  const randomSecret = config.secret === undefined;
  const secret = config.secret ?? randomBytes(32).toString('base64url');
  let publicUrl = config.publicUrl === undefined ? '' : checkPublicUrl(config.publicUrl);
  const opened = await openStore(config.store ?? 'memory', config.storeSchema, config.logger);

  let tiergate: Tiergate | undefined;
  try {
    tiergate = createTiergate({
      authenticate: apiKeyAuthenticator(accounts),
      findAccount: (id) => byId.get(id) ?? null,
      secret,
      publicUrl: () => publicUrl,
      store: opened.store,
      webhooks: { allowPrivateCallbacks: config.allowPrivateCallbacks ?? false },
      ...(config.notifiers === undefined ? {} : { notifiers: config.notifiers }),
      ...(config.logger === undefined ? {} : { logger: config.logger }),
      ...config.tiergate,
    });
    const { server, close } = await listen(framework, tiergate, config.port ?? 3000, config.host ?? '127.0.0.1');
    const address = server.address() as AddressInfo;
    const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
    if (publicUrl === '') publicUrl = url;
    tiergate.start();
    const running = tiergate;
    return {
      url,
      publicUrl,
      framework,
      store: opened.description,
      tiergate: running,
      accounts,
      randomSecret,
      async close() {
        await close();
        await running.stop();
        await opened.close();
      },
    };
  } catch (err) {
    await tiergate?.stop();
    await opened.close();
    throw err;
  }
}
