/**
 * `@tiergate/fastify`: a Fastify plugin serving tiergate's routes, plus
 * `requireCapability()` preHandlers for the host's own routes.
 *
 * Translation only: every decision is made by `@tiergate/core`'s kernel
 * (`createHandler`) and guard (`createGuard`); this file turns a Fastify
 * request into a `KernelRequest` and a `KernelResponse` into a reply.
 *
 * @packageDocumentation
 */
import type { FastifyError, FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest, HookHandlerDoneFunction, preHandlerHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import {
  ERROR_STATUS,
  createGuard,
  createHandler,
  errorResponse,
  type ErrorCode,
  type GuardContext,
  type GuardOptions,
  type GuardResult,
  type KernelRequest,
  type KernelResponse,
  type Tiergate,
} from '@tiergate/core';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by a `requireCapability` preHandler when the request is allowed; `null` otherwise. */
    tiergate: GuardContext | null;
  }
  interface FastifyInstance {
    /** A preHandler that allows the request only if the caller's account may do `action` (see {@link requireCapability}). */
    requireCapability(action: string, options?: GuardOptions): preHandlerHookHandler;
  }
}

/** Options of {@link tiergatePlugin}. */
export interface TiergatePluginOptions {
  /** The tiergate service (`createTiergate(...)`). */
  readonly tiergate: Tiergate;
  /**
   * Where tiergate's routes live, e.g. `/tiergate` (default: the root). It
   * applies to tiergate's routes only, never to the host's. `publicUrl` must
   * point here.
   */
  readonly prefix?: string;
}

/**
 * Fastify's own errors inside tiergate's routes (body over the limit, a
 * malformed `Content-Type` or `Content-Length`) mapped by status to
 * tiergate's codes, so callers always get tiergate's envelope.
 */
const CODE_OF_FRAMEWORK_STATUS: Readonly<Record<number, ErrorCode>> = {
  400: 'INVALID_REQUEST',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
};

function send(reply: FastifyReply, response: KernelResponse): FastifyReply {
  // A string body with a content type is sent as it is (already serialised by the kernel).
  return reply.code(response.status).headers(response.headers).send(response.body);
}

/**
 * A preHandler for the host's own routes: authenticates the
 * `Authorization: Bearer` key and checks `action` (with `consume`, atomically
 * takes quota). Allowed → `request.tiergate` is set; denied → tiergate's
 * response is sent (401, 403 with the reason code and
 * `details.upgrade_context`, 429 with `Retry-After`, 503 when the store is
 * down — it fails closed).
 *
 * @example
 * app.post('/v1/messages/send', { preHandler: requireCapability(tiergate, 'send_messages', { consume: 1 }) }, async (request) => ({
 *   sent: true,
 *   account: request.tiergate?.account.id,
 * }));
 */
