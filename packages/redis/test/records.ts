/**
 * Record builders for the Redis-specific tests: `@tiergate/testing`'s, with
 * nearer deadlines by default (a notification lives 7 days, an approval one
 * hour from its notification, an outbox message is due at once).
 */
import type { ApprovalRecord, NotificationRecord, OutboxMessage } from '@tiergate/core';
import * as records from '@tiergate/testing';
import { DAY, HOUR, T0 } from '@tiergate/testing';

export { DAY, HOUR, MINUTE, T0, createdEntry, decision, outcomeOf, range, uid } from '@tiergate/testing';

export function notificationRecord(overrides: Partial<NotificationRecord> = {}): NotificationRecord {
  return records.notificationRecord({ expiresAt: T0 + 7 * DAY, purgeAt: T0 + 37 * DAY, ...overrides });
}

export function approvalRecord(notification: NotificationRecord, overrides: Partial<ApprovalRecord> = {}): ApprovalRecord {
  return records.approvalRecord(notification, { createdAt: notification.createdAt, expiresAt: notification.createdAt + HOUR, purgeAt: notification.purgeAt, ...overrides });
}

export function outboxMessage(subjectId: string, overrides: Partial<OutboxMessage> = {}): OutboxMessage {
  return records.outboxMessage(subjectId, { nextAttemptAt: T0, purgeAt: T0 + 30 * DAY, ...overrides });
}

export const auditFor: typeof records.auditFor = (approvalId, patch, userAgent = 'redis-test') => records.auditFor(approvalId, patch, userAgent);
