/**
 * One HTTP exchange with a tiergate server on the standard `fetch`: URL
 * building, timeout and abort, the envelope (`{ result, next_steps }` or
 * `{ error, next_steps }`), error mapping and the optional retries of 429/503.
 * Only web-platform globals are used (`fetch`, `AbortController`,
 * `setTimeout`), so it runs on Node 20+, Bun, Deno, browsers and Workers.
 */
import { TiergateError } from './errors.js';
import type { UpgradeContext } from '@tiergate/core';

/** A `fetch`-compatible function (the global one, or the host runtime's / a test's). */
export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

/** Automatic retries of 429 and 503 responses. */
export interface RetryOptions {
  /** Retries after the first attempt (0 = none). */
  readonly max: number;
  /**
   * Longest wait before one retry, ms (default 10 000). A `Retry-After` longer
   * than this is not waited for: the error is thrown at once, so a quota that
   * resets at midnight fails fast instead of hanging the agent.
   */
  readonly maxDelayMs?: number;
}

/** Options of every call. */
export interface RequestOptions {
  /** Cancels the call (it fails with `NETWORK_ERROR`, `details.reason: 'aborted'`). */
  readonly signal?: AbortSignal;
  /** Per-attempt timeout, ms (default: the client's `timeoutMs`). */
  readonly timeoutMs?: number;
}

/** A request as the client's methods describe it. */
export interface CallInput extends RequestOptions {
  readonly method: string;
  /** Path below `baseUrl`, starting with `/`. */
  readonly path: string;
  readonly query?: Readonly<Record<string, string | number | boolean | undefined>>;
  /** JSON-serialisable body. */
  readonly body?: unknown;
}

/** A successful exchange. */
export interface CallOutput {
  readonly status: number;
  /** The parsed JSON body (`undefined` for an empty body). */
  readonly body: unknown;
  readonly headers: Headers;
}

/** What the request engine needs from the client. */
export interface EngineOptions {
  readonly apiKey: string;
  readonly baseUrl: string;
  readonly fetch: FetchLike;
  readonly timeoutMs: number;
  readonly retries: RetryOptions;
  readonly headers: Readonly<Record<string, string>>;
}

const DEFAULT_MAX_DELAY_MS = 10_000;
const FIRST_BACKOFF_MS = 500;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringArray(value: unknown): readonly string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/** `Retry-After` as seconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfterSeconds(value: string | null, now: number = Date.now()): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}

function upgradeContextOf(details: unknown): UpgradeContext | undefined {
  if (!isRecord(details) || !isRecord(details.upgrade_context)) return undefined;
  const context = details.upgrade_context;
  if (typeof context.operator_action_url !== 'string' || typeof context.operator_action_label !== 'string' || typeof context.agent_script !== 'string') {
    return undefined;
  }
  return { operator_action_url: context.operator_action_url, operator_action_label: context.operator_action_label, agent_script: context.agent_script };
}

/**
 * Turns an error response into a {@link TiergateError}: the envelope's code,
 * details, `upgrade_context` and `next_steps`, plus `Retry-After`; anything
 * that is not an error envelope is `BAD_RESPONSE`.
 */
export function errorFromBody(status: number, headers: Headers, body: unknown): TiergateError {
  const retryAfter = parseRetryAfterSeconds(headers.get('retry-after'));
  const error = isRecord(body) ? body.error : undefined;
  if (!isRecord(error) || typeof error.code !== 'string' || error.code === '') {
    return new TiergateError('BAD_RESPONSE', `Unexpected HTTP ${status} response without a tiergate error envelope.`, {
      status,
      details: { content_type: headers.get('content-type') },
      ...(retryAfter === undefined ? {} : { retryAfter }),
    });
  }
  const upgradeContext = upgradeContextOf(error.details);
  return new TiergateError(error.code, typeof error.message === 'string' ? error.message : error.code, {
    status,
    details: error.details,
    nextSteps: stringArray(isRecord(body) ? body.next_steps : undefined),
    ...(retryAfter === undefined ? {} : { retryAfter }),
    ...(upgradeContext === undefined ? {} : { upgradeContext }),
  });
}

