import { describe, expect, it } from 'vitest';
import { applyPatch, eventTypeFor, planTransition, type ApprovalRecord } from '@tiergate/core';

const T0 = Date.parse('2026-03-10T15:00:00.000Z');
const pending: ApprovalRecord = {
  id: 'apr_1',
  accountId: 'acc_1',
  notificationId: 'not_1',
  action: 'bulk_send',
  reason: 'r',
  urgency: 'medium',
  callbackUrl: null,
  sealedSecret: null,
  status: 'pending',
  createdAt: T0,
  expiresAt: T0 + 3_600_000,
  decidedAt: null,
  decidedBy: null,
  denialReason: null,
  purgeAt: T0 + 10 * 3_600_000,
};

describe('approval state machine', () => {
  it('pending → approved records who and when', () => {
    const plan = planTransition(pending, { to: 'approved', by: 'ops@example.com' }, T0 + 60_000);
    expect(plan).toEqual({ ok: true, event: 'approval.granted', patch: { status: 'approved', decidedAt: T0 + 60_000, decidedBy: 'ops@example.com', denialReason: null } });
  });

  it('pending → denied keeps the reason', () => {
    const plan = planTransition(pending, { to: 'denied', by: 'ops', reason: 'too many' }, T0 + 1);
    expect(plan).toMatchObject({ ok: true, event: 'approval.denied', patch: { status: 'denied', denialReason: 'too many' } });
  });

  it('a decision at or after expiresAt is APPROVAL_EXPIRED', () => {
    expect(planTransition(pending, { to: 'approved', by: 'x' }, pending.expiresAt)).toEqual({ ok: false, code: 'APPROVAL_EXPIRED' });
    expect(planTransition(pending, { to: 'approved', by: 'x' }, pending.expiresAt - 1).ok).toBe(true);
  });

  it('expiry is only due at expiresAt, and records the deadline as its time', () => {
    expect(planTransition(pending, { to: 'expired' }, pending.expiresAt - 1)).toEqual({ ok: false, code: 'APPROVAL_NOT_DUE' });
    expect(planTransition(pending, { to: 'expired' }, pending.expiresAt + 5000)).toEqual({
      ok: true,
      event: 'approval.expired',
      patch: { status: 'expired', decidedAt: pending.expiresAt, decidedBy: null, denialReason: null },
    });
    expect(planTransition(pending, { to: 'expired' }, T0 + 10, true)).toMatchObject({ ok: true, patch: { decidedAt: T0 + 10 } });
  });

  it('terminal states are final', () => {
    for (const status of ['approved', 'denied'] as const) {
      const done = { ...pending, status };
      expect(planTransition(done, { to: 'approved', by: 'x' }, T0)).toEqual({ ok: false, code: 'APPROVAL_ALREADY_DECIDED' });
      expect(planTransition(done, { to: 'expired' }, pending.expiresAt + 1)).toEqual({ ok: false, code: 'APPROVAL_ALREADY_DECIDED' });
    }
    expect(planTransition({ ...pending, status: 'expired' }, { to: 'denied', by: 'x' }, T0)).toEqual({ ok: false, code: 'APPROVAL_EXPIRED' });
  });

  it('applyPatch and eventTypeFor', () => {
    const plan = planTransition(pending, { to: 'approved', by: 'x' }, T0);
    if (!plan.ok) throw new Error('expected ok');
    expect(applyPatch(pending, plan.patch).status).toBe('approved');
    expect(pending.status).toBe('pending');
    expect([eventTypeFor('approved'), eventTypeFor('denied'), eventTypeFor('expired')]).toEqual(['approval.granted', 'approval.denied', 'approval.expired']);
  });
});
