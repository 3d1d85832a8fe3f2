/**
 * A fourth tiergate adapter, on plain `node:http`, written only against the
 * public API of `@tiergate/core`: it shows that a new framework adapter needs
 * nothing from tiergate's internals. `examples/test/node-http-adapter.test.ts`
 * runs the same conformance suite on it as on Express, Fastify and Koa.
 *
 * An adapter is translation only:
 * 1. build a `KernelRequest` (method, path relative to the mount point, raw
 *    query, headers, the raw request stream (the kernel reads it under `maxBodyBytes`),
 *    client IP, the Node response (watched for a disconnect during long polls)) and call `createHandler`'s
 *    handler;
 * 2. write the `KernelResponse` (status, headers, already-serialised body);
 * 3. for guards, call `createGuard(...)(headers)`: allowed → hand the
 *    `GuardContext` to the host, denied → write the response.
 *
 * @example
 * const handleTiergate = tiergateRequestHandler(tiergate, { prefix: '/tiergate' });
 * const guardSend = requireCapability(tiergate, 'send_messages', { consume: 1 });
 * http.createServer(async (req, res) => {
 *   if (await handleTiergate(req, res)) return;
 *   if (req.method === 'POST' && req.url === '/v1/messages/send') {
 *     const context = await guardSend(req, res);
 *     if (context !== null) res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ account: context.account.id }));
 *     return;
 *   }
 *   res.writeHead(404).end();
 * }).listen(3000);
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  createGuard,
  createHandler,
  type GuardContext,
  type GuardOptions,
  type KernelResponse,
  type Tiergate,
} from '@tiergate/core';

/** Writes a kernel response as it is, with its length (headers given to `writeHead` go out at once, so Node would otherwise frame the body as chunked). */
export function writeKernelResponse(res: ServerResponse, response: KernelResponse): void {
  res.writeHead(response.status, { ...response.headers, 'content-length': Buffer.byteLength(response.body) });
  res.end(response.body);
}

/**
 * Serves tiergate's routes under `prefix` (`''` = every path). Resolves
 * `true` when it answered the request, `false` when the path is not under
 * `prefix` (the host answers it).
 */
export function tiergateRequestHandler(tiergate: Tiergate, options: { readonly prefix: string }): (req: IncomingMessage, res: ServerResponse) => Promise<boolean> {
  const handle = createHandler(tiergate);
  const prefix = options.prefix.replace(/\/+$/, '');
  return async (req, res) => {
    const url = req.url ?? '/';
    const queryAt = url.indexOf('?');
    const pathname = queryAt === -1 ? url : url.slice(0, queryAt);
    if (pathname !== prefix && !pathname.startsWith(`${prefix}/`)) return false;
    const ip = req.socket.remoteAddress;
    const response = await handle({
      method: req.method ?? 'GET',
      path: pathname.slice(prefix.length) || '/',
      query: queryAt === -1 ? '' : url.slice(queryAt + 1),
      headers: req.headers,
      body: req, // the kernel reads the stream (under maxBodyBytes) only on routes that take a body
      ...(ip === undefined ? {} : { ip }),
      // The kernel watches it for a disconnect only during a ?wait= long poll (no closure over it here:
      // a per-request closure capturing the response measurably raised GC time per request).
      response: res,
    });
    writeKernelResponse(res, response);
    return true;
  };
}

/**
 * A guard for a host route: resolves the `GuardContext` when the caller's
 * account may do `action` (with `consume`, the quota is taken atomically),
 * or `null` after writing tiergate's deny response (401/403/429/503).
 */
export function requireCapability(tiergate: Tiergate, action: string, options: GuardOptions = {}): (req: IncomingMessage, res: ServerResponse) => Promise<GuardContext | null> {
  const guard = createGuard(tiergate, action, options);
  return async (req, res) => {
    const result = await guard(req.headers);
    if (result.ok) return result.context;
    writeKernelResponse(res, result.response);
    return null;
  };
}
