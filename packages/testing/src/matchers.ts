/**
 * Vitest matchers for policy tests:
 *
 *     expect(capabilities).toAllow('send_messages');
 *     expect(capabilities).toDeny('send_messages', 'SEND_REQUIRES_PAID');
 *
 * They read both core's `Capabilities` (from `computeCapabilities`) and the
 * wire `CapabilitiesResult` (`GET /v1/capabilities`, `tiergate.capabilities()`),
 * and a failure prints the account's whole can/cannot table, so the test
 * output says what the account *can* do instead of just "expected true".
 */
import { expect, type ExpectStatic, type MatcherState } from 'vitest';

/** What a matcher returns (vitest's synchronous matcher result). */
interface MatchOutcome {
  readonly pass: boolean;
  readonly message: () => string;
}

/** One `can[]` entry as both shapes have it. */
interface CanLike {
  readonly action: string;
  readonly description: string;
}

/** One `cannot[]` entry as both shapes have it. */
interface CannotLike {
  readonly action: string;
  readonly reason: string;
  readonly resets_at?: string;
}

/** What the matchers accept: `Capabilities` (policy) or `CapabilitiesResult` (wire). */
export interface CapabilitiesLike {
  readonly tier: string;
  readonly can: readonly CanLike[];
  readonly cannot: readonly CannotLike[];
}

/** The action names a received value can be asked about (the table's own names for a typed `Capabilities`). */
export type ActionIn<T> = T extends { readonly can: readonly (infer C)[] } ? (C extends { readonly action: infer A extends string } ? A : string) : string;

/** The reason codes a received value can carry (the table's own codes for a typed `Capabilities`). */
export type ReasonIn<T> = T extends { readonly cannot: readonly (infer E)[] } ? (E extends { readonly reason: infer R extends string } ? R : string) : string;

/** The matchers' signatures, merged into vitest's `Matchers` below. */
export interface TiergateMatchers<T = unknown> {
  /** Passes when `action` is in `can[]`. */
  toAllow(action: ActionIn<T>): void;
  /** Passes when `action` is in `cannot[]` — with `reason`, only if that is its reason code. */
  toDeny(action: ActionIn<T>, reason?: ReasonIn<T>): void;
}

declare module 'vitest' {
  // `T = any` must repeat vitest's own declaration exactly for the interfaces to merge.
  interface Matchers<T = any> extends TiergateMatchers<T> {}
}

function isCapabilities(value: unknown): value is CapabilitiesLike {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.tier === 'string' &&
    Array.isArray(v.can) &&
    Array.isArray(v.cannot) &&
    (v.can as unknown[]).every((e) => typeof e === 'object' && e !== null && typeof (e as CanLike).action === 'string') &&
    (v.cannot as unknown[]).every((e) => typeof e === 'object' && e !== null && typeof (e as CannotLike).action === 'string' && typeof (e as CannotLike).reason === 'string')
  );
}

function checked(received: unknown, matcher: string): CapabilitiesLike {
  // A TypeError rather than a failed match: `.not` must not turn a wrong argument into a pass.
  if (!isCapabilities(received)) {
    throw new TypeError(`${matcher}() expects a Capabilities (computeCapabilities) or a CapabilitiesResult (GET /v1/capabilities); received ${typeof received === 'object' ? JSON.stringify(received) : String(received)}`);
  }
  return received;
}

/**
 * The account's whole table as text: the tier, each allowed action with its
 * description, each blocked action with its reason (and `resets_at` for quota
 * reasons). This is what a failed `toAllow`/`toDeny` prints.
 */
export function formatCapabilities(capabilities: CapabilitiesLike): string {
  const width = Math.max(0, ...capabilities.can.map((c) => c.action.length), ...capabilities.cannot.map((c) => c.action.length));
  const lines = [`tier: ${capabilities.tier}`, `can (${capabilities.can.length}):`];
  for (const entry of capabilities.can) lines.push(`  ✓ ${entry.action.padEnd(width)}  ${entry.description}`);
  if (capabilities.can.length === 0) lines.push('  (nothing)');
  lines.push(`cannot (${capabilities.cannot.length}):`);
  for (const entry of capabilities.cannot) {
    lines.push(`  ✗ ${entry.action.padEnd(width)}  ${entry.reason}${entry.resets_at === undefined ? '' : ` (resets_at ${entry.resets_at})`}`);
  }
  if (capabilities.cannot.length === 0) lines.push('  (nothing)');
  return lines.join('\n');
}

function stateOf(capabilities: CapabilitiesLike, action: string): { kind: 'allowed'; entry: CanLike } | { kind: 'denied'; entry: CannotLike } | { kind: 'unknown' } {
  const can = capabilities.can.find((c) => c.action === action);
  if (can !== undefined) return { kind: 'allowed', entry: can };
  const cannot = capabilities.cannot.find((c) => c.action === action);
  return cannot === undefined ? { kind: 'unknown' } : { kind: 'denied', entry: cannot };
}

function denial(entry: CannotLike): string {
  return entry.resets_at === undefined ? entry.reason : `${entry.reason} (resets_at ${entry.resets_at})`;
}

function toAllow(this: MatcherState, received: unknown, action: string): MatchOutcome {
  const caps = checked(received, 'toAllow');
  const state = stateOf(caps, action);
  const subject = `expected tier "${caps.tier}"`;
  const table = `\n\n${formatCapabilities(caps)}`;
  if (state.kind === 'allowed') {
    return { pass: true, message: () => `${subject} not to allow ${action}, but it can (${state.entry.description})${table}` };
  }
  const why = state.kind === 'denied' ? `it is denied with ${denial(state.entry)}` : `${action} is in neither can[] nor cannot[] (not an action of this table?)`;
  return { pass: false, message: () => `${subject} to allow ${action}, but ${why}${table}` };
}

function toDeny(this: MatcherState, received: unknown, action: string, reason?: string): MatchOutcome {
  const caps = checked(received, 'toDeny');
  const state = stateOf(caps, action);
  const subject = `expected tier "${caps.tier}"`;
  const withReason = reason === undefined ? '' : ` with ${reason}`;
  const table = `\n\n${formatCapabilities(caps)}`;
  if (state.kind === 'denied' && (reason === undefined || state.entry.reason === reason)) {
    return { pass: true, message: () => `${subject} not to deny ${action}${withReason}, but it is denied with ${denial(state.entry)}${table}` };
  }
  const why =
    state.kind === 'allowed'
      ? `it is allowed (${state.entry.description})`
      : state.kind === 'denied'
        ? `it is denied with ${denial(state.entry)}`
        : `${action} is in neither can[] nor cannot[] (not an action of this table?)`;
  return { pass: false, message: () => `${subject} to deny ${action}${withReason}, but ${why}${table}` };
}

/** The matchers, for `expect.extend(tiergateMatchers)`. */
export const tiergateMatchers = { toAllow, toDeny } as const;

/**
 * Registers {@link tiergateMatchers} on vitest's `expect` (or the one given).
 * Call it once per test file, or from a `setupFiles` module:
 *
 * @example
 * // vitest.setup.ts  (vitest.config: test.setupFiles: ['./vitest.setup.ts'])
 * import { setupTiergateMatchers } from '@tiergate/testing';
 * setupTiergateMatchers();
 */
export function setupTiergateMatchers(target: Pick<ExpectStatic, 'extend'> = expect): void {
  target.extend(tiergateMatchers);
}
