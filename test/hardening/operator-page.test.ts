// The operator page under attack, through real HTTP on every framework and
// store: unfurlers and HEAD never decide, forged or cross-origin posts are
// refused without a trace, racing decisions leave exactly one winner and one
// callback, the deadline is exact, no parameter redirects anywhere, and every
// page — error pages included — carries the security headers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signLink } from '@tiergate/core';
import {
  FORM,
  PREFIX,
  approvalState,
  decisionForm,
  expectCleanLogs,
  expectPageHeaders,
  expectSuccess,
  formBody,
  matrix,
  openStore,
  postDecision,
  requestApproval,
  startHarness,
  startReceiver,
  storeKinds,
  type Harness,
  type Receiver,
  type StoreHandle,
  type TestAccount,
} from './harness.js';

const UNFURLERS = [
  'Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)',
  'facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)',
  'Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)',
  'Twitterbot/1.0',
  'WhatsApp/2.23.20.0',
  'Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.5423; Pro)',
];

const REDIRECT_PARAMS = ['redirect', 'redirect_uri', 'next', 'url', 'return_to', 'returnTo', 'continue', 'callback', 'dest', 'target', 'goto', 'r', 'success_url'];
const EVIL = ['https://evil.example/phish', '//evil.example/x', '/\\evil.example', 'javascript:alert(1)'];