export function requireCapability(tiergate: Tiergate, action: string, options: GuardOptions = {}): preHandlerHookHandler {
  const guard = createGuard(tiergate, action, options);
  const proceed = (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction, result: GuardResult): void => {
    if (!result.ok) {
      // Answered here: the route's handler does not run (and `done` is not called).
      send(reply, result.response);
      return;
    }
    request.tiergate = result.context;
    done();
  };
  // Callback style, not async: when nothing had to be waited for (a synchronous authenticator, the memory
  // store), the request goes on to the handler at once, with no promise for Fastify to settle.
  return function tiergateGuard(request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void {
    const result = guard.now(request.headers);
    if (result instanceof Promise) result.then((settled) => proceed(request, reply, done, settled)).catch(done);
    else proceed(request, reply, done, result);
  };
}

/**
 * A Fastify request as the kernel reads it. The client's IP is read from Fastify only when a route asks for
 * it: with `trustProxy`, `request.ip` runs proxy-addr over the forwarding headers on every read, and only a
 * decision records an IP.
 */
class FastifyKernelRequest implements KernelRequest {
  readonly method: string;
  readonly headers: FastifyRequest['headers'];
  readonly body: unknown;
  constructor(
    private readonly request: FastifyRequest,
    readonly path: string,
    readonly query: string,
    // The kernel watches it for a disconnect only during a ?wait= long poll (no closure over it here: a
    // per-request closure capturing the response measurably raised GC time per request).
    readonly response: FastifyReply['raw'],
  ) {
    this.method = request.method;
    this.headers = request.headers;
    this.body = request.body;
  }

  get ip(): string {
    return this.request.ip;
  }
}

/** tiergate's routes, in their own encapsulated context so the raw-body parser and error mapping stay there. */
function tiergateRoutes(tiergate: Tiergate): FastifyPluginAsync {
  return async (routes: FastifyInstance) => {
    const handle = createHandler(tiergate);
    const prefix = routes.prefix;
    // Every body reaches the kernel unparsed, so every 400/415 is tiergate's (an HTML page with the page
    // headers on the operator routes, JSON elsewhere). JSON — the agent API's bodies — is collected by
    // Fastify as bytes under tiergate's limit, which costs less than reading the stream in the kernel (a
    // JSON body over the limit gets Fastify's 413, mapped below to tiergate's JSON envelope); any other
    // type (the operator form) is passed as the raw stream, read by the kernel under the same limit.
    routes.removeAllContentTypeParsers();
    routes.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: tiergate.maxBodyBytes }, (_request, body, done) => done(null, body));
    routes.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
    routes.setErrorHandler((error: FastifyError, _request, reply) => {
      const code = CODE_OF_FRAMEWORK_STATUS[error.statusCode ?? 500] ?? 'INTERNAL_ERROR';
      if (code === 'INTERNAL_ERROR') tiergate.logger.error('request failed', { error: error.message });
      return send(reply, errorResponse(tiergate, code, ERROR_STATUS[code], tiergate.messages.errors[code] ?? code));
    });
    routes.all('/*', (request, reply) => {
      const url = request.url;
      const queryAt = url.indexOf('?');
      const pathname = queryAt === -1 ? url : url.slice(0, queryAt);
      // Sliced from the raw URL rather than taken from params['*'], which is percent-decoded.
      const path = pathname.startsWith(prefix) ? pathname.slice(prefix.length) : `/${(request.params as { '*'?: string })['*'] ?? ''}`;
      const response = handle.now(new FastifyKernelRequest(request, path.startsWith('/') ? path : `/${path}`, queryAt === -1 ? '' : url.slice(queryAt + 1), reply.raw));
      // Written at once when the kernel answered without waiting (no promise for Fastify to settle).
      if (response instanceof Promise) return response.then((answer) => send(reply, answer));
      send(reply, response);
      return undefined;
    });
  };
}

const plugin: FastifyPluginAsync<TiergatePluginOptions> = async (fastify, options) => {
  const { tiergate } = options;
  fastify.decorateRequest('tiergate', null);
  fastify.decorate('requireCapability', (action: string, guardOptions?: GuardOptions) => requireCapability(tiergate, action, guardOptions));
  await fastify.register(tiergateRoutes(tiergate), { prefix: options.prefix ?? '' });
};

/**
 * The Fastify plugin: registers tiergate's routes (agent API, operator pages,
 * OpenAPI document) under `prefix` in an encapsulated context, decorates
 * `request.tiergate` and `fastify.requireCapability(action, options)`.
 *
 * @example
 * import Fastify from 'fastify';
 * import { tiergatePlugin } from '@tiergate/fastify';
 *
 * const app = Fastify();
 * await app.register(tiergatePlugin, { tiergate, prefix: '/tiergate' });
 * app.post('/v1/messages/send', { preHandler: app.requireCapability('send_messages', { consume: 1 }) }, async (request) => ({
 *   account: request.tiergate?.account.id,
 * }));
 */
export const tiergatePlugin = fp(plugin, { fastify: '5.x', name: '@tiergate/fastify' });

export type { GuardContext, GuardOptions } from '@tiergate/core';
