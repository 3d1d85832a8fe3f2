/**
 * A controllable clock for tests: pass it as `createTiergate({ clock })` and
 * move time with `advance('1h')` instead of waiting for it.
 */
import type { Clock } from '@tiergate/core';

/** A clock whose time only moves when told to. */
export interface FakeClock extends Clock {
  /** Moves time forward by a duration: ms, or `'500ms'`, `'30s'`, `'15m'`, `'1h'`, `'7d'`. */
  advance(by: number | string): number;
  /** Jumps to an instant (ms, ISO string or Date). */
  set(to: number | string | Date): number;
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses `'1h'`, `'30s'`, `'1.5d'`, `'250ms'` or a number of ms. */
export function parseDuration(value: number | string): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new RangeError(`invalid duration ${value}`);
    return value;
  }
  const match = /^(-?\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/.exec(value.trim());
  if (match === null) throw new RangeError(`invalid duration "${value}" (use e.g. 500ms, 30s, 15m, 1h, 7d)`);
  return Number(match[1]) * (UNITS[match[2] as string] as number);
}

/** Creates a fake clock starting at `start` (default 2026-01-15T12:00:00Z). */
export function createFakeClock(start: number | string | Date = '2026-01-15T12:00:00.000Z'): FakeClock {
  const toMs = (v: number | string | Date): number => (typeof v === 'number' ? v : new Date(v).getTime());
  let now = toMs(start);
  if (Number.isNaN(now)) throw new RangeError(`invalid start time ${String(start)}`);
  return {
    now: () => now,
    advance(by) {
      now += parseDuration(by);
      return now;
    },
    set(to) {
      const next = toMs(to);
      if (Number.isNaN(next)) throw new RangeError(`invalid time ${String(to)}`);
      now = next;
      return now;
    },
  };
}
