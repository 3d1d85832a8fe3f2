/**
 * A real tiergate server for the client's tests: `node:http` on 127.0.0.1:0
 * in front of core's `createHandler`, mounted under `/tg` next to two host
 * routes guarded by `createGuard` (the way an app mounts tiergate beside its
 * own API), plus a few routes that answer like a misbehaving proxy.
 */
import http from 'node:http';
import {
  TiergateError,
  apiKeyAuthenticator,
  createGuard,
  createHandler,
  createTiergate,
  memoryStore,
  storeUnavailable,
  transitionEach,
  type Account,
  type GuardResult,
  type KernelResponse,
  type Store,
  type TiergateOptions,
} from '@tiergate/core';
import { createFakeClock, listenLocal } from '@tiergate/testing';

/** The Standard Webhooks spec's example secret, used as every account's `whsec_`. */
export const WEBHOOK_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

/** Test accounts; API key = `key_<id>`. */
export const ACCOUNTS = {
  free: { id: 'acc_free', tier: 'free', webhookSecret: WEBHOOK_SECRET, operatorEmail: 'ops@example.com' },
  dev: { id: 'acc_dev', tier: 'developer', webhookSecret: WEBHOOK_SECRET, operatorEmail: 'ops@example.com' },
  full: { id: 'acc_full', tier: 'developer', usage: { send_messages: { day: 100, month: 100 } }, webhookSecret: WEBHOOK_SECRET },
  review: { id: 'acc_review', tier: 'developer', status: 'under_review', webhookSecret: WEBHOOK_SECRET },
  hook: { id: 'acc_hook', tier: 'developer', webhookHealthy: false, webhookSecret: WEBHOOK_SECRET },
  nosecret: { id: 'acc_nosecret', tier: 'developer' },
  limited: { id: 'acc_limited', tier: 'developer', webhookSecret: WEBHOOK_SECRET },
  retry: { id: 'acc_retry', tier: 'developer', webhookSecret: WEBHOOK_SECRET },
} as const satisfies Record<string, Account>;

/** The API key of a test account. */
export const keyOf = (account: { readonly id: string }): string => `key_${account.id}`;

/** A store that delegates to `memoryStore()` and can be switched to fail like an unreachable backend. */
export interface SwitchableStore extends Store {
  /** Fail every call from now on (`calls` omitted) or only the next `calls` calls; `retryAfterSeconds` sets the 503's Retry-After. */
  fail(options?: { readonly calls?: number; readonly retryAfterSeconds?: number }): void;
  /** Back to normal. */
  recover(): void;
  /** Approval ids a long poll is currently waiting on (registered synchronously). */
  readonly waiting: string[];
}

/** Wraps a store so that it can be made to reject with `STORE_UNAVAILABLE`, as an unreachable backend does. */
export function switchableStore(inner: Store): SwitchableStore {
  let failing: { calls: number; retryAfterSeconds: number | undefined } | undefined;
  const waiting: string[] = [];
  function guard<A extends unknown[], R>(method: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
    return (...args) => {
      if (failing !== undefined && failing.calls > 0) {
        failing.calls -= 1;
        const cause = new Error('connect ECONNREFUSED 127.0.0.1:5432');
        const error =
          failing.retryAfterSeconds === undefined
            ? storeUnavailable(cause)
            : storeUnavailable(new TiergateError('STORE_UNAVAILABLE', 'The store is unavailable; retry shortly.', { cause, retryAfterSeconds: failing.retryAfterSeconds }));
        return Promise.reject(error);
      }
      return method(...args);
    };
  }
  return {
    kind: `switchable(${inner.kind})`,
    createNotification: guard((input) => inner.createNotification(input)),
    getNotification: guard((id) => inner.getNotification(id)),
    getApproval: guard((id) => inner.getApproval(id)),
    transitionApproval: guard((input) => inner.transitionApproval(input)),
    transitionApprovals: guard((inputs) => transitionEach(inner, inputs)),
    dueApprovals: guard((now, limit) => inner.dueApprovals(now, limit)),
    listAudit: guard((id) => inner.listAudit(id)),
    claimOutbox: guard((now, limit, leaseMs) => inner.claimOutbox(now, limit, leaseMs)),
    settleOutbox: guard((id, lease, settlement) => inner.settleOutbox(id, lease, settlement)),
    listOutbox: guard((id) => inner.listOutbox(id)),
    consumeQuota: guard((input) => inner.consumeQuota(input)),
    refundQuota: guard((input) => inner.refundQuota(input)),
    readAccountState: guard((id, actions, keys) => inner.readAccountState(id, actions, keys)),
    recordDelivery: guard((id, outcome, url, threshold) => inner.recordDelivery(id, outcome, url, threshold)),
    rateLimiter(options) {
      const limiter = inner.rateLimiter(options);
      return { consume: guard((key: string, points?: number) => limiter.consume(key, points)), refund: guard((key: string, points?: number) => limiter.refund(key, points)) };
    },
    waitForApproval(id, timeoutMs, signal) {
      waiting.push(id);
      return inner.waitForApproval(id, timeoutMs, signal).finally(() => waiting.splice(waiting.indexOf(id), 1));
    },
    purge: guard((now, limit) => inner.purge(now, limit)),
    fail(options = {}) {
      failing = { calls: options.calls ?? Infinity, retryAfterSeconds: options.retryAfterSeconds };
    },
    recover() {
      failing = undefined;
    },
    waiting,
  };
}

