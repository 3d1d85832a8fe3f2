/**
 * A real HTTP receiver on 127.0.0.1 standing in for Slack's and Discord's
 * webhook endpoints: it records each POST (path, query, headers, parsed JSON)
 * and answers with the status the test queued (default 200 / 204).
 */
import http from 'node:http';
import { listenLocal } from '@tiergate/testing';

/** One request the receiver saw. */
export interface ChatRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: http.IncomingHttpHeaders;
  /** The body parsed as JSON (`undefined` when it was not JSON). */
  readonly json: unknown;
  /** The status the receiver answered. */
  readonly status: number;
}

/** A running receiver. */
export interface ChatReceiver {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly requests: ChatRequest[];
  /** Statuses for the next requests, in order; then `defaultStatus`. */
  readonly replies: number[];
  defaultStatus: number;
  /** Requests to one path. */
  to(path: string): ChatRequest[];
  close(): Promise<void>;
}

/** Starts the receiver. */
export async function startChatReceiver(defaultStatus = 200): Promise<ChatReceiver> {
  const requests: ChatRequest[] = [];
  const replies: number[] = [];
  const state = { defaultStatus };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://receiver');
      let json: unknown;
      try {
        json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        json = undefined;
      }
      const status = replies.shift() ?? state.defaultStatus;
      requests.push({ method: req.method ?? '', path: url.pathname, query: url.searchParams, headers: req.headers, json, status });
      if (status === 204) res.writeHead(204).end();
      else res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : `error ${status}`);
    });
  });
  const { origin, close } = await listenLocal(server);
  return {
    url: origin,
    requests,
    replies,
    get defaultStatus() {
      return state.defaultStatus;
    },
    set defaultStatus(value: number) {
      state.defaultStatus = value;
    },
    to: (path) => requests.filter((r) => r.path === path),
    close,
  };
}
