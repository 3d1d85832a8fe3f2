/**
 * The operator pages on a real node:http server (core's `createHandler`), so
 * links found in e-mails and chat payloads can be opened like an operator
 * would. The server listens first and serves whichever tiergate is attached,
 * which lets `publicUrl` point at the real port.
 */
import http from 'node:http';
import { createHandler, type KernelHandler, type Tiergate } from '@tiergate/core';
import { listenLocal } from '@tiergate/testing';

/** A running operator server. */
export interface OperatorServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** Serves this tiergate from now on. */
  attach(tiergate: Tiergate): void;
  close(): Promise<void>;
}

/** Starts the server (503 until a tiergate is attached). */
export async function startOperatorServer(): Promise<OperatorServer> {
  let handle: KernelHandler | undefined;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (handle === undefined) {
        res.writeHead(503).end();
        return;
      }
      const url = new URL(req.url ?? '/', 'http://operator');
      handle({
        method: req.method ?? 'GET',
        path: url.pathname,
        query: url.search.slice(1),
        headers: req.headers,
        body: chunks.length === 0 ? undefined : Buffer.concat(chunks),
        ...(req.socket.remoteAddress === undefined ? {} : { ip: req.socket.remoteAddress }),
      }).then(
        (out) => res.writeHead(out.status, out.headers).end(out.body),
        () => res.writeHead(500).end(),
      );
    });
  });
  const { origin, close } = await listenLocal(server);
  return {
    url: origin,
    attach(tiergate) {
      handle = createHandler(tiergate);
    },
    close,
  };
}
