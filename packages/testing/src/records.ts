/**
 * Record builders for store tests: the ones the store conformance suite uses,
 * for authors of a store who test more than the suite does. Ids are random,
 * times are fixed around {@link T0}; every builder takes overrides.
 */
import { randomBytes } from 'node:crypto';
import type { ApprovalPatch, ApprovalRecord, AuditEntry, NotificationRecord, OutboxMessage } from '@tiergate/core';

/** The suite's "now": 2026-01-15 12:00 UTC. */
export const T0 = Date.parse('2026-01-15T12:00:00.000Z');
/** A minute in milliseconds. */
export const MINUTE = 60_000;
/** An hour in milliseconds. */
export const HOUR = 3_600_000;
/** A day in milliseconds. */
export const DAY = 86_400_000;
/** A deadline no time-scanning test reaches (ten years after {@link T0}). */
export const FAR = T0 + 3650 * DAY;
/** A purge time after {@link FAR}. */
export const KEEP = FAR + 30 * DAY;

const rand = (): string => randomBytes(8).toString('hex');
/** A random id with `prefix`. */
export const uid = (prefix: string): string => `${prefix}${rand()}`;
/** `[0, 1, …, n - 1]`. */
export const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** A notification record with random ids and far-off deadlines; `overrides` win. */
export function notificationRecord(overrides: Partial<NotificationRecord> = {}): NotificationRecord {
  return {
    id: uid('not_'),
    accountId: uid('acc_'),
    issue: 'Unable to send confirmation email - sending requires paid tier',
    actionLabel: 'Review Request',
    sealedContext: `v1.${rand()}.${rand()}`,
    approvalId: null,
    linkId: uid('lnk_'),
    account: { tier: 'free', status: 'active', operatorEmail: 'ops@example.com', customDomains: null },
    createdAt: T0,
    expiresAt: FAR,
    purgeAt: KEEP,
    ...overrides,
  };
}

/** A pending approval of `notification` with far-off deadlines; `overrides` win. */
export function approvalRecord(notification: NotificationRecord, overrides: Partial<ApprovalRecord> = {}): ApprovalRecord {
  return {
    id: notification.approvalId ?? uid('apr_'),
    accountId: notification.accountId,
    notificationId: notification.id,
    action: 'bulk_send',
    reason: 'Sending to 500 recipients exceeds safety threshold',
    urgency: 'medium',
    callbackUrl: 'https://agent.example.com/hooks/tiergate',
    sealedSecret: `v1.${rand()}`,
    status: 'pending',
    createdAt: T0,
    expiresAt: FAR,
    decidedAt: null,
    decidedBy: null,
    denialReason: null,
    purgeAt: KEEP,
    ...overrides,
  };
}

/** A pending callback message about `subjectId`, due far off; `overrides` win. */
export function outboxMessage(subjectId: string, overrides: Partial<OutboxMessage> = {}): OutboxMessage {
  return {
    id: uid('msg_'),
    accountId: uid('acc_'),
    topic: 'callback',
    type: 'approval.granted',
    subjectId,
    target: 'https://agent.example.com/hooks/tiergate',
    state: 'pending',
    attempts: 0,
    nextAttemptAt: FAR,
    createdAt: T0,
    lastError: null,
    purgeAt: KEEP,
    ...overrides,
  };
}

/** The `created` audit entry of an approval. */
export function createdEntry(approvalId: string, at = T0): AuditEntry {
  return { approvalId, at, event: 'created', actor: 'agent', ip: null, userAgent: null };
}

/** The patch of a decision (`denied` carries a reason). */
export function decision(status: ApprovalPatch['status'], at: number, by: string | null): ApprovalPatch {
  return { status, decidedAt: at, decidedBy: by, denialReason: status === 'denied' ? 'not today' : null };
}

/** The audit entry of a decision `patch`. */
export function auditFor(approvalId: string, patch: ApprovalPatch, userAgent = 'conformance'): AuditEntry {
  return { approvalId, at: patch.decidedAt, event: patch.status, actor: patch.decidedBy ?? 'system', ip: '203.0.113.7', userAgent };
}

/** The code of a rejection, or `'resolved'`. */
export async function outcomeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'resolved';
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' ? code : `untyped: ${String(err)}`;
  }
}
