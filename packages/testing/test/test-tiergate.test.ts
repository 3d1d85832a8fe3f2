import { afterEach, describe, expect, it } from 'vitest';
import { defineTiers, verifyWebhookSignature } from '@tiergate/core';
import { createFakeClock, createTestTiergate, setupTiergateMatchers } from '@tiergate/testing';

setupTiergateMatchers();

const started: { stop(): Promise<void> }[] = [];
afterEach(async () => {
  while (started.length > 0) await started.pop()?.stop();
});

function setup(options: Parameters<typeof createTestTiergate>[0] = {}) {
  const t = createTestTiergate({ start: '2026-03-10T12:00:00.000Z', accounts: [{ id: 'acc_dev', tier: 'developer', operatorEmail: 'ops@example.com' }], ...options });
  started.push(t);
  return t;
}

describe('createTestTiergate', () => {
  it('approve → exactly one approval.granted callback whose signature verifies', async () => {
    const t = setup();
    const { request_id } = await t.requestApproval('acc_dev', { action: 'bulk_send', context: { recipient_count: 500 } });
    expect(request_id).toMatch(/^apr_/);
    const outcome = await t.approve(request_id, 'ops@example.com');
    expect(outcome.ok).toBe(true);
    await t.deliver();
    expect(t.callbacks).toHaveLength(1);
    const callback = t.callbacks[0] as (typeof t.callbacks)[number];
    expect(callback.url).toBe('https://agent.test/tiergate/approvals');
    expect(callback.status).toBe(200);
    expect(callback.body).toEqual({
      type: 'approval.granted',
      timestamp: '2026-03-10T12:00:00.000Z',
      data: {
        request_id,
        status: 'approved',
        action: 'bulk_send',
        context: { recipient_count: 500 },
        approved_by: 'ops@example.com',
        approved_at: '2026-03-10T12:00:00.000Z',
        denial_reason: null,
      },
    });
    const secret = t.account('acc_dev').webhookSecret;
    expect(verifyWebhookSignature(secret, callback.headers, callback.rawBody, t.clock.now())).toEqual({ ok: true });
    expect(verifyWebhookSignature(secret, callback.headers, callback.rawBody.replace('500', '501'), t.clock.now())).toEqual({ ok: false, failure: 'bad_signature' });
    expect((await t.tiergate.approvals.get(request_id))?.status).toBe('approved');
    // A second deliver sends nothing more; a second decision loses the compare-and-set.
    await t.deliver();
    expect(t.callbacks).toHaveLength(1);
    expect(await t.deny(request_id)).toMatchObject({ ok: false, code: 'APPROVAL_ALREADY_DECIDED' });
  });

  it('deny with a reason → approval.denied carrying it', async () => {
    const t = setup();
    const { request_id } = await t.requestApproval('acc_dev', { action: 'data_export', urgency: 'high' });
    expect(await t.deny(request_id, 'Not during the audit', 'lead@example.com')).toMatchObject({ ok: true, approval: { status: 'denied', denialReason: 'Not during the audit' } });
    await t.deliver();
    expect(t.callbacks.map((c) => c.body.type)).toEqual(['approval.denied']);
    expect(t.callbacks[0]?.body.data).toMatchObject({ request_id, status: 'denied', approved_by: 'lead@example.com', denial_reason: 'Not during the audit', context: null });
  });

  it('past its expiry, sweep() expires it → exactly one approval.expired', async () => {
    const t = setup();
    const { request_id } = await t.requestApproval('acc_dev', { action: 'bulk_send', expiresIn: 3600 });
    t.clock.advance('59m');
    expect(await t.tiergate.sweep()).toMatchObject({ expired: 0 });
    t.clock.advance('1m');
    expect(await t.tiergate.sweep()).toMatchObject({ expired: 1 });
    await t.deliver();
    t.clock.advance('1h');
    expect(await t.tiergate.sweep()).toMatchObject({ expired: 0 });
    await t.deliver();
    expect(t.callbacks.map((c) => c.body.type)).toEqual(['approval.expired']);
    expect(t.callbacks[0]?.body.data).toMatchObject({ request_id, status: 'expired', approved_by: null, approved_at: null });
    expect(await t.approve(request_id)).toMatchObject({ ok: false, code: 'APPROVAL_EXPIRED' });
  });

  it('expire(id) ends a pending request before its deadline', async () => {
    const t = setup();
    const { request_id } = await t.requestApproval('acc_dev', { action: 'bulk_send' });
    expect(await t.expire(request_id)).toMatchObject({ ok: true, approval: { status: 'expired' } });
    await t.deliver();
    expect(t.callbacks.map((c) => c.body.type)).toEqual(['approval.expired']);
  });

  it('a failing endpoint is retried on the schedule with the same webhook-id', async () => {
    let answer = 503;
    const t = setup({ callbackStatus: () => answer });
    const { request_id } = await t.requestApproval('acc_dev', { action: 'bulk_send' });
    await t.approve(request_id);
    expect(await t.deliver()).toMatchObject({ delivered: 0, retried: 1 });
    answer = 200;
    expect(await t.deliver()).toMatchObject({ delivered: 0 });
    t.clock.advance('5s');
    expect(await t.deliver()).toMatchObject({ delivered: 1 });
    expect(t.callbacks.map((c) => c.status)).toEqual([503, 200]);
    expect(t.callbacks[1]?.headers['webhook-id']).toBe(t.callbacks[0]?.headers['webhook-id']);
    expect(t.callbacks[1]?.at).toBe(t.clock.now());
  });

  it('a request without a callback URL emits no callback; notify() makes plain notifications', async () => {
    const t = setup();
    const { request_id } = await t.requestApproval('acc_dev', { action: 'bulk_send', callbackUrl: null });
    await t.approve(request_id);
    const note = await t.notify('acc_dev', { issue: 'Webhook endpoint has been unhealthy for 2 hours', actionLabel: 'View Webhook Settings' });
    expect(note.notification_id).toMatch(/^not_/);
    expect(note).not.toHaveProperty('request_id');
    await t.deliver();
    expect(t.callbacks).toEqual([]);
  });

  it('default accounts: one per tier, with API keys the kernel accepts', async () => {
    const t = createTestTiergate();
    started.push(t);
    expect(Object.keys(t.accounts)).toEqual(['acc_free', 'acc_developer', 'acc_growth', 'acc_enterprise']);
    expect(t.account('acc_growth').webhookSecret).toMatch(/^whsec_/);
    const response = await t.handle({ method: 'GET', path: '/v1/account', headers: { authorization: `Bearer ${t.account('acc_growth').apiKey}` } });
    expect(response.status).toBe(200);
    expect(JSON.parse(response.body)).toMatchObject({ result: { id: 'acc_growth', tier: 'growth' } });
    expect(() => t.account('acc_nobody')).toThrow(TypeError);
  });

  it('custom tiers, a shared fake clock and quota through check()', async () => {
    const tiers = defineTiers({
      actions: { export_pdf: { description: 'Export PDFs', reason: 'EXPORT_REQUIRES_PRO', quota: { reason: 'EXPORT_LIMIT_EXCEEDED' } } },
      tiers: { hobby: { grants: {} }, pro: { grants: { export_pdf: { limits: { day: 2 } } } } },
    });
    const clock = createFakeClock('2026-03-10T23:00:00.000Z');
    const t = createTestTiergate({ tiers, clock });
    started.push(t);
    expect(t.clock).toBe(clock);
    expect(Object.keys(t.accounts)).toEqual(['acc_hobby', 'acc_pro']);
    expect(await t.capabilities('acc_hobby')).toDeny('export_pdf', 'EXPORT_REQUIRES_PRO');
    expect((await t.check('acc_pro', 'export_pdf', { consume: 2 })).allowed).toBe(true);
    expect(await t.check('acc_pro', 'export_pdf', { consume: 1 })).toMatchObject({ allowed: false, reason: 'EXPORT_LIMIT_EXCEEDED' });
    clock.advance('1h');
    expect((await t.check('acc_pro', 'export_pdf', { consume: 1 })).allowed).toBe(true);
  });

  it('duplicate account ids are refused', () => {
    expect(() => createTestTiergate({ accounts: [{ id: 'a', tier: 'free' }, { id: 'a', tier: 'developer' }] })).toThrow(TypeError);
  });
});
