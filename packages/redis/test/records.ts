/** Record builders for the Redis-specific tests (random ids, far-future deadlines unless told otherwise). */
import { randomBytes } from 'node:crypto';
import type { ApprovalPatch, ApprovalRecord, AuditEntry, NotificationRecord, OutboxMessage } from '@tiergate/core';

export const T0 = Date.parse('2026-01-15T12:00:00.000Z');
export const MINUTE = 60_000;
export const HOUR = 3_600_000;
export const DAY = 86_400_000;

export const uid = (prefix: string): string => `${prefix}${randomBytes(8).toString('hex')}`;
export const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

export function notificationRecord(overrides: Partial<NotificationRecord> = {}): NotificationRecord {
  return {
    id: uid('not_'),
    accountId: uid('acc_'),
    issue: 'Unable to send confirmation email - sending requires paid tier',
    actionLabel: 'Review Request',
    sealedContext: `v1.${uid('')}`,
    approvalId: null,
    linkId: uid('lnk_'),
    account: { tier: 'free', status: 'active', operatorEmail: 'ops@example.com', customDomains: null },
    createdAt: T0,
    expiresAt: T0 + 7 * DAY,
    purgeAt: T0 + 37 * DAY,
    ...overrides,
  };
}

export function approvalRecord(notification: NotificationRecord, overrides: Partial<ApprovalRecord> = {}): ApprovalRecord {
  return {
    id: notification.approvalId ?? uid('apr_'),
    accountId: notification.accountId,
    notificationId: notification.id,
    action: 'bulk_send',
    reason: 'Sending to 500 recipients exceeds safety threshold',
    urgency: 'medium',
    callbackUrl: 'https://agent.example.com/hooks/tiergate',
    sealedSecret: `v1.${uid('')}`,
    status: 'pending',
    createdAt: notification.createdAt,
    expiresAt: notification.createdAt + HOUR,
    decidedAt: null,
    decidedBy: null,
    denialReason: null,
    purgeAt: notification.purgeAt,
    ...overrides,
  };
}

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
    nextAttemptAt: T0,
    createdAt: T0,
    lastError: null,
    purgeAt: T0 + 30 * DAY,
    ...overrides,
  };
}

export function createdEntry(approvalId: string, at = T0): AuditEntry {
  return { approvalId, at, event: 'created', actor: 'agent', ip: null, userAgent: null };
}

export function decision(status: ApprovalPatch['status'], at: number, by: string | null): ApprovalPatch {
  return { status, decidedAt: at, decidedBy: by, denialReason: status === 'denied' ? 'not today' : null };
}

export function auditFor(approvalId: string, patch: ApprovalPatch): AuditEntry {
  return { approvalId, at: patch.decidedAt, event: patch.status, actor: patch.decidedBy ?? 'system', ip: '203.0.113.7', userAgent: 'redis-test' };
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