describe.each(matrix(storeKinds('operator-page.test.ts')))('operator page on $framework + $store', ({ framework, store }) => {
  let stores: StoreHandle;
  let h: Harness;
  let receiver: Receiver;
  // A fresh account per test: each has its own notify-operator budget (10 per hour).
  const newOperator = (): TestAccount => h.addAccount({ operatorEmail: 'ops@example.com' });

  beforeAll(async () => {
    receiver = await startReceiver();
    stores = await openStore(store);
    h = await startHarness(framework, stores);
  });
  afterAll(async () => {
    await h?.close();
    await stores?.cleanup();
    await receiver?.close();
  });

  it('HEAD, repeated GETs and link unfurlers (even with ?choice=approve) change nothing', async () => {
    const operator = newOperator();
    const path = receiver.path('unfurl');
    const a = await requestApproval(h, operator.key, { callback_url: `${receiver.origin}${path}` });
    const before = await approvalState(h, a.id);
    for (const agent of UNFURLERS) {
      for (const suffix of ['', '&choice=approve', '&decision=approve&confirm=1']) {
        const get = await h.fetch('GET', `${a.url}${suffix}`, { headers: { 'user-agent': agent } });
        expect(get.status).toBe(200);
        expectPageHeaders(get);
        const head = await h.fetch('HEAD', `${a.url}${suffix}`, { headers: { 'user-agent': agent } });
        expect(head.status).toBe(200);
        expect(head.text).toBe('');
      }
    }
    await h.tiergate.deliver();
    expect(await approvalState(h, a.id)).toEqual(before);
    expect(receiver.callsTo(path)).toHaveLength(0);
  });

  it('a POST without the anti-forgery token, with another page\'s, or from another origin is 403 and changes nothing', async () => {
    const operator = newOperator();
    const a = await requestApproval(h, operator.key);
    const b = await requestApproval(h, operator.key);
    const before = [await approvalState(h, a.id), await approvalState(h, b.id)];
    const attempts = [
      h.fetch('POST', a.form.action, { body: formBody({ token: a.form.token, decision: 'approve' }), contentType: FORM }),
      postDecision(h, { ...a.form, formToken: '' }, 'approve'),
      postDecision(h, { ...a.form, formToken: b.form.formToken }, 'approve'),
      postDecision(h, { ...b.form, formToken: a.form.formToken }, 'approve'),
      postDecision(h, { ...a.form, formToken: `${a.form.formToken.slice(0, -1)}${a.form.formToken.endsWith('A') ? 'B' : 'A'}` }, 'approve'),
      postDecision(h, a.form, 'approve', {}, { origin: 'https://evil.example' }),
      postDecision(h, a.form, 'approve', {}, { origin: 'null' }),
      postDecision(h, a.form, 'approve', {}, { origin: 'null', 'sec-fetch-site': 'cross-site' }),
      postDecision(h, a.form, 'approve', {}, { origin: 'null', 'sec-fetch-site': 'none' }),
      postDecision(h, a.form, 'approve', {}, { origin: h.origin.replace('127.0.0.1', 'localhost') }),
      postDecision(h, a.form, 'approve', {}, { 'sec-fetch-site': 'cross-site' }),
      postDecision(h, a.form, 'deny', {}, { 'sec-fetch-site': 'same-site', origin: h.origin }),
      postDecision(h, a.form, 'approve', {}, { origin: 'https://evil.example', 'sec-fetch-site': 'same-origin' }),
    ];
    for (const reply of await Promise.all(attempts)) {
      expect(reply.status).toBe(403);
      expectPageHeaders(reply);
    }
    expect([await approvalState(h, a.id), await approvalState(h, b.id)]).toEqual(before);
    // What a browser sends from the page itself: under Referrer-Policy: no-referrer, Origin is "null".
    const genuine = await postDecision(h, a.form, 'approve', {}, { origin: 'null', 'sec-fetch-site': 'same-origin' });
    expect(genuine.status).toBe(200);
    expect((await postDecision(h, b.form, 'deny', {}, { origin: h.origin, 'sec-fetch-site': 'same-origin' })).status).toBe(200);
  });

  it('approve and deny in parallel: exactly one 200, every other 409, one audit entry, one callback', async () => {
    const operator = newOperator();
    const path = receiver.path('race');
    const a = await requestApproval(h, operator.key, { callback_url: `${receiver.origin}${path}` });
    const replies = await Promise.all(
      Array.from({ length: 10 }, (_, i) => postDecision(h, a.form, i % 2 === 0 ? 'approve' : 'deny', i % 2 === 0 ? {} : { denial_reason: `no ${i}` })),
    );
    expect(replies.map((r) => r.status).sort()).toEqual([200, ...Array<number>(9).fill(409)]);
    for (const reply of replies) expectPageHeaders(reply);
    await h.tiergate.deliver();
    await h.tiergate.deliver();
    const calls = receiver.callsTo(path);
    expect(calls).toHaveLength(1);
    const approval = await h.tiergate.approvals.get(a.id);
    expect(JSON.parse(calls[0]?.body ?? '{}').data.status).toBe(approval?.status);
    const audit = await h.tiergate.approvals.audit(a.id);
    expect(audit.map((e) => e.event)).toEqual(['created', approval?.status]);
    const callbacks = (await h.tiergate.approvals.deliveries(a.id)).filter((m) => m.topic === 'callback');
    expect(callbacks.map((m) => m.state)).toEqual(['delivered']);
  });

  it('double submit: the second POST is 409 and shows the first decision; one callback', async () => {
    const operator = newOperator();
    const path = receiver.path('double');
    const a = await requestApproval(h, operator.key, { callback_url: `${receiver.origin}${path}` });
    expect((await postDecision(h, a.form, 'approve')).status).toBe(200);
    const again = await postDecision(h, a.form, 'approve');
    expect(again.status).toBe(409);
    expectPageHeaders(again);
    expect(again.text).toContain('ops@example.com');
    expect((await postDecision(h, a.form, 'deny', { denial_reason: 'changed my mind' })).status).toBe(409);
    await h.tiergate.deliver();
    await h.tiergate.deliver();
    expect(receiver.callsTo(path).map((c) => JSON.parse(c.body).type)).toEqual(['approval.granted']);
    expect((await h.tiergate.approvals.get(a.id))?.denialReason).toBeNull();
  });

  it('no open redirect through any parameter or path', async () => {
    const operator = newOperator();
    const free = h.addAccount({ tier: 'free' });
    const caps = expectSuccess(await h.api('GET', '/v1/capabilities', { key: free.key }), 200);
    const notification = expectSuccess(await h.api('POST', '/v1/notify-operator', { key: operator.key, json: { issue: 'Check the webhook' } }), 201);
    const a = await requestApproval(h, operator.key);
    const pages = [notification.operator_action_url as string, a.url, caps.cannot[0].unlock_url as string, `${h.base}/operator/action?token=nope`, `${h.base}/upgrade?token=nope`];
    for (const url of pages) {
      for (const value of EVIL) {
        const query = REDIRECT_PARAMS.map((p) => `${p}=${encodeURIComponent(value)}`).join('&');
        const reply = await h.fetch('GET', `${url}${url.includes('?') ? '&' : '?'}${query}`);
        expect(reply.status < 300 || reply.status >= 400).toBe(true);
        expectPageHeaders(reply);
        expect(reply.text).not.toContain('evil.example');
        // Every link and form on a page points at tiergate itself.
        for (const [, target] of reply.text.matchAll(/(?:href|action)="([^"]*)"/g)) expect(target?.startsWith(h.base) || target?.startsWith(`${PREFIX}/`)).toBe(true);
      }
    }
    const extra = Object.fromEntries(REDIRECT_PARAMS.map((p) => [p, EVIL[0] as string]));
    const decided = await postDecision(h, a.form, 'approve', extra);
    expect(decided.status).toBe(200);
    expectPageHeaders(decided);
    expect(decided.text).not.toContain('evil.example');
    for (const path of ['//evil.example/', '/%2F%2Fevil.example', '/operator/action/', '/upgrade/..%2F..%2Fevil.example', '/operator/action/%2e%2e/%2e%2e/evil.example']) {
      const reply = await h.fetch('GET', `${PREFIX}${path}`);
      expect(reply.status >= 300 && reply.status < 400).toBe(false);
      expect(reply.headers.get('location')).toBeNull();
    }
  });

  it('security headers on every page and error page (200, 400, 403, 404, 405, 409, 410, 413, 415)', async () => {
    const operator = newOperator();
    const free = h.addAccount({ tier: 'free' });
    const review = h.addAccount({ status: 'under_review' });
    const caps = expectSuccess(await h.api('GET', '/v1/capabilities', { key: free.key }), 200);
    const reviewCaps = expectSuccess(await h.api('GET', '/v1/capabilities', { key: review.key }), 200);
    const notification = expectSuccess(await h.api('POST', '/v1/notify-operator', { key: operator.key, json: { issue: 'Look at this' } }), 201);
    const a = await requestApproval(h, operator.key);
    const b = await requestApproval(h, operator.key, { expires_in: 60 });
    const missing = await signLink({ purpose: 'operator_action', accountId: operator.account.id, notificationId: 'not_doesnotexist' }, 3600, {
      keyring: h.tiergate.keyring,
      issuer: h.tiergate.publicUrl(),
      now: h.clock.now(),
    });
    const upgradeUrl = caps.cannot[0].unlock_url as string;
    const upgradeToken = new URL(upgradeUrl).searchParams.get('token') as string;
    const cases: [string, number, () => Promise<import('./harness.js').Reply>][] = [
      ['notification page', 200, () => h.fetch('GET', notification.operator_action_url)],
      ['approval page', 200, () => h.fetch('GET', a.url)],
      ['upgrade page', 200, () => h.fetch('GET', upgradeUrl)],
      ['account status page', 200, () => h.fetch('GET', reviewCaps.upgrade_context.operator_action_url)],
      ['HEAD of a page', 200, () => h.fetch('HEAD', a.url)],
      ['no token', 400, () => h.fetch('GET', `${PREFIX}/operator/action`)],
      ['garbage token', 400, () => h.fetch('GET', `${PREFIX}/operator/action?token=%00%ff`)],
      ['upgrade page without token', 400, () => h.fetch('GET', `${PREFIX}/upgrade`)],
      ['upgrade link on the operator page', 403, () => h.fetch('GET', `${PREFIX}/operator/action?token=${upgradeToken}`)],
      ['operator link on the upgrade page', 403, () => h.fetch('GET', `${PREFIX}/upgrade?token=${a.form.token}`)],
      ['forged POST', 403, () => postDecision(h, { ...a.form, formToken: 'x'.repeat(43) }, 'approve')],
      ['unknown notification', 404, () => h.fetch('GET', `${h.base}/operator/action?token=${missing.token}`)],
      ['PUT on the operator page', 405, () => h.fetch('PUT', a.url)],
      ['POST on the upgrade page', 405, () => h.fetch('POST', upgradeUrl, { body: 'a=1', contentType: FORM })],
      ['bad decision value', 400, () => postDecision(h, a.form, 'maybe')],
      ['form body over the limit', 413, () => postDecision(h, a.form, 'approve', { denial_reason: 'x'.repeat(70 * 1024) })],
      ['form in an unknown media type', 415, () => h.fetch('POST', a.form.action, { body: formBody({ token: a.form.token, form_token: a.form.formToken, decision: 'approve' }), contentType: 'text/plain' })],
    ];
    for (const [name, status, run] of cases) {
      const reply = await run();
      expect({ name, status: reply.status }).toEqual({ name, status });
      expectPageHeaders(reply);
    }
    expect((await postDecision(h, a.form, 'approve')).status).toBe(200);
    const conflict = await postDecision(h, a.form, 'deny');
    expect(conflict.status).toBe(409);
    expectPageHeaders(conflict);
    const decidedPage = await h.fetch('GET', a.url);
    expect(decidedPage.status).toBe(200);
    expectPageHeaders(decidedPage);
    h.clock.set(b.expiresAt + 1_000);
    const late = await postDecision(h, b.form, 'approve');
    expect(late.status).toBe(410);
    expectPageHeaders(late);
    h.clock.advance('8d');
    const stale = await h.fetch('GET', notification.operator_action_url);
    expect(stale.status).toBe(410);
    expectPageHeaders(stale);
  });

  it('a decision one second after expiry is 410 and approval.expired is delivered exactly once; one millisecond before, it counts', async () => {
    const operator = newOperator();
    const path = receiver.path('expiry');
    const late = await requestApproval(h, operator.key, { callback_url: `${receiver.origin}${path}`, expires_in: 60 });
    const onTime = await requestApproval(h, operator.key, { expires_in: 60 });
    expect(onTime.expiresAt).toBe(late.expiresAt);
    h.clock.set(onTime.expiresAt - 1);
    expect((await postDecision(h, onTime.form, 'approve')).status).toBe(200);

    h.clock.set(late.expiresAt + 1_000);
    const reply = await postDecision(h, late.form, 'approve');
    expect(reply.status).toBe(410);
    expectPageHeaders(reply);
    expect((await postDecision(h, late.form, 'deny')).status).toBe(410);
    const page = await h.fetch('GET', late.url);
    expect(() => decisionForm(page.text)).toThrow();
    for (let i = 0; i < 2; i += 1) {
      await h.tiergate.sweep();
      await h.tiergate.deliver();
    }
    const calls = receiver.callsTo(path).map((c) => JSON.parse(c.body));
    expect(calls.map((e) => [e.type, e.data.status, e.data.approved_by])).toEqual([['approval.expired', 'expired', null]]);
    expect(await h.tiergate.approvals.get(late.id)).toMatchObject({ status: 'expired', decidedAt: late.expiresAt, decidedBy: null });
  });

  it('no token, API key or context reached a log line', () => {
    expectCleanLogs(h, ['Sending to 500 recipients']);
  });
});