/** Why a `fetch` produced no response. */
function networkError(cause: unknown, reason: 'timeout' | 'aborted' | 'failed', timeoutMs: number): TiergateError {
  const message =
    reason === 'timeout' ? `No response within ${timeoutMs} ms.` : reason === 'aborted' ? 'The request was aborted.' : 'The request failed before a response arrived.';
  return new TiergateError('NETWORK_ERROR', message, { details: { reason }, cause });
}

/** Waits `ms`, or rejects with `NETWORK_ERROR` (aborted) when `signal` fires first. */
function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(networkError(signal.reason, 'aborted', 0));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(networkError(signal?.reason, 'aborted', 0));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Creates the function every client method sends through. */
export function createEngine(options: EngineOptions): (input: CallInput) => Promise<CallOutput> {
  const base = options.baseUrl.replace(/\/+$/, '');
  const maxDelayMs = options.retries.maxDelayMs ?? DEFAULT_MAX_DELAY_MS;

  function urlOf(input: CallInput): string {
    let url = `${base}${input.path}`;
    if (input.query !== undefined) {
      const params = new URLSearchParams();
      for (const [key, value] of Object.entries(input.query)) if (value !== undefined) params.set(key, String(value));
      const query = params.toString();
      if (query !== '') url += `?${query}`;
    }
    return url;
  }

  async function attempt(input: CallInput): Promise<CallOutput> {
    const timeoutMs = input.timeoutMs ?? options.timeoutMs;
    // One controller for both the timeout and the caller's signal (AbortSignal.any is not in every runtime yet).
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
    const onAbort = (): void => controller.abort(input.signal?.reason);
    if (input.signal?.aborted === true) controller.abort(input.signal.reason);
    else input.signal?.addEventListener('abort', onAbort, { once: true });
    const failure = (cause: unknown): TiergateError => networkError(cause, timedOut ? 'timeout' : input.signal?.aborted === true ? 'aborted' : 'failed', timeoutMs);

    try {
      // A Headers object, so a caller's `Authorization` in any letter case is replaced, not doubled.
      const headers = new Headers(options.headers);
      if (!headers.has('accept')) headers.set('accept', 'application/json');
      headers.set('authorization', `Bearer ${options.apiKey}`);
      const init: RequestInit = { method: input.method, headers, signal: controller.signal };
      if (input.body !== undefined) {
        headers.set('content-type', 'application/json');
        init.body = JSON.stringify(input.body);
      }
      let response: Response;
      let text: string;
      try {
        response = await options.fetch(urlOf(input), init);
        text = await response.text();
      } catch (cause) {
        throw failure(cause);
      }
      let body: unknown;
      if (text.trim() !== '') {
        try {
          body = JSON.parse(text) as unknown;
        } catch (cause) {
          throw new TiergateError('BAD_RESPONSE', `HTTP ${response.status} response is not JSON.`, {
            status: response.status,
            details: { content_type: response.headers.get('content-type') },
            cause,
          });
        }
      }
      if (response.status < 200 || response.status > 299) throw errorFromBody(response.status, response.headers, body);
      return { status: response.status, body, headers: response.headers };
    } finally {
      clearTimeout(timer);
      input.signal?.removeEventListener('abort', onAbort);
    }
  }

  return async function call(input: CallInput): Promise<CallOutput> {
    for (let retry = 0; ; retry += 1) {
      try {
        return await attempt(input);
      } catch (err) {
        // Only 429 and 503 are retried: the server wrote nothing (it fails closed), so a retry cannot duplicate work.
        const retryable = err instanceof TiergateError && (err.status === 429 || err.status === 503);
        if (!retryable || retry >= options.retries.max) throw err;
        const delay = err.retryAfter !== undefined ? err.retryAfter * 1000 : Math.min(maxDelayMs, FIRST_BACKOFF_MS * 2 ** retry);
        if (delay > maxDelayMs) throw err;
        await pause(delay, input.signal);
      }
    }
  };
}
