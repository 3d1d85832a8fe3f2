import { afterEach, describe, expect, it } from 'vitest';
import {
  apiKeyAuthenticator,
  createTiergate,
  isTiergateError,
  memoryStore,
  verifyWebhookSignature,
  type Account,
  type Store,
  type TiergateOptions,
} from '@tiergate/core';
import { createFakeClock } from '@tiergate/testing';
import { startReceiver, type Answer } from './receiver.js';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const free: Account = { id: 'acc_free', tier: 'free', webhookSecret: SECRET, operatorEmail: 'ops@example.com' };
const dev: Account = { id: 'acc_dev', tier: 'developer', webhookSecret: SECRET };
const accounts = [free, dev];

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

function setup(overrides: Partial<TiergateOptions> = {}, store: Store = memoryStore(), clock = createFakeClock('2026-03-10T12:00:00.000Z')) {
  const tiergate = createTiergate({
    authenticate: apiKeyAuthenticator(accounts.map((a) => ({ apiKey: `key_${a.id}`, account: a }))),
    findAccount: (id) => accounts.find((a) => a.id === id) ?? null,
    secret: 'x'.repeat(32),
    publicUrl: 'https://api.example.com/tg',
    clock,
    store,
    webhooks: { allowPrivateCallbacks: true, timeoutMs: 300 },
    ...overrides,
  });
  cleanups.push(() => tiergate.stop());
  return { tiergate, clock, store };
}

async function receiver(script?: (req: { path: string }, i: number) => Answer) {
  const r = await startReceiver(script);
  cleanups.push(r.close);
  return r;
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'OK';
  } catch (err) {
    if (isTiergateError(err)) return err.code;
    throw err;
  }
}

const approvalBody = (callbackUrl?: string, extra: Record<string, unknown> = {}) => ({
  type: 'approval_request',
  action: 'bulk_send',
  reason: 'Sending to 500 recipients exceeds safety threshold',
  context: { recipient_count: 500, subject: 'Product Update' },
  urgency: 'medium',
  ...(callbackUrl === undefined ? {} : { callbackUrl }),
  expiresIn: 3600,
  ...extra,
});

