/**
 * The client's one error class. Every failure of a call — an error envelope
 * from the server, a network failure, a response that is not tiergate's JSON,
 * a webhook that does not verify — is a `TiergateError` whose `code` callers
 * compare (`if (error.code === 'SEND_REQUIRES_PAID')`); `message` is prose.
 */
import type { ErrorCode, ReasonOf, DefaultTierTable, UpgradeContext } from '@tiergate/core';

/** Codes the client produces itself (no error envelope came back). */
export type ClientErrorCode =
  /** No HTTP response: connection refused, DNS failure, reset, timeout or abort. */
  | 'NETWORK_ERROR'
  /** An HTTP response that is not tiergate's JSON envelope (a proxy's HTML page, truncated JSON, …). */
  | 'BAD_RESPONSE'
  /** A callback failed {@link verifyWebhook}: missing headers, stale timestamp, bad signature or an unknown body. */
  | 'WEBHOOK_INVALID'
  /** The client was misconfigured (bad `baseUrl`, empty `apiKey`, malformed webhook secret). */
  | 'CONFIG_INVALID';

/** The seed's reason codes (a host's own tier table may add more). */
export type SeedReasonCode = ReasonOf<DefaultTierTable>;

/**
 * Every code a call can fail with: the client's own, the server's error codes
 * (`UNAUTHORIZED`, `RATE_LIMITED`, `STORE_UNAVAILABLE`, …), the seed's reason
 * codes from a guarded host route (`SEND_REQUIRES_PAID`, …) and — since hosts
 * define their own tiers — any other UPPER_SNAKE string.
 */
export type TiergateErrorCode = ClientErrorCode | ErrorCode | SeedReasonCode | (string & {});

/** Options of {@link TiergateError}. */
export interface TiergateErrorOptions {
  /** HTTP status, when a response came back. */
  readonly status?: number;
  /** `error.details` of the envelope (validation issues, the deny's action/reason/resets_at, …). */
  readonly details?: unknown;
  /** Seconds from the `Retry-After` header. */
  readonly retryAfter?: number;
  /** `error.details.upgrade_context` of a deny, when present. */
  readonly upgradeContext?: UpgradeContext;
  /** `next_steps` of the error envelope. */
  readonly nextSteps?: readonly string[];
  /** The underlying error (a `fetch` rejection, a JSON syntax error). */
  readonly cause?: unknown;
}

/**
 * A failed call. Same name as `@tiergate/core`'s server-side class, but this
 * one is the client's own (the client imports nothing at run time).
 */
export class TiergateError extends Error {
  /** Stable machine-readable code: compare this, never `message`. */
  readonly code: TiergateErrorCode;
  /** HTTP status; `undefined` when no response came back (`NETWORK_ERROR`, `WEBHOOK_INVALID`). */
  readonly status: number | undefined;
  /** Seconds the server asked to wait (`Retry-After`), on 429 and 503. */
  readonly retryAfter: number | undefined;
  /** How to ask the operator to lift a deny (`operator_action_url`, `agent_script`, …), when the server sent one. */
  readonly upgradeContext: UpgradeContext | undefined;
  /** Machine-readable extra data from the server (`error.details`) or about a client-side failure. */
  readonly details: unknown;
  /** What the server suggests doing next (`next_steps` of the error envelope); empty when none came. */
  readonly nextSteps: readonly string[];

  constructor(code: TiergateErrorCode, message: string, options: TiergateErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TiergateError';
    this.code = code;
    this.status = options.status;
    this.retryAfter = options.retryAfter;
    this.upgradeContext = options.upgradeContext;
    this.details = options.details;
    this.nextSteps = Object.freeze([...(options.nextSteps ?? [])]);
  }
}

/**
 * True when `error` is a client {@link TiergateError}, optionally with one of
 * `codes`.
 *
 * @example
 * if (isTiergateError(err, 'RATE_LIMITED', 'STORE_UNAVAILABLE')) await sleep(err.retryAfter ?? 5);
 */
export function isTiergateError(error: unknown, ...codes: TiergateErrorCode[]): error is TiergateError {
  return error instanceof TiergateError && (codes.length === 0 || codes.includes(error.code));
}
