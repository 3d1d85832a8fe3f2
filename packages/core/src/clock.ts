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

const pad2 = (n: number): string => (n < 10 ? `0${n}` : `${n}`);

/**
 * `new Date(ms).toISOString()`, built from the UTC fields for years 1000–9999: V8 formats dates through
 * `snprintf`, about 7,000 instructions a call, and answers and pages carry several timestamps. Any
 * other year (zero-padded or six-digit ISO forms) and an invalid time (RangeError) go to
 * `toISOString()` itself.
 */
export function isoTime(ms: number): string {
  const date = new Date(ms);
  const year = date.getUTCFullYear();
  if (!(year >= 1000 && year <= 9999)) return date.toISOString();
  const millis = date.getUTCMilliseconds();
  return `${year}-${pad2(date.getUTCMonth() + 1)}-${pad2(date.getUTCDate())}T${pad2(date.getUTCHours())}:${pad2(date.getUTCMinutes())}:${pad2(date.getUTCSeconds())}.${millis < 10 ? `00${millis}` : millis < 100 ? `0${millis}` : millis}Z`;
}
