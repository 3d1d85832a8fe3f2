/**
 * Rate limits over `rate-limiter-flexible`. A store hands out limiters on its
 * own backend (`RateLimiterMemory`, `RateLimiterPostgres`, `RateLimiterRedis`);
 * this module turns their promise-rejection protocol into values.
 *
 * **Backend down = fail closed.** If the limiter's backend fails, `consume`
 * rejects with `STORE_UNAVAILABLE` (HTTP 503, never 429): the request it
 * guards would need the same store anyway, and guessing would either let a
 * flood through or report "rate limited" for what is an outage.
 */
import type { RateLimiterAbstract, RateLimiterRes } from 'rate-limiter-flexible';
import { storeUnavailable } from '../errors.js';

/** Options of a limiter. */
export interface RateLimiterOptions {
  /** Namespace of the limiter's keys. */
  readonly keyPrefix: string;
  /** Points per window. */
  readonly points: number;
  /** Window length, seconds. */
  readonly durationSeconds: number;
}

/** The outcome of one consume. */
export interface RateLimitResult {
  readonly allowed: boolean;
  readonly limit: number;
  readonly remaining: number;
  /** Milliseconds until the window resets. */
  readonly resetMs: number;
}

/** A rate limiter port. */
export interface RateLimiter {
  /** Takes `points` (default 1) from `key`'s bucket. Rejects only with `STORE_UNAVAILABLE`. */
  consume(key: string, points?: number): Promise<RateLimitResult>;
  /** Gives points back (a request that failed after consuming keeps nothing). */
  refund(key: string, points?: number): Promise<void>;
}

function isRes(value: unknown): value is RateLimiterRes {
  return typeof value === 'object' && value !== null && 'msBeforeNext' in value && 'remainingPoints' in value && !(value instanceof Error);
}

/** Wraps a `rate-limiter-flexible` limiter as a {@link RateLimiter}. */
export function rateLimiterFrom(limiter: RateLimiterAbstract, points: number): RateLimiter {
  return {
    async consume(key, amount = 1) {
      try {
        const res = await limiter.consume(key, amount);
        return { allowed: true, limit: points, remaining: Math.max(0, res.remainingPoints), resetMs: Math.max(0, res.msBeforeNext) };
      } catch (outcome) {
        if (isRes(outcome)) return { allowed: false, limit: points, remaining: 0, resetMs: Math.max(0, outcome.msBeforeNext) };
        throw storeUnavailable(outcome);
      }
    },
    async refund(key, amount = 1) {
      try {
        await limiter.reward(key, amount);
      } catch (cause) {
        throw storeUnavailable(cause);
      }
    },
  };
}
