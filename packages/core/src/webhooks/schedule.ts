/**
 * Retry schedule of the outbox: the first attempt is immediate, then each
 * failure waits the next delay of the schedule. Default (Standard Webhooks'
 * usual cadence): 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h — eight attempts
 * over about 27 hours. A `Retry-After` on 429/503 is honoured: the next attempt
 * waits at least that long (capped at 24 h).
 */

/** Delays (ms) after the 1st, 2nd, … failed attempt. */
export const DEFAULT_RETRY_SCHEDULE_MS: readonly number[] = Object.freeze([
  5_000,
  5 * 60_000,
  30 * 60_000,
  2 * 3_600_000,
  5 * 3_600_000,
  10 * 3_600_000,
  10 * 3_600_000,
]);

const MAX_RETRY_AFTER_MS = 24 * 3_600_000;

/**
 * When to try again after `attempts` failed attempts (1 = the first failed),
 * or `undefined` when the schedule is exhausted and the message is dead.
 */
export function nextAttemptAt(
  now: number,
  attempts: number,
  schedule: readonly number[] = DEFAULT_RETRY_SCHEDULE_MS,
  retryAfterMs?: number,
): number | undefined {
  const delay = schedule[attempts - 1];
  if (delay === undefined) return undefined;
  const honoured = retryAfterMs === undefined ? delay : Math.max(delay, Math.min(retryAfterMs, MAX_RETRY_AFTER_MS));
  return now + honoured;
}

/** Parses a `Retry-After` header (seconds or HTTP date) into ms from `now`. */
export function parseRetryAfter(value: string | undefined | null, now: number): number | undefined {
  if (value === undefined || value === null || value.trim() === '') return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
