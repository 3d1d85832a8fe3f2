/**
 * Conversions between table rows and the store's records.
 *
 * `pg` returns BIGINT as strings (JavaScript numbers cannot hold every int8);
 * the store's times are epoch milliseconds, far below 2^53, so they are read
 * back with `Number`. The host's global type parsers are left alone.
 */
import type { AccountSnapshot, ApprovalRecord, AuditEntry, EndpointHealth, NotificationRecord, OutboxMessage } from '@tiergate/core';

/** A row as `pg` hands it over. */
export type Row = Record<string, unknown>;

const num = (value: unknown): number => Number(value);
const numOrNull = (value: unknown): number | null => (value === null || value === undefined ? null : Number(value));
const str = (value: unknown): string => String(value);
const strOrNull = (value: unknown): string | null => (value === null || value === undefined ? null : String(value));

/** A `notifications` row as a record. */
export function notificationFromRow(row: Row): NotificationRecord {
  const account = row['account'] as AccountSnapshot;
  return {
    id: str(row['id']),
    accountId: str(row['account_id']),
    issue: str(row['issue']),
    actionLabel: str(row['action_label']),
    sealedContext: strOrNull(row['sealed_context']),
    approvalId: strOrNull(row['approval_id']),
    linkId: str(row['link_id']),
    account: { tier: account.tier, status: account.status, operatorEmail: account.operatorEmail, customDomains: account.customDomains },
    createdAt: num(row['created_at']),
    expiresAt: num(row['expires_at']),
    purgeAt: num(row['purge_at']),
  };
}

/** An `approvals` row as a record. */
export function approvalFromRow(row: Row): ApprovalRecord {
  return {
    id: str(row['id']),
    accountId: str(row['account_id']),
    notificationId: str(row['notification_id']),
    action: str(row['action']),
    reason: str(row['reason']),
    urgency: row['urgency'] as ApprovalRecord['urgency'],
    callbackUrl: strOrNull(row['callback_url']),
    sealedSecret: strOrNull(row['sealed_secret']),
    status: row['status'] as ApprovalRecord['status'],
    createdAt: num(row['created_at']),
    expiresAt: num(row['expires_at']),
    decidedAt: numOrNull(row['decided_at']),
    decidedBy: strOrNull(row['decided_by']),
    denialReason: strOrNull(row['denial_reason']),
    purgeAt: num(row['purge_at']),
  };
}

/** An `audit` row as an entry. */
export function auditFromRow(row: Row): AuditEntry {
  return {
    approvalId: str(row['approval_id']),
    at: num(row['at']),
    event: row['event'] as AuditEntry['event'],
    actor: str(row['actor']),
    ip: strOrNull(row['ip']),
    userAgent: strOrNull(row['user_agent']),
  };
}

/** An `outbox` row as a message (lease columns left out). */
export function outboxFromRow(row: Row): OutboxMessage {
  return {
    id: str(row['id']),
    accountId: str(row['account_id']),
    topic: row['topic'] as OutboxMessage['topic'],
    type: str(row['type']),
    subjectId: str(row['subject_id']),
    target: str(row['target']),
    state: row['state'] as OutboxMessage['state'],
    attempts: num(row['attempts']),
    nextAttemptAt: num(row['next_attempt_at']),
    createdAt: num(row['created_at']),
    lastError: strOrNull(row['last_error']),
    purgeAt: num(row['purge_at']),
  };
}

/** An `endpoint_health` row (or its absence) as health. */
export function healthFromRow(row: Row | undefined): EndpointHealth {
  if (row === undefined || row['healthy'] === null || row['healthy'] === undefined) return { healthy: true, consecutiveFailures: 0, disabledUrls: [] };
  return {
    healthy: row['healthy'] === true,
    consecutiveFailures: num(row['consecutive_failures']),
    disabledUrls: (row['disabled_urls'] as string[] | null) ?? [],
  };
}

/** Outbox messages as the rows `jsonb_to_recordset` reads (columns: {@link OUTBOX_JSON_COLUMNS}). */
export function outboxRows(messages: readonly OutboxMessage[]): Record<string, unknown>[] {
  return messages.map((m) => ({
    id: m.id,
    account_id: m.accountId,
    topic: m.topic,
    type: m.type,
    subject_id: m.subjectId,
    target: m.target,
    state: m.state,
    attempts: m.attempts,
    next_attempt_at: m.nextAttemptAt,
    created_at: m.createdAt,
    last_error: m.lastError,
    purge_at: m.purgeAt,
  }));
}

/** {@link outboxRows} as the JSON text of a `jsonb` parameter. */
export function outboxJson(messages: readonly OutboxMessage[]): string {
  return JSON.stringify(outboxRows(messages));
}

/** The column list matching {@link outboxJson}, for `jsonb_to_recordset(...) AS m(<columns>)`. */
export const OUTBOX_JSON_COLUMNS =
  'id text, account_id text, topic text, type text, subject_id text, target text, state text, attempts integer, next_attempt_at bigint, created_at bigint, last_error text, purge_at bigint';