describe('notifyOperator', () => {
  it('returns the seed fields and stores the context encrypted', async () => {
    const { tiergate, store, clock } = setup();
    const result = await tiergate.notifyOperator(free, { issue: 'Unable to send confirmation email - sending requires paid tier', context: { recipient: 'user@example.com' }, actionLabel: 'Upgrade to Enable Sending' });
    expect(result.notification_id).toMatch(/^not_[A-Za-z0-9_-]{16}$/);
    expect(result.operator_action_label).toBe('Upgrade to Enable Sending');
    expect(result.operator_action_url).toMatch(/^https:\/\/api\.example\.com\/tg\/operator\/action\?token=[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(result.agent_script).toBe(`Tell your operator: Unable to send confirmation email - sending requires paid tier. Here's a direct action link: ${result.operator_action_url}`);
    expect(Date.parse(result.expires_at)).toBe(clock.now() + 7 * 86_400_000);
    const record = await store.getNotification(result.notification_id);
    expect(record?.sealedContext).not.toBeNull();
    expect(JSON.stringify(record)).not.toContain('user@example.com');
    expect(result.rateLimit).toEqual({ limit: 10, remaining: 9, resetSeconds: 3600 });
  });

  it('each record keeps the account as it was when it was written, also when the account changes in place', async () => {
    const { tiergate, store } = setup();
    // Mutable, as a host's own account object may be.
    const account: { id: string; tier: string; status?: string; operatorEmail?: string; customDomains?: number } = { id: 'acc_changing', tier: 'free', operatorEmail: 'ops@example.com' };
    const snapshotAt = async () => (await store.getNotification((await tiergate.notifyOperator(account, { issue: 'Please look' })).notification_id))?.account;
    const first = await snapshotAt();
    const second = await snapshotAt();
    expect(first).toEqual({ tier: 'free', status: 'active', operatorEmail: 'ops@example.com', customDomains: null });
    expect(second).toEqual(first);
    expect(Object.isFrozen(second)).toBe(true);
    // The host changes its account object in place: the records written before keep what they saw.
    account.tier = 'developer';
    account.status = 'under_review';
    delete account.operatorEmail;
    account.customDomains = 2;
    const third = await snapshotAt();
    expect(third).toEqual({ tier: 'developer', status: 'under_review', operatorEmail: null, customDomains: 2 });
    expect(first).toEqual({ tier: 'free', status: 'active', operatorEmail: 'ops@example.com', customDomains: null });
    // Another account with the same fields never gets this one's snapshot under its own id mixed up.
    const other: Account = { id: 'acc_other', tier: 'free' };
    const otherSnapshot = (await store.getNotification((await tiergate.notifyOperator(other, { issue: 'Please look' })).notification_id))?.account;
    expect(otherSnapshot).toEqual({ tier: 'free', status: 'active', operatorEmail: null, customDomains: null });
  });

  it('defaults the label to "Review Request"', async () => {
    const { tiergate } = setup();
    expect((await tiergate.notifyOperator(free, { issue: 'help' })).operator_action_label).toBe('Review Request');
  });

  it('allows 10 per hour per account; invalid requests do not consume', async () => {
    const { tiergate } = setup();
    for (let i = 0; i < 5; i += 1) expect(await codeOf(tiergate.notifyOperator(free, { issue: '' }))).toBe('INVALID_REQUEST');
    for (let i = 0; i < 10; i += 1) await tiergate.notifyOperator(free, { issue: `n${i}` });
    const err = await tiergate.notifyOperator(free, { issue: 'one more' }).catch((e: unknown) => e);
    expect(isTiergateError(err, 'RATE_LIMITED') && err.retryAfterSeconds).toBeGreaterThan(3500);
    // Buckets are per account.
    expect(await codeOf(tiergate.notifyOperator(dev, { issue: 'other account' }))).toBe('OK');
  });

  it('a store failure gives the rate-limit point back and writes nothing', async () => {
    const base = memoryStore();
    let broken = true;
    const flaky: Store = {
      ...base,
      createNotification: async (input) => {
        if (broken) throw new Error('connection reset');
        return base.createNotification(input);
      },
    };
    const { tiergate } = setup({}, flaky);
    for (let i = 0; i < 12; i += 1) expect(await codeOf(tiergate.notifyOperator(free, { issue: 'x' }))).toBe('STORE_UNAVAILABLE');
    broken = false;
    for (let i = 0; i < 10; i += 1) expect(await codeOf(tiergate.notifyOperator(free, { issue: 'x' }))).toBe('OK');
    expect(await codeOf(tiergate.notifyOperator(free, { issue: 'x' }))).toBe('RATE_LIMITED');
  });

  it('refuses forbidden callback URLs and accounts without a webhook secret', async () => {
    const strict = setup({ webhooks: {} }).tiergate;
    expect(await codeOf(strict.notifyOperator(free, approvalBody('http://127.0.0.1:9/cb')))).toBe('CALLBACK_URL_FORBIDDEN');
    expect(await codeOf(strict.notifyOperator(free, approvalBody('ftp://example.com/cb')))).toBe('CALLBACK_URL_FORBIDDEN');
    const rebinding = setup({ webhooks: { resolve: async () => [{ address: '10.1.2.3', family: 4 }] } }).tiergate;
    expect(await codeOf(rebinding.notifyOperator(free, approvalBody('https://agent.example.com/cb')))).toBe('CALLBACK_URL_FORBIDDEN');
    const { tiergate } = setup();
    expect(await codeOf(tiergate.notifyOperator({ id: 'acc_x', tier: 'free' }, approvalBody('http://127.0.0.1:9/cb')))).toBe('INVALID_REQUEST');
  });

  it('accepts snake_case and camelCase but not two different values', async () => {
    const { tiergate } = setup();
    expect((await tiergate.notifyOperator(free, { issue: 'x', action_label: 'A' })).operator_action_label).toBe('A');
    expect(await codeOf(tiergate.notifyOperator(free, { issue: 'x', action_label: 'A', actionLabel: 'B' }))).toBe('INVALID_REQUEST');
  });

  it('validates issue length in UTF-16 units, whitespace and control characters', async () => {
    const { tiergate } = setup({ notifyRateLimit: false });
    expect(await codeOf(tiergate.notifyOperator(free, { issue: 'é'.repeat(1000) }))).toBe('OK');
    expect(await codeOf(tiergate.notifyOperator(free, { issue: 'a'.repeat(1001) }))).toBe('INVALID_REQUEST');
    expect(await codeOf(tiergate.notifyOperator(free, { issue: '😀'.repeat(500) }))).toBe('OK');
    expect(await codeOf(tiergate.notifyOperator(free, { issue: '😀'.repeat(501) }))).toBe('INVALID_REQUEST');
    expect(await codeOf(tiergate.notifyOperator(free, { issue: ' \n\t ' }))).toBe('INVALID_REQUEST');
    expect(await codeOf(tiergate.notifyOperator(free, { issue: 'bell\u0007' }))).toBe('INVALID_REQUEST');
    expect(await codeOf(tiergate.notifyOperator(free, { issue: 'rtl\u202Eoverride' }))).toBe('INVALID_REQUEST');
    expect(await codeOf(tiergate.notifyOperator(free, { issue: 'lone \uD800 surrogate' }))).toBe('INVALID_REQUEST');
    expect(await codeOf(tiergate.notifyOperator(free, { issue: 'line one\nline two\ttab' }))).toBe('OK');
    expect(await codeOf(tiergate.notifyOperator(free, { issue: 'x', context: [1] }))).toBe('INVALID_REQUEST');
    expect(await codeOf(tiergate.notifyOperator(free, { issue: 'x', context: { big: 'y'.repeat(20_000) } }))).toBe('INVALID_REQUEST');
    let deep: Record<string, unknown> = {};
    for (let i = 0; i < 20; i += 1) deep = { d: deep };
    expect(await codeOf(tiergate.notifyOperator(free, { issue: 'x', context: deep }))).toBe('INVALID_REQUEST');
  });
});

describe('approvals and callbacks', () => {
  it('a decision is delivered once, signed, with the seed body', async () => {
    const hook = await receiver();
    const { tiergate, clock } = setup();
    const created = await tiergate.notifyOperator(free, approvalBody(`${hook.url}/approval`));
    expect(created).toMatchObject({ status: 'pending', request_id: expect.stringMatching(/^apr_/) });
    const outcome = await tiergate.approvals.decide(created.request_id as string, { decision: 'approve', by: 'ops@example.com', ip: '203.0.113.9', userAgent: 'Firefox' });
    expect(outcome.ok).toBe(true);
    await tiergate.deliver();
    expect(hook.received).toHaveLength(1);
    const [call] = hook.received;
    expect(verifyWebhookSignature(SECRET, call?.headers as Record<string, string>, call?.body ?? '', clock.now())).toEqual({ ok: true });
    expect(JSON.parse(call?.body ?? '')).toEqual({
      type: 'approval.granted',
      timestamp: new Date(clock.now()).toISOString(),
      data: {
        request_id: created.request_id,
        status: 'approved',
        action: 'bulk_send',
        context: { recipient_count: 500, subject: 'Product Update' },
        approved_by: 'ops@example.com',
        approved_at: new Date(clock.now()).toISOString(),
        denial_reason: null,
      },
    });
    await tiergate.deliver();
    expect(hook.received).toHaveLength(1);
    const audit = await tiergate.approvals.audit(created.request_id as string);
    expect(audit.map((a) => [a.event, a.actor, a.ip, a.userAgent])).toEqual([
      ['created', 'agent', null, null],
      ['approved', 'ops@example.com', '203.0.113.9', 'Firefox'],
    ]);
  });

  it('approve and deny at once: one wins, one callback', async () => {
    const hook = await receiver();
    const { tiergate } = setup();
    const { request_id } = await tiergate.notifyOperator(free, approvalBody(hook.url));
    const outcomes = await Promise.all([
      tiergate.approvals.decide(request_id as string, { decision: 'approve' }),
      tiergate.approvals.decide(request_id as string, { decision: 'deny', denialReason: 'no' }),
    ]);
    expect(outcomes.filter((o) => o.ok)).toHaveLength(1);
    expect(outcomes.find((o) => !o.ok)).toMatchObject({ ok: false, code: 'APPROVAL_ALREADY_DECIDED' });
    await tiergate.deliver();
    expect(hook.received).toHaveLength(1);
  });

  it('retries after 500, timeout and 3xx with the same webhook-id and fresh timestamps', async () => {
    const answers: Answer[] = [{ status: 500 }, 'hang', { status: 302, headers: { location: 'https://elsewhere.example/' } }, { status: 200 }];
    const hook = await receiver((_r, i) => answers[i] ?? { status: 200 });
    const { tiergate, clock } = setup();
    const { request_id } = await tiergate.notifyOperator(free, approvalBody(hook.url));
    await tiergate.approvals.decide(request_id as string, { decision: 'deny', denialReason: 'Not now' });
    await tiergate.deliver();
    for (const wait of ['5s', '5m', '30m']) {
      clock.advance('1s');
      await tiergate.deliver();
      expect(hook.received).toHaveLength(answers.indexOf(answers[hook.received.length - 1] as Answer) + 1);
      clock.advance(wait);
      await tiergate.deliver();
    }
    expect(hook.received).toHaveLength(4);
    const ids = new Set(hook.received.map((r) => r.headers['webhook-id']));
    expect(ids.size).toBe(1);
    expect(new Set(hook.received.map((r) => r.headers['webhook-timestamp'])).size).toBe(4);
    expect(new Set(hook.received.map((r) => r.body)).size).toBe(1);
    const [message] = await tiergate.approvals.deliveries(request_id as string);
    expect(message).toMatchObject({ state: 'delivered', attempts: 4 });
  });

  it('honours Retry-After on 429 and disables an endpoint that answers 410', async () => {
    const hook = await receiver((r) => (r.path === '/busy' ? { status: 429, headers: { 'retry-after': '600' } } : { status: 410 }));
    const { tiergate, clock } = setup();
    const a = await tiergate.notifyOperator(free, approvalBody(`${hook.url}/busy`));
    await tiergate.approvals.decide(a.request_id as string, { decision: 'approve' });
    await tiergate.deliver();
    clock.advance('5m');
    await tiergate.deliver();
    expect(hook.received).toHaveLength(1); // 5 s schedule, but the receiver asked for 10 min
    clock.advance('5m');
    await tiergate.deliver();
    expect(hook.received).toHaveLength(2);

    const gone = await tiergate.notifyOperator(free, approvalBody(`${hook.url}/gone`));
    await tiergate.approvals.decide(gone.request_id as string, { decision: 'approve' });
    await tiergate.deliver();
    expect((await tiergate.approvals.deliveries(gone.request_id as string))[0]).toMatchObject({ state: 'dead', attempts: 1 });
    const again = await tiergate.notifyOperator(free, approvalBody(`${hook.url}/gone`));
    await tiergate.approvals.decide(again.request_id as string, { decision: 'approve' });
    const before = hook.received.length;
    await tiergate.deliver();
    expect(hook.received).toHaveLength(before); // disabled: nothing more is sent to it
    expect((await tiergate.capabilities(free)).cannot.map((c) => c.reason)).toContain('WEBHOOK_ENDPOINT_UNHEALTHY');
  });

  it('a process that dies after deciding delivers after restart', async () => {
    const hook = await receiver();
    const store = memoryStore();
    const clock = createFakeClock('2026-03-10T12:00:00.000Z');
    const first = setup({}, store, clock).tiergate;
    const { request_id } = await first.notifyOperator(free, approvalBody(hook.url));
    // Decided, then the process is gone before its dispatcher runs.
    await store.transitionApproval({
      id: request_id as string,
      patch: { status: 'approved', decidedAt: clock.now(), decidedBy: 'ops', denialReason: null },
      audit: { approvalId: request_id as string, at: clock.now(), event: 'approved', actor: 'ops', ip: null, userAgent: null },
      outbox: [{ id: 'msg_crash1', accountId: free.id, topic: 'callback', type: 'approval.granted', subjectId: request_id as string, target: hook.url, state: 'pending', attempts: 0, nextAttemptAt: clock.now(), createdAt: clock.now(), lastError: null, purgeAt: clock.now() + 86_400_000 }],
    });
    // A claim by the dying process leases the message…
    await store.claimOutbox(clock.now(), 10, 60_000);
    const second = setup({}, store, clock).tiergate;
    await second.deliver();
    expect(hook.received).toHaveLength(0); // …until its lease runs out
    clock.advance('61s');
    await second.deliver();
    expect(hook.received).toHaveLength(1);
    expect(hook.received[0]?.headers['webhook-id']).toBe('msg_crash1');
  });

  it('expiry is its own state, emitted exactly once even with two sweepers', async () => {
    const hook = await receiver();
    const store = memoryStore();
    const clock = createFakeClock('2026-03-10T12:00:00.000Z');
    const a = setup({}, store, clock).tiergate;
    const b = setup({}, store, clock).tiergate;
    const { request_id } = await a.notifyOperator(free, approvalBody(hook.url, { expiresIn: 60 }));
    clock.advance('59s');
    expect((await Promise.all([a.sweep(), b.sweep()])).map((r) => r.expired)).toEqual([0, 0]);
    clock.advance('1s');
    const swept = await Promise.all([a.sweep(), b.sweep(), a.sweep()]);
    expect(swept.reduce((n, r) => n + r.expired, 0)).toBe(1);
    await Promise.all([a.deliver(), b.deliver()]);
    expect(hook.received.map((r) => JSON.parse(r.body).type)).toEqual(['approval.expired']);
    expect(JSON.parse(hook.received[0]?.body ?? '').data).toMatchObject({ status: 'expired', approved_by: null, approved_at: null });
    expect(await a.approvals.decide(request_id as string, { decision: 'approve' })).toMatchObject({ ok: false, code: 'APPROVAL_EXPIRED' });
  });

  it('the sweep expires due approvals in batches of at most 100 (one store call each), callbacks included', async () => {
    const hook = await receiver();
    const inner = memoryStore();
    const calls: { single: number; batches: number[] } = { single: 0, batches: [] };
    const store: Store = {
      ...inner,
      transitionApproval: (input) => {
        calls.single += 1;
        return inner.transitionApproval(input);
      },
      transitionApprovals: (inputs) => {
        calls.batches.push(inputs.length);
        return inner.transitionApprovals(inputs);
      },
    };
    const { tiergate, clock } = setup({ notifyRateLimit: { points: 1_000, durationSeconds: 3600 } }, store);
    const ids: string[] = [];
    for (let i = 0; i < 150; i += 1) {
      const { request_id } = await tiergate.notifyOperator(free, approvalBody(i % 50 === 0 ? hook.url : undefined, { expiresIn: 60 + i }));
      ids.push(request_id as string);
    }
    clock.advance('1h');
    expect(await tiergate.sweep()).toMatchObject({ expired: 150 });
    expect(calls).toEqual({ single: 0, batches: [100, 50] });
    for (const id of ids) expect((await tiergate.approvals.get(id))?.status).toBe('expired');
    expect((await tiergate.approvals.audit(ids[149] as string)).map((e) => [e.event, e.actor])).toEqual([['created', 'agent'], ['expired', 'system']]);
    await tiergate.deliver();
    // Delivered concurrently: compare as sets.
    const delivered = hook.received.map((r) => `${JSON.parse(r.body).type} ${JSON.parse(r.body).data.request_id}`).sort();
    expect(delivered).toEqual([0, 50, 100].map((i) => `approval.expired ${ids[i]}`).sort());
    expect(await tiergate.sweep()).toMatchObject({ expired: 0 });
  });

  it('the sweep works with a store that has no transitionApprovals (one transitionApproval per approval)', async () => {
    const { transitionApprovals: _batch, ...inner } = memoryStore();
    let singles = 0;
    const store: Store = {
      ...inner,
      transitionApproval: (input) => {
        singles += 1;
        return inner.transitionApproval(input);
      },
    };
    const { tiergate, clock } = setup({ notifyRateLimit: { points: 1_000, durationSeconds: 3600 } }, store);
    const ids: string[] = [];
    for (let i = 0; i < 3; i += 1) ids.push((await tiergate.notifyOperator(free, approvalBody(undefined, { expiresIn: 60 }))).request_id as string);
    clock.advance('61s');
    expect(await tiergate.sweep()).toMatchObject({ expired: 3 });
    expect(singles).toBe(3);
    for (const id of ids) expect((await tiergate.approvals.get(id))?.status).toBe('expired');
  });

  it('a decision one second after expiry is refused and expires the request once', async () => {
    const hook = await receiver();
    const { tiergate, clock } = setup();
    const { request_id } = await tiergate.notifyOperator(free, approvalBody(hook.url, { expiresIn: 60 }));
    clock.advance('61s');
    expect(await tiergate.approvals.decide(request_id as string, { decision: 'approve' })).toMatchObject({ ok: false, code: 'APPROVAL_EXPIRED', approval: { status: 'expired' } });
    await tiergate.sweep();
    await tiergate.deliver();
    expect(hook.received.map((r) => JSON.parse(r.body).type)).toEqual(['approval.expired']);
  });

  it('getApproval: owner only, lazy expiry, and ?wait returns when decided', async () => {
    const { tiergate, clock } = setup();
    const { request_id } = await tiergate.notifyOperator(free, approvalBody(undefined, { expiresIn: 120 }));
    expect(await codeOf(tiergate.getApproval(dev, request_id as string))).toBe('NOT_FOUND');
    expect(await codeOf(tiergate.getApproval(free, 'apr_missing'))).toBe('NOT_FOUND');
    expect(await codeOf(tiergate.getApproval(free, '../etc'))).toBe('NOT_FOUND');
    const waiting = tiergate.getApproval(free, request_id as string, { waitSeconds: 10 });
    setTimeout(() => void tiergate.approvals.decide(request_id as string, { decision: 'deny', by: 'ops', denialReason: 'budget' }), 50);
    expect(await waiting).toMatchObject({ status: 'denied', decided_by: 'ops', denial_reason: 'budget' });

    const other = await tiergate.notifyOperator(free, approvalBody(undefined, { expiresIn: 60 }));
    clock.advance('2m');
    expect(await tiergate.getApproval(free, other.request_id as string)).toMatchObject({ status: 'expired', decided_by: null });
  });

  it('an unhealthy endpoint appears in capabilities and disappears after a success', async () => {
    let failing = true;
    const hook = await receiver(() => ({ status: failing ? 500 : 200 }));
    const { tiergate, clock } = setup({ webhooks: { allowPrivateCallbacks: true, unhealthyAfter: 3, timeoutMs: 300 } });
    const { request_id } = await tiergate.notifyOperator(dev, approvalBody(hook.url));
    await tiergate.approvals.decide(request_id as string, { decision: 'approve' });
    await tiergate.deliver();
    for (const step of ['5s', '5m']) {
      expect((await tiergate.capabilities(dev)).cannot).toEqual([]);
      clock.advance(step);
      await tiergate.deliver();
    }
    const unhealthy = await tiergate.capabilities(dev);
    expect(unhealthy.cannot).toEqual([{ action: 'create_webhooks', reason: 'WEBHOOK_ENDPOINT_UNHEALTHY', api_call: 'POST /v1/notify-operator' }]);
    expect(unhealthy.upgrade_context?.operator_action_label).toBe('View Webhook Settings');
    expect((await tiergate.account(dev)).webhook_health).toEqual({ healthy: false, consecutive_failures: 3 });
    failing = false;
    clock.advance('30m');
    await tiergate.deliver();
    expect((await tiergate.capabilities(dev)).cannot).toEqual([]);
  });

  it('the operator page view never changes state (scanners fetch every link)', async () => {
    const { tiergate } = setup();
    const { request_id, operator_action_url } = await tiergate.notifyOperator(free, approvalBody());
    const token = new URL(operator_action_url).searchParams.get('token');
    for (let i = 0; i < 5; i += 1) {
      const view = await tiergate.operatorView(token, i % 2 === 0 ? 'approve' : 'deny');
      expect(view.kind).toBe('notification');
    }
    expect((await tiergate.approvals.get(request_id as string))?.status).toBe('pending');
    expect(await tiergate.approvals.audit(request_id as string)).toHaveLength(1);
  });

  it('every view of a record shows its decrypted context as one value, frozen all the way down', async () => {
    const { tiergate } = setup();
    const context = { customer_id: 'cus_9', nested: { list: ['<b>', { n: 1 }] } };
    const { operator_action_url } = await tiergate.notifyOperator(free, { issue: 'look', context });
    const token = new URL(operator_action_url).searchParams.get('token');
    const first = await tiergate.operatorView(token);
    const second = await tiergate.operatorView(token);
    if (first.kind !== 'notification' || second.kind !== 'notification' || first.context.state !== 'ok' || second.context.state !== 'ok') throw new Error('unexpected view');
    expect(first.context.value).toEqual(context);
    expect(second.context.value).toBe(first.context.value);
    const value = first.context.value as typeof context;
    expect(Object.isFrozen(value.nested.list[1])).toBe(true);
    expect(() => {
      (value.nested.list[1] as { n: number }).n = 2;
    }).toThrow(TypeError);
    expect(((await tiergate.operatorView(token)) as { context: { value: typeof context } }).context.value).toEqual(context);
  });

  it('a link of one approval cannot decide another', async () => {
    const { tiergate } = setup();
    const a = await tiergate.notifyOperator(free, approvalBody());
    const note = await tiergate.notifyOperator(free, { issue: 'plain notification' });
    const noteToken = new URL(note.operator_action_url).searchParams.get('token') as string;
    const view = await tiergate.operatorView(noteToken);
    const formToken = view.kind === 'notification' ? view.formToken : '';
    expect(await codeOf(tiergate.decideWithLink({ token: noteToken, formToken, decision: 'approve' }))).toBe('LINK_SCOPE_MISMATCH');
    const aToken = new URL(a.operator_action_url).searchParams.get('token') as string;
    expect(await codeOf(tiergate.decideWithLink({ token: aToken, formToken, decision: 'approve' }))).toBe('CSRF_REJECTED');
    expect(await codeOf(tiergate.decideWithLink({ token: aToken, formToken: undefined, decision: 'approve' }))).toBe('CSRF_REJECTED');
  });

  it('approved_by is the operator e-mail, else the typed name, else "operator"', async () => {
    const { tiergate } = setup();
    const decide = async (account: Account, name?: string) => {
      const { operator_action_url, request_id } = await tiergate.notifyOperator(account, approvalBody());
      const token = new URL(operator_action_url).searchParams.get('token') as string;
      const view = await tiergate.operatorView(token);
      if (view.kind !== 'notification') throw new Error('unexpected view');
      await tiergate.decideWithLink({ token, formToken: view.formToken, decision: 'approve', ...(name === undefined ? {} : { name }) });
      return (await tiergate.approvals.get(request_id as string))?.decidedBy;
    };
    expect(await decide(free, 'Mallory')).toBe('ops@example.com');
    expect(await decide(dev, ' Dana ')).toBe('Dana');
    expect(await decide(dev)).toBe('operator');
  });
});

describe('capabilities links', () => {
  it('reuses one signed link per account and target until it ages, then re-signs', async () => {
    const { tiergate, clock } = setup({ linkRefreshSeconds: 3600 });
    const first = await tiergate.capabilities(free);
    const urls = new Set(first.cannot.map((c) => c.unlock_url));
    expect(urls.size).toBe(1);
    expect(first.upgrade_context?.operator_action_url).toBe([...urls][0]);
    clock.advance('59m');
    expect(await tiergate.capabilities(free)).toBe(first);
    clock.advance('2m');
    const later = await tiergate.capabilities(free);
    expect(later.cannot[0]?.unlock_url).not.toBe(first.cannot[0]?.unlock_url);
  });

  it('a key rotation issues fresh links at once', async () => {
    const store = memoryStore();
    const clock = createFakeClock('2026-03-10T12:00:00.000Z');
    const before = await setup({ secret: 'a'.repeat(32) }, store, clock).tiergate.capabilities(free);
    const after = await setup({ secret: ['b'.repeat(32), 'a'.repeat(32)] }, store, clock).tiergate.capabilities(free);
    expect(after.cannot[0]?.unlock_url).not.toBe(before.cannot[0]?.unlock_url);
  });

  it('an unchanged state gets the kept answer, from capabilities() and from an allowed check alike', async () => {
    const { tiergate } = setup();
    const first = await tiergate.capabilities(free);
    expect(await tiergate.capabilities(free)).toBe(first);
    const allowed = await tiergate.check(free, 'receive_messages');
    if (!allowed.allowed) throw new Error('expected allowed');
    expect(await allowed.capabilities()).toBe(first);
    expect(await tiergate.capabilities(free)).toBe(first);
  });

  it('a failing store read is STORE_UNAVAILABLE, and the next read after it recovers answers from the store', async () => {
    const base = memoryStore();
    let broken = false;
    const flaky: Store = {
      ...base,
      readAccountState: async (...args) => {
        if (broken) throw new Error('connection reset');
        return base.readAccountState(...args);
      },
    };
    const { tiergate } = setup({}, flaky);
    const first = await tiergate.capabilities(free);
    broken = true;
    expect(await codeOf(tiergate.capabilities(free))).toBe('STORE_UNAVAILABLE');
    broken = false;
    // The same state again: the kept answer (same links).
    expect(await tiergate.capabilities(free)).toBe(first);
  });

  it('a store read that throws synchronously, or answers a thenable that is not a Promise, is handled like an async one', async () => {
    const base = memoryStore();
    let mode: 'thenable' | 'throw' = 'thenable';
    const odd: Store = {
      ...base,
      readAccountState: (...args) => {
        if (mode === 'throw') throw new Error('driver bug');
        const read = base.readAccountState(...args);
        // A minimal thenable: its then() returns nothing.
        return { then: (ok: (v: unknown) => unknown, fail: (e: unknown) => unknown) => void read.then(ok, fail) } as unknown as ReturnType<Store['readAccountState']>;
      },
    };
    const { tiergate } = setup({}, odd);
    expect((await tiergate.capabilities(free)).tier).toBe('free');
    expect((await tiergate.account(free)).id).toBe(free.id);
    mode = 'throw';
    expect(await codeOf(tiergate.capabilities(free))).toBe('STORE_UNAVAILABLE');
    expect(await codeOf(tiergate.account(free))).toBe('STORE_UNAVAILABLE');
  });

  it("the host's usage and the account's status reach the decision", async () => {
    const { tiergate } = setup();
    const usage = { send_messages: { day: 10_000_000, month: 10_000_000 } };
    const busy = await tiergate.capabilities({ id: 'acc_busy', tier: 'developer', usage });
    expect(busy.cannot.map((c) => [c.action, c.reason])).toEqual([['send_messages', expect.stringMatching(/LIMIT|QUOTA/)]]);
    const review = await tiergate.capabilities({ id: 'acc_busy_review', tier: 'developer', status: 'under_review', usage });
    expect(review.cannot.find((c) => c.action === 'send_messages')?.reason).toBe('ACCOUNT_UNDER_REVIEW');
  });

  it('account under review: non-upgradeable reasons point at notify-operator and a status page', async () => {
    const { tiergate } = setup();
    const review: Account = { id: 'acc_rev', tier: 'developer', status: 'under_review' };
    const caps = await tiergate.capabilities(review);
    expect(caps.cannot.every((c) => c.reason === 'ACCOUNT_UNDER_REVIEW' && c.api_call === 'POST /v1/notify-operator' && c.unlock_url === undefined)).toBe(true);
    expect(caps.upgrade_context?.operator_action_label).toBe('Contact Support');
    expect(caps.upgrade_context?.operator_action_url).toMatch(/\/operator\/action\?token=/);
  });

  it('host links replace the status page', async () => {
    const { tiergate } = setup({ links: { supportUrl: () => 'https://support.example.com/contact', checkoutUrl: (_a, tier) => `https://pay.example.com/${tier}` } });
    const caps = await tiergate.capabilities({ id: 'acc_rev', tier: 'free', status: 'under_review' });
    expect(caps.upgrade_context?.operator_action_url).toBe('https://support.example.com/contact');
  });
});

describe('check (the guard)', () => {
  it('consumes atomically and never overshoots under concurrency', async () => {
    const { tiergate } = setup();
    const near: Account = { id: 'acc_near', tier: 'developer', usage: { send_messages: { day: 90, month: 90 } } };
    const results = await Promise.all(Array.from({ length: 25 }, () => tiergate.check(near, 'send_messages', { consume: 1 })));
    expect(results.filter((r) => r.allowed)).toHaveLength(10);
    const denied = results.find((r) => !r.allowed);
    expect(denied).toMatchObject({ allowed: false, reason: 'SEND_LIMIT_EXCEEDED', kind: 'quota', resetsAt: Date.parse('2026-03-11T00:00:00.000Z') });
    expect((await tiergate.account(near)).usage.send_messages?.day).toEqual({ used: 100, limit: 100, resets_at: '2026-03-11T00:00:00.000Z' });
  });

  it('refund gives the units back; capabilities and ability come with an allowed check', async () => {
    const { tiergate } = setup();
    const result = await tiergate.check(dev, 'send_messages', { consume: 3 });
    if (!result.allowed) throw new Error('expected allowed');
    expect(result.consumed).toBe(3);
    expect((await tiergate.account(dev)).usage.send_messages?.day.used).toBe(3);
    await result.refund();
    await result.refund();
    expect((await tiergate.account(dev)).usage.send_messages?.day.used).toBe(0);
    expect((await result.ability()).can('use_smtp')).toBe(true);
    expect((await result.capabilities()).tier).toBe('developer');
  });

  it("an allowed check's refund, capabilities and ability work destructured, each once per check", async () => {
    const { tiergate } = setup();
    const result = await tiergate.check(dev, 'send_messages', { consume: 2 });
    if (!result.allowed) throw new Error('expected allowed');
    expect(result.decision).toEqual({ allowed: true, action: 'send_messages' });
    const { refund, capabilities, ability } = result;
    expect(result.refund).toBe(refund);
    const [first, second] = await Promise.all([capabilities(), result.capabilities()]);
    expect(first).toBe(second);
    expect((await ability()).can('use_smtp')).toBe(true);
    await refund();
    await result.refund();
    expect((await tiergate.account(dev)).usage.send_messages?.day.used).toBe(0);
    // Another check is another context: its own refund, its own units.
    const again = await tiergate.check(dev, 'send_messages', { consume: 1 });
    if (!again.allowed) throw new Error('expected allowed');
    expect(again.refund).not.toBe(refund);
    await refund();
    expect((await tiergate.account(dev)).usage.send_messages?.day.used).toBe(1);
  });

  it('counts each consume in the day it was made, across midnight, and against the host\'s own counts', async () => {
    const { tiergate, clock } = setup({}, memoryStore(), createFakeClock('2026-03-10T23:59:59.000Z'));
    const near: Account = { id: 'acc_midnight', tier: 'developer' };
    expect((await tiergate.check(near, 'send_messages', { consume: 4 })).allowed).toBe(true);
    clock.advance(2000);
    expect((await tiergate.check(near, 'send_messages', { consume: 5 })).allowed).toBe(true);
    const usage = (await tiergate.account(near)).usage.send_messages;
    expect(usage?.day).toEqual({ used: 5, limit: 100, resets_at: '2026-03-12T00:00:00.000Z' });
    expect(usage?.month.used).toBe(9);
    // The host counts 90 of its own today (limit 100): with the store's 5, five more fit, six do not.
    const counted: Account = { ...near, usage: { send_messages: { day: 90, month: 9 } } };
    expect((await tiergate.check(counted, 'send_messages', { consume: 6 })).allowed).toBe(false);
    expect((await tiergate.check(counted, 'send_messages', { consume: 5 })).allowed).toBe(true);
    expect((await tiergate.check(near, 'send_messages', { consume: 1 })).allowed).toBe(true);
    expect((await tiergate.check(counted, 'send_messages', { consume: 1 })).allowed).toBe(false);
  });

  it('denies free accounts with the upgrade context', async () => {
    const { tiergate } = setup();
    const result = await tiergate.check(free, 'send_messages', { consume: 1 });
    expect(result).toMatchObject({ allowed: false, reason: 'SEND_REQUIRES_PAID', kind: 'tier', upgradeContext: { operator_action_label: 'Upgrade to enable sending' } });
  });

  it('an unknown action is a host bug', async () => {
    const { tiergate } = setup();
    expect(await codeOf(tiergate.check(dev, 'fly' as 'send_messages'))).toBe('CONFIG_INVALID');
  });
});

describe('createTiergate options', () => {
  it.each([
    ['a missing authenticate', { authenticate: undefined }],
    ['a bad public URL', { publicUrl: 'ftp://x' }],
    ['a short secret', { secret: 'short' }],
    ['a negative TTL', { linkTtlSeconds: -1 }],
    ['a non-store', { store: {} }],
  ])('refuses %s with CONFIG_INVALID', (_name, override) => {
    expect(() =>
      createTiergate({ authenticate: () => null, secret: 'x'.repeat(32), publicUrl: 'https://api.example.com', ...(override as object) } as TiergateOptions),
    ).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });
});
