/**
 * The outbound HTTP of callbacks: one POST, no redirects followed (a 3xx is a
 * failure), a hard timeout, the resolved address checked at connect time.
 * Replaceable through `createTiergate({ webhooks: { transport } })`.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import { ForbiddenAddressError, guardedLookup, ipLiteral, isPublicAddress, type LookupAll } from './address.js';

/** One outbound webhook request. */
export interface WebhookRequest {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  readonly timeoutMs: number;
}

/** What came back. `status` 0 means no HTTP response (network error, timeout, refused address). */
export interface WebhookResponse {
  readonly status: number;
  readonly retryAfter?: string;
  /** Short description of a failure, for the outbox's `lastError`. */
  readonly error?: string;
  /** True when the target was refused as non-public (never retried). */
  readonly forbidden?: boolean;
}

/** Sends one webhook request; never rejects. */
export type WebhookTransport = (request: WebhookRequest) => Promise<WebhookResponse>;

/** Options of {@link nodeHttpTransport}. */
export interface NodeHttpTransportOptions {
  /** Allow loopback/private targets (development only). */
  readonly allowPrivate?: boolean;
  /** DNS resolution; injectable for tests. Default `dns.lookup(host, { all: true })`. */
  readonly resolve?: LookupAll;
}

const MAX_RESPONSE_BYTES = 64 * 1024;

/** The default transport over `node:http`/`node:https`. */
export function nodeHttpTransport(options: NodeHttpTransportOptions = {}): WebhookTransport {
  const allowPrivate = options.allowPrivate ?? false;
  const resolve: LookupAll = options.resolve ?? ((host) => dnsLookup(host, { all: true, verbatim: true }));
  const lookup = guardedLookup(resolve, allowPrivate);

  return (request) =>
    new Promise<WebhookResponse>((settle) => {
      let url: URL;
      try {
        url = new URL(request.url);
      } catch {
        settle({ status: 0, error: 'malformed URL', forbidden: true });
        return;
      }
      const literal = ipLiteral(url.hostname);
      if (!allowPrivate && literal !== undefined && !isPublicAddress(literal)) {
        settle({ status: 0, error: `non-public address ${literal}`, forbidden: true });
        return;
      }
      const client = url.protocol === 'https:' ? https : url.protocol === 'http:' ? http : undefined;
      if (client === undefined || url.username !== '' || url.password !== '') {
        settle({ status: 0, error: 'URL not allowed', forbidden: true });
        return;
      }
      let done = false;
      const finish = (response: WebhookResponse): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        settle(response);
      };
      const req = client.request(
        url,
        {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'user-agent': 'tiergate-webhooks/1', ...request.headers, 'content-length': Buffer.byteLength(request.body) },
          lookup: lookup as never,
          agent: false,
        },
        (res) => {
          let received = 0;
          res.on('data', (chunk: Buffer) => {
            received += chunk.length;
            if (received > MAX_RESPONSE_BYTES) res.destroy();
          });
          const retryAfter = res.headers['retry-after'];
          const status = res.statusCode ?? 0;
          const result: WebhookResponse = typeof retryAfter === 'string' ? { status, retryAfter } : { status };
          res.on('end', () => finish(result));
          res.on('close', () => finish(result));
          res.on('error', () => finish(result));
        },
      );
      const timer = setTimeout(() => {
        finish({ status: 0, error: `timeout after ${request.timeoutMs} ms` });
        req.destroy();
      }, request.timeoutMs);
      req.on('error', (err: Error) => {
        finish(err instanceof ForbiddenAddressError ? { status: 0, error: err.message, forbidden: true } : { status: 0, error: err.message });
      });
      req.end(request.body);
    });
}
