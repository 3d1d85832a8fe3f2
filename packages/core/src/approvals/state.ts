/**
 * The approval state machine, as pure values:
 *
 *     pending ──approve──▶ approved
 *        │ ──deny─────▶ denied
 *        └ ──expire───▶ expired
 *
 * Every transition starts from `pending` (the store applies it as a
 * compare-and-set), the three ends are terminal, and expiry is its own state.
 * A decision at or after `expiresAt` is refused with `APPROVAL_EXPIRED`, even
 * before a sweep has marked the request expired.
 */

/** Where an approval is. */
export type ApprovalStatus = 'pending' | 'approved' | 'denied' | 'expired';
/** How urgent the agent says it is. */
export type Urgency = 'low' | 'medium' | 'high';
/** The callback event each terminal state emits. */
export type ApprovalEventType = 'approval.granted' | 'approval.denied' | 'approval.expired';

/** A stored approval request. The context lives (encrypted) on its notification. */
export interface ApprovalRecord {
  /** `apr_…` */
  readonly id: string;
  readonly accountId: string;
  /** `not_…` of the notification that carries the operator link and the context. */
  readonly notificationId: string;
  readonly action: string;
  readonly reason: string;
  readonly urgency: Urgency;
  readonly callbackUrl: string | null;
  /** The account's `whsec_…` secret at request time, sealed (encrypted, bound to this id); signs the callbacks. */
  readonly sealedSecret: string | null;
  readonly status: ApprovalStatus;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly decidedAt: number | null;
  readonly decidedBy: string | null;
  readonly denialReason: string | null;
  /** After this instant (ms) a store may delete the record. */
  readonly purgeAt: number;
}

/** A requested change. */
export type ApprovalTransition =
  | { readonly to: 'approved'; readonly by: string }
  | { readonly to: 'denied'; readonly by: string; readonly reason?: string | null }
  | { readonly to: 'expired' };

/** The fields a transition writes, applied by the store only if the record is still `pending`. */
export interface ApprovalPatch {
  readonly status: Exclude<ApprovalStatus, 'pending'>;
  readonly decidedAt: number;
  readonly decidedBy: string | null;
  readonly denialReason: string | null;
}

/** Result of {@link planTransition}. */
export type TransitionPlan =
  | { readonly ok: true; readonly patch: ApprovalPatch; readonly event: ApprovalEventType }
  | { readonly ok: false; readonly code: 'APPROVAL_ALREADY_DECIDED' | 'APPROVAL_EXPIRED' | 'APPROVAL_NOT_DUE' };

/** The event a terminal status emits. */
export function eventTypeFor(status: Exclude<ApprovalStatus, 'pending'>): ApprovalEventType {
  return status === 'approved' ? 'approval.granted' : status === 'denied' ? 'approval.denied' : 'approval.expired';
}

/**
 * Plans a transition of `record` at `now`. `expired` is refused before
 * `expiresAt` (`APPROVAL_NOT_DUE`) unless `force` is set (the test
 * simulator's `expire(id)`).
 */
export function planTransition(record: ApprovalRecord, transition: ApprovalTransition, now: number, force = false): TransitionPlan {
  if (record.status === 'expired') return { ok: false, code: 'APPROVAL_EXPIRED' };
  if (record.status !== 'pending') return { ok: false, code: 'APPROVAL_ALREADY_DECIDED' };
  if (transition.to === 'expired') {
    if (!force && now < record.expiresAt) return { ok: false, code: 'APPROVAL_NOT_DUE' };
    // The expiry instant is the request's deadline (a late sweep does not move it).
    const at = force ? Math.min(now, record.expiresAt) : record.expiresAt;
    return { ok: true, patch: { status: 'expired', decidedAt: at, decidedBy: null, denialReason: null }, event: 'approval.expired' };
  }
  if (now >= record.expiresAt) return { ok: false, code: 'APPROVAL_EXPIRED' };
  if (transition.to === 'approved') {
    return { ok: true, patch: { status: 'approved', decidedAt: now, decidedBy: transition.by, denialReason: null }, event: 'approval.granted' };
  }
  return {
    ok: true,
    patch: { status: 'denied', decidedAt: now, decidedBy: transition.by, denialReason: transition.reason ?? null },
    event: 'approval.denied',
  };
}

/** Applies a patch (what the store does when the compare-and-set succeeds). */
export function applyPatch(record: ApprovalRecord, patch: ApprovalPatch): ApprovalRecord {
  return { ...record, ...patch };
}
