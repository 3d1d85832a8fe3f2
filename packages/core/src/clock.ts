/**
 * Time is injected everywhere: expiry, quota windows, rate limits and token
 * checks read a {@link Clock}, so tests move time instead of waiting for it.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

/** The real clock. */
export const systemClock: Clock = { now: () => Date.now() };
