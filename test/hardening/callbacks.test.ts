// Approval callbacks against hostile or broken receivers, on every framework
// and store: 500, a receiver that never answers, redirects, 410 Gone and 429
// with Retry-After; callback URLs aimed at non-public addresses in every
// notation, at a name that rebinds to loopback between the check and the
// connection, with other schemes or with credentials. Nothing is lost, nothing
// is sent where it must not go, and the service keeps answering.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyWebhookSignature, type LookupAll } from '@tiergate/core';
import {
  expectCleanLogs,
  expectError,
  expectSuccess,
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

const RETRY_SCHEDULE = [60_000, 120_000, 240_000];

/** Every way of writing a non-public address in a URL that we know of. */
const NON_PUBLIC_URLS = [
  'http://127.0.0.1/hook',
  'http://127.1/hook',
  'http://2130706433/hook',
  'http://017700000001/hook',
  'http://0177.0.0.1/hook',
  'http://0x7f.0.0.1/hook',
  'http://0x7f000001/hook',
  'http://127.0.0.1.:8080/hook',
  'http://%31%32%37.0.0.1/hook',
  'http://\u2460\u2461\u2466.0.0.1/hook',
  'https://127\u30020\u30020\u30021/hook',
  'http://[::1]/hook',
  'http://[0:0:0:0:0:0:0:1]/hook',
  'http://[::ffff:127.0.0.1]/hook',
  'http://[::ffff:7f00:1]/hook',
  'http://[0:0:0:0:0:ffff:127.0.0.1]/hook',
  'http://[::127.0.0.1]/hook',
  'http://[::7f00:1]/hook',
  'http://0.0.0.0/hook',
  'http://0/hook',
  'http://[::]/hook',
  'http://169.254.169.254/latest/meta-data/',
  'http://169.254.169.254./latest/meta-data/',
  'http://2852039166/latest/meta-data/',
  'http://[::ffff:169.254.169.254]/latest/meta-data/',
  'http://[::ffff:a9fe:a9fe]/latest/meta-data/',
  'http://[fd00:ec2::254]/latest/meta-data/',
  'http://100.100.100.200/latest/meta-data/',
  'http://metadata.google.internal/computeMetadata/v1/',
  'http://[fe80::1]/hook',
  'http://[fe80::1%25eth0]/hook',
  'http://10.0.0.1/hook',
  'http://172.16.0.1/hook',
  'http://192.168.1.1/hook',
  'http://100.64.0.1/hook',
  'http://198.18.0.1/hook',
  'http://224.0.0.1/hook',
  'http://255.255.255.255/hook',
  'http://[fc00::1]/hook',
  'http://[64:ff9b::7f00:1]/hook',
  'http://[2002:7f00:1::]/hook',
  'http://[2001:db8::1]/hook',
  'http://localhost/hook',
  'http://LOCALHOST./hook',
  'http://app.localhost/hook',
  'http://printer.local/hook',
  'http://router.home.arpa/hook',
];

/** Not an http(s) URL, or one with credentials: refused whatever the host allows. */
const BAD_FORM_URLS = [
  'ftp://example.com/hook',
  'file:///etc/passwd',
  'gopher://example.com:70/_hook',
  'javascript:alert(1)',
  'data:text/plain,hook',
  'ws://example.com/hook',
  'https://user:pass@example.com/hook',
  'https://user@example.com/hook',
  'https://:pass@example.com/hook',
  'not a url',
  '//example.com/hook',
  'http://',
];

/** A resolver with fixed answers; names it does not know fail like NXDOMAIN. `rebind.test` is public once, loopback after. */
function scriptedResolver(): { resolve: LookupAll; lookups: string[] } {
  const lookups: string[] = [];
  const answers: Record<string, { address: string; family: number }[]> = {
    'public.test': [{ address: '93.184.216.34', family: 4 }],
    'loopback.test': [{ address: '127.0.0.1', family: 4 }],
    'mixed.test': [
      { address: '93.184.216.34', family: 4 },
      { address: '10.0.0.7', family: 4 },
    ],
    'mapped.test': [{ address: '::ffff:127.0.0.1', family: 6 }],
    'compat.test': [{ address: '::7f00:1', family: 6 }],
    'metadata.test': [{ address: '169.254.169.254', family: 4 }],
  };
  const resolve: LookupAll = async (hostname) => {
    lookups.push(hostname);
    if (hostname === 'rebind.test') {
      const first = lookups.filter((h) => h === hostname).length === 1;
      return [{ address: first ? '93.184.216.34' : '127.0.0.1', family: 4 }];
    }
    const answer = answers[hostname];
    if (answer === undefined) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return answer;
  };
  return { resolve, lookups };
}

describe.each(matrix(storeKinds('callbacks.test.ts')))('callbacks on $framework + $store', ({ framework, store }) => {
  let stores: StoreHandle;
  let h: Harness;
  let receiver: Receiver;

  beforeAll(async () => {
    receiver = await startReceiver();
    stores = await openStore(store);
    h = await startHarness(framework, stores, { retrySchedule: RETRY_SCHEDULE, webhookTimeoutMs: 400, unhealthyAfter: 3 });
  });
  afterAll(async () => {
    await h?.close();
    await stores?.cleanup();
    await receiver?.close();
  });

  /** An approval with a callback to a fresh receiver path, approved through the page's form. */
  async function approveWithCallback(name: string, account: TestAccount = h.addAccount({ operatorEmail: 'ops@example.com' })) {
    const path = receiver.path(name);
    const approval = await requestApproval(h, account.key, { callback_url: `${receiver.origin}${path}` });
    return { path, approval, account, decide: () => postDecision(h, approval.form, 'approve') };
  }

  async function callbackMessage(approvalId: string) {
    const messages = (await h.tiergate.approvals.deliveries(approvalId)).filter((m) => m.topic === 'callback');
    expect(messages).toHaveLength(1);
    return messages[0] as (typeof messages)[number];
  }

  it('a receiver answering 500 gets the same message (same webhook-id, fresh signature) on schedule until it succeeds', async () => {
    const { path, approval, account, decide } = await approveWithCallback('fail500');
    receiver.on(path, { status: 500 });
    expect((await decide()).status).toBe(200);
    await h.tiergate.deliver();
    expect(await callbackMessage(approval.id)).toMatchObject({ state: 'pending', attempts: 1, lastError: 'HTTP 500', nextAttemptAt: h.clock.now() + RETRY_SCHEDULE[0]! });
    await h.tiergate.deliver();
    expect(receiver.callsTo(path)).toHaveLength(1);
    h.clock.advance(RETRY_SCHEDULE[0]! - 1);
    await h.tiergate.deliver();
    expect(receiver.callsTo(path)).toHaveLength(1);
    receiver.on(path, { status: 204 });
    h.clock.advance(1);
    await h.tiergate.deliver();
    const calls = receiver.callsTo(path);
    expect(calls).toHaveLength(2);
    expect(calls[1]?.headers['webhook-id']).toBe(calls[0]?.headers['webhook-id']);
    expect(verifyWebhookSignature(account.account.webhookSecret as string, calls[1]?.headers as Record<string, string>, calls[1]?.body ?? '', h.clock.now())).toEqual({ ok: true });
    expect(JSON.parse(calls[1]?.body ?? '{}').data).toEqual(JSON.parse(calls[0]?.body ?? '{}').data);
    expect(await callbackMessage(approval.id)).toMatchObject({ state: 'delivered', attempts: 2 });
  });

  it('a receiver that never answers is cut off at the timeout and retried; the service keeps answering meanwhile', async () => {
    const { path, approval, account, decide } = await approveWithCallback('hang');
    receiver.on(path, 'hang');
    expect((await decide()).status).toBe(200);
    const delivering = h.tiergate.deliver();
    // While the receiver hangs, the API and the pages answer.
    expectSuccess(await h.api('GET', '/v1/account', { key: account.key }), 200);
    expect((await h.fetch('GET', approval.url)).status).toBe(200);
    await delivering;
    const message = await callbackMessage(approval.id);
    expect(message).toMatchObject({ state: 'pending', attempts: 1 });
    expect(message.lastError).toMatch(/timeout|timed out/);
    receiver.on(path, { status: 200 });
    h.clock.advance(RETRY_SCHEDULE[0]!);
    await h.tiergate.deliver();
    expect(await callbackMessage(approval.id)).toMatchObject({ state: 'delivered', attempts: 2 });
  });

  it('3xx is a failure and the redirect is never followed', async () => {
    for (const status of [301, 302, 307, 308]) {
      const { path, approval, decide } = await approveWithCallback(`redirect${status}`);
      const elsewhere = receiver.path('redirect-target');
      receiver.on(path, { status, headers: { location: `${receiver.origin}${elsewhere}` } });
      expect((await decide()).status).toBe(200);
      await h.tiergate.deliver();
      expect(receiver.callsTo(path)).toHaveLength(1);
      expect(receiver.callsTo(elsewhere)).toHaveLength(0);
      expect(await callbackMessage(approval.id)).toMatchObject({ state: 'pending', attempts: 1, lastError: `HTTP ${status}` });
    }
  });

  it('410 Gone disables the URL at once: no retry, and later callbacks to it are not sent', async () => {
    const account = h.addAccount({ operatorEmail: 'ops@example.com' });
    const first = await approveWithCallback('gone', account);
    receiver.on(first.path, { status: 410 });
    expect((await first.decide()).status).toBe(200);
    await h.tiergate.deliver();
    expect(await callbackMessage(first.approval.id)).toMatchObject({ state: 'dead', attempts: 1 });
    expect(expectSuccess(await h.api('GET', '/v1/account', { key: account.key }), 200).webhook_health.healthy).toBe(false);
    const second = await requestApproval(h, account.key, { callback_url: `${receiver.origin}${first.path}` });
    expect((await postDecision(h, second.form, 'deny')).status).toBe(200);
    h.clock.advance('1h');
    await h.tiergate.deliver();
    await h.tiergate.deliver();
    expect(receiver.callsTo(first.path)).toHaveLength(1);
    expect(await callbackMessage(second.id)).toMatchObject({ state: 'dead' });
  });

  it('429 with Retry-After waits at least that long before the next attempt', async () => {
    const { path, approval, decide } = await approveWithCallback('busy');
    receiver.on(path, { status: 429, headers: { 'retry-after': '600' } });
    expect((await decide()).status).toBe(200);
    await h.tiergate.deliver();
    const decidedAt = h.clock.now();
    expect(await callbackMessage(approval.id)).toMatchObject({ state: 'pending', attempts: 1, lastError: 'HTTP 429', nextAttemptAt: decidedAt + 600_000 });
    receiver.on(path, { status: 204 });
    h.clock.advance(RETRY_SCHEDULE[0]!);
    await h.tiergate.deliver();
    h.clock.set(decidedAt + 599_999);
    await h.tiergate.deliver();
    expect(receiver.callsTo(path)).toHaveLength(1);
    h.clock.set(decidedAt + 600_000);
    await h.tiergate.deliver();
    expect(receiver.callsTo(path)).toHaveLength(2);
    expect(await callbackMessage(approval.id)).toMatchObject({ state: 'delivered', attempts: 2 });
  });

  it('repeated failures mark the endpoint unhealthy (WEBHOOK_ENDPOINT_UNHEALTHY); a success marks it healthy again', async () => {
    const account = h.addAccount({ operatorEmail: 'ops@example.com' });
    const paths: string[] = [];
    for (let i = 0; i < 3; i += 1) {
      const { path, decide } = await approveWithCallback(`unhealthy${i}`, account);
      receiver.on(path, { status: 503 });
      paths.push(path);
      expect((await decide()).status).toBe(200);
      await h.tiergate.deliver();
    }
    const health = expectSuccess(await h.api('GET', '/v1/account', { key: account.key }), 200).webhook_health;
    expect(health).toEqual({ healthy: false, consecutive_failures: 3 });
    const caps = expectSuccess(await h.api('GET', '/v1/capabilities', { key: account.key }), 200);
    expect(caps.cannot.map((c: { reason: string }) => c.reason)).toContain('WEBHOOK_ENDPOINT_UNHEALTHY');
    for (const path of paths) receiver.on(path, { status: 204 });
    h.clock.advance(RETRY_SCHEDULE[0]!);
    await h.tiergate.deliver();
    expect(expectSuccess(await h.api('GET', '/v1/account', { key: account.key }), 200).webhook_health).toEqual({ healthy: true, consecutive_failures: 0 });
  });

  it('non-http schemes and credentials in the URL are refused even with private callbacks allowed', async () => {
    const account = h.addAccount();
    for (const url of BAD_FORM_URLS) {
      const reply = await h.api('POST', '/v1/notify-operator', { key: account.key, json: { type: 'approval_request', action: 'a', reason: 'r', callback_url: url } });
      expect({ url, status: reply.status }).toEqual({ url, status: 400 });
      expectError(reply, 400, 'CALLBACK_URL_FORBIDDEN');
    }
  });

  it('no token, API key, secret or context reached a log line (failed deliveries were logged)', () => {
    expect(h.logs.some((l) => l.message === 'delivery attempt failed')).toBe(true);
    expectCleanLogs(h, ['recipients']);
  });
});

describe.each(matrix(storeKinds('callbacks.test.ts (targets)')))('callback targets without the private opt-in on $framework + $store', ({ framework, store }) => {
  let stores: StoreHandle;
  let h: Harness;
  let receiver: Receiver;
  const dns = scriptedResolver();

  beforeAll(async () => {
    receiver = await startReceiver();
    stores = await openStore(store);
    h = await startHarness(framework, stores, { allowPrivateCallbacks: false, resolve: dns.resolve });
  });
  afterAll(async () => {
    await h?.close();
    await stores?.cleanup();
    await receiver?.close();
  });

  it('non-public targets in every notation, and names resolving to them, are 400 CALLBACK_URL_FORBIDDEN; nothing stored, no point spent', async () => {
    const account = h.addAccount();
    const before = await stores.counts();
    const urls = [...NON_PUBLIC_URLS, ...['loopback.test', 'mixed.test', 'mapped.test', 'compat.test', 'metadata.test'].map((name) => `http://${name}/hook`), ...BAD_FORM_URLS];
    const accepted: string[] = [];
    for (const url of urls) {
      const reply = await h.api('POST', '/v1/notify-operator', { key: account.key, json: { type: 'approval_request', action: 'a', reason: 'r', callback_url: url } });
      if (reply.status !== 400 || reply.json?.error?.code !== 'CALLBACK_URL_FORBIDDEN') accepted.push(`${url} → ${reply.status}`);
    }
    expect(accepted).toEqual([]);
    expect(await stores.counts()).toEqual(before);
    expectSuccess(await h.api('POST', '/v1/notify-operator', { key: account.key, json: { type: 'approval_request', action: 'a', reason: 'r', callback_url: 'https://public.test/hook' } }), 201);
    for (let i = 1; i < 10; i += 1) expectSuccess(await h.api('POST', '/v1/notify-operator', { key: account.key, json: { issue: `n${i}` } }), 201);
    expectError(await h.api('POST', '/v1/notify-operator', { key: account.key, json: { issue: 'over' } }), 429, 'RATE_LIMITED');
  });

  it('a name that resolves to a public address when checked and to loopback when connecting is never called', async () => {
    const account = h.addAccount({ operatorEmail: 'ops@example.com' });
    const path = receiver.path('rebind');
    const approval = await requestApproval(h, account.key, { callback_url: `http://rebind.test:${receiver.port}${path}` });
    expect(dns.lookups.filter((name) => name === 'rebind.test')).toHaveLength(1);
    expect((await postDecision(h, approval.form, 'approve')).status).toBe(200);
    await h.tiergate.deliver();
    h.clock.advance('1d');
    await h.tiergate.deliver();
    expect(dns.lookups.filter((name) => name === 'rebind.test').length).toBeGreaterThanOrEqual(2);
    expect(receiver.callsTo(path)).toHaveLength(0);
    expect(receiver.calls).toHaveLength(0);
    const message = (await h.tiergate.approvals.deliveries(approval.id)).find((m) => m.topic === 'callback');
    expect(message).toMatchObject({ state: 'dead', attempts: 1 });
    expect(message?.lastError).toMatch(/non-public/);
    expectCleanLogs(h);
  });
});
