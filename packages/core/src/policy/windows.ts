/**
 * Calendar-aligned quota windows in UTC. A day runs 00:00:00.000–23:59:59.999
 * UTC and a month from the 1st 00:00 UTC; a window "resets at" the first
 * millisecond of the next one.
 */

/** One window instance. */
export interface QuotaWindow {
  /** Stable key of this instance, e.g. `d2026-11-22` or `m2026-11`; counters are stored under it. */
  readonly key: string;
  /** First millisecond of the window. */
  readonly start: number;
  /** First millisecond of the next window. */
  readonly resetsAt: number;
}

/** The day and month windows that contain one instant. */
export interface QuotaWindows {
  readonly day: QuotaWindow;
  readonly month: QuotaWindow;
  /** `[day.key, month.key]`, as the store's reads take them (one array per day, not per request). */
  readonly keys: readonly [string, string];
}

/** Names of the windows. */
export type WindowName = keyof QuotaWindows;

const pad = (n: number): string => String(n).padStart(2, '0');

let cached: QuotaWindows | undefined;

/**
 * The windows containing `now` (ms since epoch). The result is cached until the
 * day changes, so the hot path does no date arithmetic.
 */
export function quotaWindows(now: number): QuotaWindows {
  if (cached !== undefined && now >= cached.day.start && now < cached.day.resetsAt) return cached;
  const date = new Date(now);
  const y = date.getUTCFullYear();
  const m = date.getUTCMonth();
  const d = date.getUTCDate();
  const dayStart = Date.UTC(y, m, d);
  const monthStart = Date.UTC(y, m, 1);
  const dayKey = `d${y}-${pad(m + 1)}-${pad(d)}`;
  const monthKey = `m${y}-${pad(m + 1)}`;
  const windows: QuotaWindows = Object.freeze({
    day: Object.freeze({ key: dayKey, start: dayStart, resetsAt: Date.UTC(y, m, d + 1) }),
    month: Object.freeze({ key: monthKey, start: monthStart, resetsAt: Date.UTC(y, m + 1, 1) }),
    keys: Object.freeze([dayKey, monthKey] as const),
  });
  cached = windows;
  return windows;
}
