/**
 * `@tiergate/koa`: Koa middleware serving tiergate's routes under a prefix,
 * plus `requireCapability()` guard middleware for the host's own routes.
 *
 * Translation only: every decision is made by `@tiergate/core`'s kernel
 * (`createHandler`) and guard (`createGuard`); this file turns a Koa context
 * into a `KernelRequest` and a `KernelResponse` into `ctx.status/body`.
 *
 * @packageDocumentation
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type {} from 'koa';
import {
  createGuard,
  createHandler,
  type GuardContext,
  type GuardOptions,
  type GuardResult,
  type KernelRequest,
  type KernelResponse,
  type Tiergate,
} from '@tiergate/core';

declare module 'koa' {
  interface DefaultState {
    /** Set by `requireCapability()` when the request is allowed: the account, the decision, `refund()`, `capabilities()`, `ability()`. */
    tiergate?: GuardContext;
  }
}

/** The parts of a Koa context the middleware reads and writes. */
export interface TiergateKoaContext {
  readonly method: string;
  /** Request path, not decoded. */
  readonly path: string;
  /** Raw query string without `?`. */
  readonly querystring: string;
  readonly headers: IncomingHttpHeaders;
  readonly ip: string;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** Koa's request; a host body parser may have put `body` on it. */
  readonly request: object;
  status: number;
  body: unknown;
}

/** A Koa context with the state `requireCapability` writes. */
export interface TiergateKoaGuardContext {
  readonly headers: IncomingHttpHeaders;
  readonly state: { tiergate?: GuardContext };
  readonly res: ServerResponse;
  status: number;
  body: unknown;
}

/** Koa's `next`. */
export type Next = () => Promise<unknown>;

/** Options of {@link tiergateMiddleware}. */
export interface TiergateMiddlewareOptions {
  /**
   * Where tiergate's routes live, e.g. `/tiergate`; `''` (or `/`) is the root,
   * where the middleware answers every path (mount it after the host's
   * routes then). `publicUrl` must point here.
   */
  readonly prefix: string;
}

function send(ctx: Pick<TiergateKoaContext, 'status' | 'body' | 'res'>, response: KernelResponse): void {
  // As ctx.set() would: nothing once the head is sent.
  if (ctx.res.headersSent) return;
  ctx.status = response.status;
  // Headers first (Koa keeps an explicit Content-Type when the body is set), on Node's response directly:
  // what ctx.set(fields) ends in, without its entries list, pair arrays and lower-casing of every name.
  // tiergate's header values are single strings, which Koa would pass on as they are.
  const res = ctx.res;
  const headers = response.headers;
  for (const name in headers) res.setHeader(name, headers[name] as string);
  ctx.body = response.body;
}

/**
 * A Koa request as the kernel reads it. The query string and the client's IP are read from Koa only when
 * a route asks for them (Koa's getters parse the URL and the forwarding headers; most routes need neither).
 */
class KoaKernelRequest implements KernelRequest {
  readonly method: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: unknown;
  readonly response: ServerResponse;
  constructor(
    private readonly ctx: TiergateKoaContext,
    readonly path: string,
  ) {
    this.method = ctx.method;
    this.headers = ctx.headers;
    // What a host body parser put on ctx.request.body if one consumed the stream, else the stream (the kernel reads it).
    this.body = ctx.req.readableEnded ? (ctx.request as { body?: unknown }).body : ctx.req;
    // The kernel watches it for a disconnect only during a ?wait= long poll.
    this.response = ctx.res;
  }

  get query(): string {
    return this.ctx.querystring;
  }

  get ip(): string {
    return this.ctx.ip;
  }
}

/**
 * Koa middleware serving every route of tiergate's wire contract (agent API,
 * operator pages, OpenAPI document) under `prefix`; other paths go to
 * `next()`.
 *
 * @example
 * import Koa from 'koa';
 * import { tiergateMiddleware } from '@tiergate/koa';
 *
 * const app = new Koa();
 * app.use(tiergateMiddleware(tiergate, { prefix: '/tiergate' })); // publicUrl: 'https://api.example.com/tiergate'
 */
export function tiergateMiddleware(tiergate: Tiergate, options: TiergateMiddlewareOptions) {
  const handle = createHandler(tiergate);
  const prefix = options.prefix.replace(/\/+$/, '');
  const under = `${prefix}/`;
  // Not an async function: when the kernel answers without waiting, the response is set before this returns.
  return function tiergateRoutes(ctx: TiergateKoaContext, next: Next): Promise<unknown> | undefined {
    const path = ctx.path;
    if (path !== prefix && !path.startsWith(under)) return next();
    const response = handle.now(new KoaKernelRequest(ctx, path.slice(prefix.length) || '/'));
    if (response instanceof Promise) return response.then((answer) => send(ctx, answer));
    send(ctx, response);
    return undefined;
  };
}

/**
 * Guard middleware for the host's own routes: authenticates the
 * `Authorization: Bearer` key and checks `action` (with `consume`, atomically
 * takes quota). Allowed → `ctx.state.tiergate` is set and `next()` runs;
 * denied → tiergate's response is set (401, 403 with the reason code and
 * `details.upgrade_context`, 429 with `Retry-After`, 503 when the store is
 * down — it fails closed).
 *
 * @example
 * router.post('/v1/messages/send', requireCapability(tiergate, 'send_messages', { consume: 1 }), (ctx) => {
 *   ctx.body = { sent: true, account: ctx.state.tiergate?.account.id };
 * });
 */
export function requireCapability(tiergate: Tiergate, action: string, options: GuardOptions = {}) {
  const guard = createGuard(tiergate, action, options);
  const proceed = (ctx: TiergateKoaGuardContext, next: Next, result: GuardResult): Promise<unknown> | undefined => {
    if (!result.ok) {
      send(ctx, result.response);
      return undefined;
    }
    ctx.state.tiergate = result.context;
    return next();
  };
  // Not an async function: goes on at once when nothing had to be waited for (a synchronous authenticator, the memory store).
  return function tiergateGuard(ctx: TiergateKoaGuardContext, next: Next): Promise<unknown> | undefined {
    const result = guard.now(ctx.headers);
    return result instanceof Promise ? result.then((settled) => proceed(ctx, next, settled)) : proceed(ctx, next, result);
  };
}

export type { GuardContext, GuardOptions } from '@tiergate/core';
