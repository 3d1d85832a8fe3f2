/**
 * Error codes and the one table that maps them to HTTP statuses.
 *
 * A *deny* (a reason code such as `SEND_REQUIRES_PAID`) is a value, never an
 * exception; `TiergateError` is thrown only for misuse (bad configuration, bad
 * input) and infrastructure failure (store down).
 */

/** Every error code tiergate itself produces, mapped to its HTTP status. */
export const ERROR_STATUS = {
  INVALID_REQUEST: 400,
  CALLBACK_URL_FORBIDDEN: 400,
  LINK_INVALID: 400,
  UNAUTHORIZED: 401,
  LINK_SCOPE_MISMATCH: 403,
  CSRF_REJECTED: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  APPROVAL_ALREADY_DECIDED: 409,
  LINK_EXPIRED: 410,
  APPROVAL_EXPIRED: 410,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  INTERNAL_ERROR: 500,
  STORE_UNAVAILABLE: 503,
  CONTEXT_UNAVAILABLE: 500,
  CONFIG_INVALID: 500,
  TIER_TABLE_INVALID: 500,
} as const;

/** A code from {@link ERROR_STATUS}; `switch` on it. */
export type ErrorCode = keyof typeof ERROR_STATUS;

/** Options of {@link TiergateError}. */
export interface TiergateErrorOptions {
  /** Machine-readable extra data that is safe to show a caller (validation paths, retry delay). */
  details?: unknown;
  /** The underlying error, for logs; never sent on the wire. */
  cause?: unknown;
  /** Seconds the caller should wait before retrying (429/503). */
  retryAfterSeconds?: number;
}

/**
 * The one error class of tiergate. `code` is stable and is what callers and
 * tests compare; `message` is prose for people and may change.
 */
export class TiergateError<C extends ErrorCode = ErrorCode> extends Error {
  /** Stable machine-readable code. */
  readonly code: C;
  /** Data that may be shown to the caller. */
  readonly details: unknown;
  /** Seconds to wait before retrying, when the error is transient. */
  readonly retryAfterSeconds: number | undefined;

  constructor(code: C, message: string, options: TiergateErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TiergateError';
    this.code = code;
    this.details = options.details;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }

  /** The HTTP status this error maps to. */
  get status(): number {
    return ERROR_STATUS[this.code];
  }
}

/** True when `error` is a {@link TiergateError}, optionally with one of `codes`. */
export function isTiergateError<C extends ErrorCode>(error: unknown, ...codes: C[]): error is TiergateError<C> {
  return error instanceof TiergateError && (codes.length === 0 || (codes as ErrorCode[]).includes(error.code));
}

/**
 * Wraps a failure of a store or rate-limit backend so it surfaces as
 * 503 `STORE_UNAVAILABLE` — never as 429 and never as a 500 with a stack.
 */
export function storeUnavailable(cause: unknown): TiergateError<'STORE_UNAVAILABLE'> {
  if (isTiergateError(cause, 'STORE_UNAVAILABLE')) return cause;
  return new TiergateError('STORE_UNAVAILABLE', 'The store is unavailable; retry shortly.', { cause, retryAfterSeconds: 5 });
}