/** One request the server saw. */
export interface SeenRequest {
  readonly method: string;
  readonly path: string;
  readonly query: string;
  readonly authorization: string | undefined;
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function write(res: http.ServerResponse, response: KernelResponse): void {
  res.writeHead(response.status, response.headers).end(response.body);
}

/** Starts the server; `overrides` go to `createTiergate`. */
export async function startTiergateServer(overrides: Partial<TiergateOptions> = {}) {
  const clock = createFakeClock('2026-03-10T12:00:00.000Z');
  const store = switchableStore(memoryStore());
  const accounts: readonly Account[] = Object.values(ACCOUNTS);
  let baseUrl = '';
  const tiergate = createTiergate({
    authenticate: apiKeyAuthenticator(accounts.map((account) => ({ apiKey: keyOf(account), account }))),
    findAccount: (id) => accounts.find((a) => a.id === id) ?? null,
    secret: 'client-tests-link-signing-secret-0123456789',
    publicUrl: () => baseUrl,
    clock,
    store,
    webhooks: { allowPrivateCallbacks: true, timeoutMs: 2000 },
    ...overrides,
  });
  const handle = createHandler(tiergate);
  const guards: Record<string, (headers: http.IncomingHttpHeaders) => Promise<GuardResult>> = {
    '/v1/messages/send': createGuard(tiergate, 'send_messages', { consume: 1 }),
    '/v1/webhooks': createGuard(tiergate, 'create_webhooks'),
  };
  const requests: SeenRequest[] = [];

  const server = http.createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      requests.push({ method: req.method ?? 'GET', path: url.pathname, query: url.search.slice(1), authorization: req.headers.authorization });
      const body = await readBody(req);
      if (url.pathname === '/proxy-error/v1/capabilities') {
        res.writeHead(502, { 'content-type': 'text/html' }).end('<html><body>502 Bad Gateway</body></html>');
        return;
      }
      if (url.pathname === '/not-json/v1/capabilities') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
        return;
      }
      if (url.pathname === '/no-envelope/v1/capabilities') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"hello":"world"}');
        return;
      }
      if (!url.pathname.startsWith('/tg/')) {
        res.writeHead(404).end();
        return;
      }
      const path = url.pathname.slice('/tg'.length);
      if (path === '/v1/hang') return; // never answers: client timeouts
      const guard = guards[path];
      if (guard !== undefined && req.method === 'POST') {
        const result = await guard(req.headers);
        if (!result.ok) write(res, result.response);
        else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ result: { sent: true, consumed: result.context.consumed }, next_steps: [] }));
        return;
      }
      const aborted = new AbortController();
      res.on('close', () => aborted.abort());
      const response = await handle({
        method: req.method ?? 'GET',
        path,
        query: url.search.slice(1),
        headers: req.headers,
        body,
        signal: aborted.signal,
        ...(req.socket.remoteAddress === undefined ? {} : { ip: req.socket.remoteAddress }),
      });
      write(res, response);
    })().catch((err: unknown) => {
      res.writeHead(500).end(String(err));
    });
  });
  const local = await listenLocal(server);
  const origin = local.origin;
  baseUrl = `${origin}/tg`;

  return {
    tiergate,
    clock,
    store,
    origin,
    baseUrl,
    requests,
    /** Requests the server saw whose path ends with `suffix`. */
    seen: (suffix: string) => requests.filter((r) => r.path.endsWith(suffix)),
    async close() {
      await tiergate.stop();
      await local.close();
    },
  };
}

/** A real HTTP receiver for approval callbacks: records raw bodies and headers, answers 200. */
export async function startCallbackReceiver() {
  const received: { headers: http.IncomingHttpHeaders; body: string }[] = [];
  const server = http.createServer((req, res) => {
    void readBody(req).then((body) => {
      received.push({ headers: req.headers, body: body.toString('utf8') });
      res.writeHead(200).end();
    });
  });
  const { origin, close } = await listenLocal(server);
  return { url: `${origin}/webhook/approval`, received, close };
}

/** Polls `condition` (bounded) until it holds: for async effects, not for time. */
export async function until(condition: () => boolean, tries = 500): Promise<void> {
  for (let i = 0; i < tries; i += 1) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('condition not reached');
}
