/**
 * Operator messages rendered by core's real renderer, for tests that call a
 * notifier directly (without the service and its outbox).
 */
import { englishMessages, renderOperatorMessage, type ApprovalRecord, type OperatorMessage, type Urgency } from '@tiergate/core';

const NOW = Date.parse('2026-01-15T12:00:00.000Z');
const REVIEW = 'https://api.example.com/operator/action?token=eyJ.test.token';

/** The seed's bulk-send approval request, rendered. */
export function approvalMessage(overrides: { readonly reason?: string; readonly context?: unknown; readonly urgency?: Urgency; readonly operatorEmail?: string | null; readonly id?: string } = {}): OperatorMessage {
  const approval: ApprovalRecord = {
    id: 'apr_test1',
    accountId: 'acct_1',
    notificationId: 'not_test1',
    action: 'bulk_send',
    reason: overrides.reason ?? 'Sending to 500 recipients exceeds safety threshold',
    urgency: overrides.urgency ?? 'medium',
    callbackUrl: null,
    sealedSecret: null,
    status: 'pending',
    createdAt: NOW,
    expiresAt: NOW + 3_600_000,
    decidedAt: null,
    decidedBy: null,
    denialReason: null,
    purgeAt: NOW + 40 * 86_400_000,
  };
  return renderOperatorMessage(englishMessages, {
    id: overrides.id ?? 'msg_test1',
    kind: 'approval_request',
    accountId: 'acct_1',
    notificationId: 'not_test1',
    issue: approval.reason,
    actionLabel: 'Review Request',
    context: 'context' in overrides ? overrides.context : { recipient_count: 500, subject: 'Product Update', preview: 'We are excited to announce...' },
    approval,
    operatorEmail: overrides.operatorEmail === undefined ? 'ops@example.com' : overrides.operatorEmail,
    reviewUrl: REVIEW,
    expiresAt: approval.expiresAt,
    now: NOW,
  });
}

/** A plain notify-operator message (one Review button), rendered. */
export function notificationMessage(issue = 'Unable to send confirmation email - sending requires paid tier', context: unknown = { blocked_by: 'SEND_REQUIRES_PAID' }): OperatorMessage {
  return renderOperatorMessage(englishMessages, {
    id: 'msg_test2',
    kind: 'notification',
    accountId: 'acct_1',
    notificationId: 'not_test2',
    issue,
    actionLabel: 'Upgrade to Enable Sending',
    context,
    approval: null,
    operatorEmail: 'ops@example.com',
    reviewUrl: REVIEW,
    expiresAt: NOW + 7 * 86_400_000,
    now: NOW,
  });
}
