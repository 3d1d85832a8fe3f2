/**
 * `@tiergate/express`: tiergate's routes as an Express router, and
 * `requireCapability()` guard middleware for the host's own routes.
 *
 * Translation only: every decision is made by `@tiergate/core`'s kernel
 * (`createHandler`) and guard (`createGuard`); this file turns an Express
 * request into a `KernelRequest` and a `KernelResponse` into bytes.
 *
 * @packageDocumentation
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import express from 'express';
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

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Set by `requireCapability()` when the request is allowed: the account, the decision, `refund()`, `capabilities()`, `ability()`. */
      tiergate?: GuardContext;
    }
  }
}

/** The parts of an Express request the adapter reads. */
export interface TiergateExpressRequest extends IncomingMessage {
  /** Path relative to the router's mount point (Express sets it). */
  readonly path: string;
  readonly ip?: string | undefined;
  /** A body a host parser (`express.json()`, `express.urlencoded()`, …) already produced. */
  readonly body?: unknown;
  tiergate?: GuardContext;
}

/** Express's `next`. */
export type NextFunction = (err?: unknown) => void;

/**
 * Writes a kernel response (already serialised) as it is: no ETag, no re-encoding. Headers are set one
 * by one rather than passed to `writeHead`, which would send them before the body is known and make
 * Node frame the answer as chunked; this way Node writes `Content-Length` (UTF-8 bytes), as Fastify
 * and Koa do.
 */
function send(res: ServerResponse, response: KernelResponse): void {
  res.statusCode = response.status;
  const headers = response.headers;
  for (const name in headers) res.setHeader(name, headers[name] as string);
  res.end(response.body);
}

/**
 * An Express request as the kernel reads it. The client's IP is read from Express only when a route asks
 * for it: `req.ip` runs Express's `trust proxy` rules over the forwarding headers on every read, and most
 * routes need no IP.
 */
class ExpressKernelRequest implements KernelRequest {
  readonly method: string;
  readonly path: string;
  readonly query: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: unknown;
  constructor(
    private readonly req: TiergateExpressRequest,
    // The kernel watches it for a disconnect only during a ?wait= long poll.
    readonly response: ServerResponse,
  ) {
    const url = req.url ?? '/';
    const queryAt = url.indexOf('?');
    this.method = req.method ?? 'GET';
    this.path = req.path;
    this.query = queryAt === -1 ? '' : url.slice(queryAt + 1);
    this.headers = req.headers;
    // What a host body parser produced if one already consumed the stream, else the stream itself (the kernel reads and parses it).
    this.body = req.readableEnded ? req.body : req;
  }

  get ip(): string | undefined {
    return this.req.ip;
  }
}

/**
 * An Express router serving every route of tiergate's wire contract (agent
 * API, operator pages, OpenAPI document) relative to where it is mounted.
 * It owns every path under its mount point (an unknown one gets tiergate's
 * JSON 404), so mount it at a path of its own — or at the root after the
 * host's own routes. `publicUrl` must point at the mount point.
 *
 * @example
 * import express from 'express';
 * import { tiergateRouter } from '@tiergate/express';
 *
 * const app = express();
 * app.use('/tiergate', tiergateRouter(tiergate)); // publicUrl: 'https://api.example.com/tiergate'
 */
export function tiergateRouter(tiergate: Tiergate): express.Router {
  const handle = createHandler(tiergate);
  const router = express.Router();
  router.use((req: TiergateExpressRequest, res: ServerResponse, next: NextFunction) => {
    try {
      const response = handle.now(new ExpressKernelRequest(req, res));
      // Written at once when the kernel answered without waiting.
      if (response instanceof Promise) response.then((answer) => send(res, answer)).catch(next);
      else send(res, response);
    } catch (err) {
      next(err);
    }
  });
  return router;
}

/**
 * Guard middleware for the host's own routes: authenticates the
 * `Authorization: Bearer` key and checks `action` (with `consume`, atomically
 * takes quota). Allowed → `req.tiergate` is set and `next()` runs; denied →
 * tiergate's response is written (401, 403 with the reason code and
 * `details.upgrade_context`, 429 with `Retry-After`, 503 when the store is
 * down — never allowed by default: it fails closed).
 *
 * @example
 * app.post('/v1/messages/send', requireCapability(tiergate, 'send_messages', { consume: 1 }), (req, res) => {
 *   res.json({ sent: true, account: req.tiergate?.account.id });
 * });
 */
export function requireCapability(tiergate: Tiergate, action: string, options: GuardOptions = {}) {
  const guard = createGuard(tiergate, action, options);
  const proceed = (req: IncomingMessage & { tiergate?: GuardContext }, res: ServerResponse, next: NextFunction, result: GuardResult): void => {
    if (!result.ok) return send(res, result.response);
    req.tiergate = result.context;
    next();
  };
  return (req: IncomingMessage & { tiergate?: GuardContext }, res: ServerResponse, next: NextFunction): void => {
    // Goes on at once when nothing had to be waited for (a synchronous authenticator, the memory store).
    const result = guard.now(req.headers);
    if (result instanceof Promise) result.then((settled) => proceed(req, res, next, settled), next);
    else proceed(req, res, next, result);
  };
}

export type { GuardContext, GuardOptions } from '@tiergate/core';
