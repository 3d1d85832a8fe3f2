/**
 * The body of an approval callback (DESIGN: callbacks to the agent). Built
 * from the terminal approval record at delivery time, so every retry carries
 * the same body (with a fresh timestamp and signature in the headers).
 */
import { isoTime } from '../clock.js';
import type { ApprovalEventType, ApprovalRecord, ApprovalStatus } from '../approvals/state.js';

/** `data` of an approval callback. */
export interface ApprovalEventData {
  readonly request_id: string;
  readonly status: Exclude<ApprovalStatus, 'pending'>;
  readonly action: string;
  readonly context: Record<string, unknown> | null;
  readonly approved_by: string | null;
  readonly approved_at: string | null;
  readonly denial_reason: string | null;
}

/** A callback body. */
export interface ApprovalEvent {
  readonly type: ApprovalEventType;
  /** When the state changed, ISO-8601. */
  readonly timestamp: string;
  readonly data: ApprovalEventData;
}

/** Builds the callback body of a terminal approval. */
export function approvalEvent(approval: ApprovalRecord, context: Record<string, unknown> | null): ApprovalEvent {
  const status = approval.status === 'pending' ? 'expired' : approval.status;
  const at = approval.decidedAt ?? approval.expiresAt;
  const type: ApprovalEventType = status === 'approved' ? 'approval.granted' : status === 'denied' ? 'approval.denied' : 'approval.expired';
  return {
    type,
    timestamp: isoTime(at),
    data: {
      request_id: approval.id,
      status,
      action: approval.action,
      context,
      approved_by: status === 'expired' ? null : approval.decidedBy,
      approved_at: status === 'expired' ? null : isoTime(at),
      denial_reason: status === 'denied' ? approval.denialReason : null,
    },
  };
}
