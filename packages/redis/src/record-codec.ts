/**
 * How records are written to and read from Redis. Records are stored as the
 * JSON the caller gave (`JSON.stringify`), never re-encoded by Lua; the fields
 * a script changes live beside that JSON in the same hash (approval:
 * `status`/`patch`; outbox message: `state`, `attempts`, `nextAttemptAt`,
 * `lastError`, lease), and reads merge them over it.
 */
import type { ApprovalPatch, ApprovalRecord, ClaimedMessage, EndpointHealth, OutboxMessage } from '@tiergate/core';
import { OUTBOX_ARGS } from './lua-scripts.js';

/** The shortest TTL the store sets (ms): a record written already past its `purgeAt` can still be read back at once. */
export const MIN_TTL_MS = 60_000;

/**
 * Milliseconds Redis should keep a record whose `purgeAt` is given, measured
 * from `at`, the instant of the write on the service's clock. Relative TTLs
 * (PEXPIRE) give `PEXPIREAT purgeAt` when the service runs on the system
 * clock, and stay correct when it runs on an injected clock or its clock and
 * Redis's disagree: a record is never dropped before `purgeAt` as the service
 * counts time.
 */
export function ttlFor(purgeAt: number, at: number): string {
  return String(Math.max(MIN_TTL_MS, Math.ceil(purgeAt - at)));
}

/** A number as ARGV: decimal digits, never exponent notation. */
export function num(value: number): string {
  return Number.isInteger(value) ? value.toFixed(0) : String(value);
}

/** ARGV slots of one outbox message for the create and transition scripts (see `OUTBOX_ARGS`). */
export function outboxArgs(message: OutboxMessage, at: number): string[] {
  const args = [
    message.id,
    JSON.stringify(message),
    message.subjectId,
    message.state,
    num(message.attempts),
    num(message.nextAttemptAt),
    JSON.stringify(message.lastError),
    num(message.purgeAt),
    ttlFor(message.purgeAt, at),
  ];
  if (args.length !== OUTBOX_ARGS) throw new Error('outbox argument layout out of step with the Lua scripts');
  return args;
}

function str(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  throw new TypeError(`unexpected Redis reply ${String(value)}`);
}

/** An approval from its hash fields `base` and `patch` (`null`/`''` patch: still as created). */
export function decodeApproval(base: unknown, patch: unknown): ApprovalRecord | null {
  if (base === null || base === undefined) return null;
  const record = JSON.parse(str(base)) as ApprovalRecord;
  if (patch === null || patch === undefined || patch === '') return record;
  return { ...record, ...(JSON.parse(str(patch)) as ApprovalPatch) };
}

/** An outbox message from the fields the scripts return: base JSON, state, attempts, nextAttemptAt, lastError JSON. */
export function decodeOutbox(base: unknown, state: unknown, attempts: unknown, nextAttemptAt: unknown, lastError: unknown): OutboxMessage {
  return {
    ...(JSON.parse(str(base)) as OutboxMessage),
    state: str(state) as OutboxMessage['state'],
    attempts: Number(str(attempts)),
    nextAttemptAt: Number(str(nextAttemptAt)),
    lastError: JSON.parse(str(lastError)) as string | null,
  };
}

/** A row of `listOutbox`: {id, base, state, attempts, nextAttemptAt, lastError}. */
export function decodeOutboxRow(row: unknown): OutboxMessage {
  const [, base, state, attempts, nextAttemptAt, lastError] = row as unknown[];
  return decodeOutbox(base, state, attempts, nextAttemptAt, lastError);
}

/** A row of `claimOutbox`: {id, base, state, attempts, nextAttemptAt, lastError, lease}. */
export function decodeClaimedRow(row: unknown): ClaimedMessage {
  const [, base, state, attempts, nextAttemptAt, lastError, lease] = row as unknown[];
  return { ...decodeOutbox(base, state, attempts, nextAttemptAt, lastError), lease: str(lease) };
}

/** Endpoint health from {healthy flag, failures, urls JSON}. */
export function decodeHealth(healthy: unknown, failures: unknown, urls: unknown): EndpointHealth {
  return { healthy: str(healthy) !== '0', consecutiveFailures: Number(str(failures)), disabledUrls: JSON.parse(str(urls)) as string[] };
}
