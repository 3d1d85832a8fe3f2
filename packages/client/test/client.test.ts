import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import type { AccountResult, ApprovalResult, CapabilitiesResult, UpgradeContext } from '@tiergate/core';
import {
  TiergateClient,
  TiergateError,
  isTiergateError,
  nextStepsOf,
  verifyWebhook,
  type ApprovalRequestResult,
  type TiergateClientOptions,
  type WithNextSteps,
} from '@tiergate/client';
import { closedPort } from '@tiergate/testing';
import { ACCOUNTS, WEBHOOK_SECRET, keyOf, startCallbackReceiver, startTiergateServer, until } from './tiergate-server.js';

type Server = Awaited<ReturnType<typeof startTiergateServer>>;
let server: Server;

beforeAll(async () => {
  server = await startTiergateServer();
});
afterAll(async () => {
  await server.close();
});

function clientFor(account: { id: string }, options: Partial<TiergateClientOptions> = {}, baseUrl = server.baseUrl): TiergateClient {
  return new TiergateClient({ apiKey: keyOf(account), baseUrl, ...options });
}

/** The TiergateError a call fails with (fails the test if it resolves or throws something else). */
async function failure(promise: Promise<unknown>): Promise<TiergateError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof TiergateError) return err;
    throw err;
  }
  throw new Error('expected the call to fail');
}

describe('account routes', () => {
  it('getCapabilities: the wire result with next_steps attached but not enumerable', async () => {
    const caps = await clientFor(ACCOUNTS.free).account.getCapabilities();
    expect(caps.tier).toBe('free');
    expect(Object.keys(caps)).toEqual(['tier', 'can', 'cannot', 'upgrade_context']);
    expect(caps.can.map((c) => c.action)).toContain('receive_messages');
    const send = caps.cannot.find((c) => c.action === 'send_messages');
    expect(send).toMatchObject({ reason: 'SEND_REQUIRES_PAID', api_call: 'POST /v1/upgrade-link' });
    expect(send?.unlock_url?.startsWith(`${server.baseUrl}/upgrade?token=`)).toBe(true);
    expect(caps.upgrade_context?.operator_action_url).toBe(send?.unlock_url);
    expect(caps.upgrade_context?.agent_script).toContain(send?.unlock_url);
    expect(caps.next_steps.length).toBeGreaterThan(0);
    expect(nextStepsOf(caps)).toBe(caps.next_steps);
    expect(JSON.parse(JSON.stringify(caps))).not.toHaveProperty('next_steps');
    expect({ ...caps }).not.toHaveProperty('next_steps');
  });

  it('getCapabilities: nothing blocked means upgrade_context null', async () => {
    const caps = await clientFor(ACCOUNTS.dev).account.getCapabilities();
    expect(caps).toMatchObject({ tier: 'developer', cannot: [], upgrade_context: null });
    expect(caps.can.map((c) => c.action)).toContain('send_messages');
  });

  it("the seed's ensureCanSend pattern", async () => {
    const told: string[] = [];
    async function ensureCanSend(client: TiergateClient): Promise<void> {
      const caps = await client.account.getCapabilities();
      const sendCapability = caps.cannot.find((c) => c.action === 'send_messages');
      if (sendCapability) {
        told.push(caps.upgrade_context?.agent_script ?? '');
        throw new Error('Sending not available - upgrade required');
      }
    }
    await expect(ensureCanSend(clientFor(ACCOUNTS.free))).rejects.toThrow(Error);
    expect(told).toHaveLength(1);
    expect(told[0]).toContain(`${server.baseUrl}/upgrade?token=`);
    await expect(ensureCanSend(clientFor(ACCOUNTS.dev))).resolves.toBeUndefined();
    expect(told).toHaveLength(1);
  });

  it('account.get: usage per window, custom domains, webhook health', async () => {
    const account = await clientFor(ACCOUNTS.full).account.get();
    expect(account).toMatchObject({ id: 'acc_full', tier: 'developer', status: 'active', custom_domains: { used: 0, limit: 1 }, webhook_health: { healthy: true } });
    expect(account.usage.send_messages?.day).toEqual({ used: 100, limit: 100, resets_at: '2026-03-11T00:00:00.000Z' });
    expect(account.usage.send_messages?.month).toEqual({ used: 100, limit: 3000, resets_at: '2026-04-01T00:00:00.000Z' });
    expect(account.next_steps.length).toBeGreaterThan(0);
  });

  it('notifyOperator: the seed call and its wire fields', async () => {
    const notification = await clientFor(ACCOUNTS.free).account.notifyOperator({
      issue: 'Unable to send confirmation email - sending requires paid tier',
      context: { attempted_action: 'send_email', recipient: 'user@example.com', blocked_by: 'SEND_REQUIRES_PAID' },
      actionLabel: 'Upgrade to Enable Sending',
    });
    expect(notification.notification_id).toMatch(/^not_/);
    expect(notification.operator_action_label).toBe('Upgrade to Enable Sending');
    expect(notification.operator_action_url.startsWith(`${server.baseUrl}/operator/action?token=`)).toBe(true);
    expect(notification.agent_script).toContain(notification.operator_action_url);
    expect(Date.parse(notification.expires_at)).toBe(server.clock.now() + 7 * 86_400_000);
    expect(notification).not.toHaveProperty('request_id');
    expect(notification.next_steps.length).toBeGreaterThan(0);
    const defaulted = await clientFor(ACCOUNTS.free).account.notifyOperator({ issue: 'Webhook endpoint has been unhealthy for 2 hours', context: undefined });
    expect(defaulted.operator_action_label).toBe('Review Request');
  });

  it('upgradeLink: default target and an explicit tier', async () => {
    const client = clientFor(ACCOUNTS.free);
    const link = await client.account.upgradeLink();
    expect(link.target_tier).toBe('developer');
    expect(link.operator_action_url.startsWith(`${server.baseUrl}/upgrade?token=`)).toBe(true);
    expect(link.agent_script).toContain(link.operator_action_url);
    expect((await client.account.upgradeLink({ tier: 'growth' })).target_tier).toBe('growth');
  });

  it('sends the API key through the given fetch, with extra headers', async () => {
    const seen: Headers[] = [];
    const client = clientFor(ACCOUNTS.dev, {
      headers: { 'x-agent': 'tests', Authorization: 'Bearer someone-else' },
      fetch: (input, init) => {
        seen.push(new Headers(init.headers));
        return fetch(input, init);
      },
    });
    await client.account.get();
    expect(seen).toHaveLength(1);
    expect(seen[0]?.get('authorization')).toBe(`Bearer ${keyOf(ACCOUNTS.dev)}`);
    expect(seen[0]?.get('x-agent')).toBe('tests');
  });
});

describe('approvals', () => {
  const request = { action: 'bulk_send', context: { recipient_count: 500, subject: 'Product Update' }, reason: 'Sending to 500 recipients exceeds safety threshold', urgency: 'medium', expiresIn: 3600 } as const;

  it('request → get → decided', async () => {
    const client = clientFor(ACCOUNTS.dev);
    const approval = await client.approvals.request(request);
    expect(approval.request_id).toMatch(/^apr_/);
    expect(approval.status).toBe('pending');
    expect(approval.notification_id).toMatch(/^not_/);
    expect(Date.parse(approval.expires_at)).toBe(server.clock.now() + 3600_000);
    expect(approval.next_steps.length).toBeGreaterThan(0);
    const pending = await client.approvals.get(approval.request_id);
    expect(pending).toMatchObject({ request_id: approval.request_id, status: 'pending', action: 'bulk_send', urgency: 'medium', decided_by: null });
    await server.tiergate.approvals.decide(approval.request_id, { decision: 'deny', by: 'ops@example.com', denialReason: 'Too many recipients' });
    const denied = await client.approvals.get(approval.request_id);
    expect(denied).toMatchObject({ status: 'denied', decided_by: 'ops@example.com', denial_reason: 'Too many recipients' });
    expect(denied.decided_at).toBe(new Date(server.clock.now()).toISOString());
  });

  it("accepts the seed's notifyOperator({ type: 'approval_request', … }) form", async () => {
    const approval = await clientFor(ACCOUNTS.dev).account.notifyOperator({ type: 'approval_request', ...request });
    expect(approval.request_id).toMatch(/^apr_/);
    expect(approval.status).toBe('pending');
  });

  it('wait: long-polls in ≤ 30 s slices and resolves when the operator decides', async () => {
    const client = clientFor(ACCOUNTS.dev);
    const { request_id } = await client.approvals.request(request);
    const waiting = client.approvals.wait(request_id, { timeoutMs: 90_000 });
    await until(() => server.store.waiting.includes(request_id));
    await server.tiergate.approvals.decide(request_id, { decision: 'approve', by: 'ops@example.com' });
    const final = await waiting;
    expect(final).toMatchObject({ request_id, status: 'approved', decided_by: 'ops@example.com' });
    expect(final.next_steps.length).toBeGreaterThan(0);
    const polls = server.seen(`/v1/approvals/${request_id}`);
    expect(polls).toHaveLength(1);
    expect(polls[0]?.query).toBe('wait=30');
  });

  it('wait: a plain timeout resolves with the pending state', async () => {
    const client = clientFor(ACCOUNTS.dev);
    const { request_id } = await client.approvals.request(request);
    const final = await client.approvals.wait(request_id, { timeoutMs: 1500 });
    expect(final.status).toBe('pending');
    const polls = server.seen(`/v1/approvals/${request_id}`);
    expect(polls[0]?.query).toBe('wait=1');
    const immediate = await client.approvals.wait(request_id, { timeoutMs: 0 });
    expect(immediate.status).toBe('pending');
    expect(server.seen(`/v1/approvals/${request_id}`).at(-1)?.query).toBe('');
  });

  it('wait: an already-decided approval returns at once', async () => {
    const client = clientFor(ACCOUNTS.dev);
    const { request_id } = await client.approvals.request(request);
    await server.tiergate.approvals.expire(request_id, { force: true });
    expect((await client.approvals.wait(request_id, { timeoutMs: 60_000 })).status).toBe('expired');
    expect(server.seen(`/v1/approvals/${request_id}`)).toHaveLength(1);
  });

  it('wait: aborting fails with NETWORK_ERROR (aborted)', async () => {
    const client = clientFor(ACCOUNTS.dev);
    const { request_id } = await client.approvals.request(request);
    const controller = new AbortController();
    const waiting = failure(client.approvals.wait(request_id, { timeoutMs: 60_000, signal: controller.signal }));
    await until(() => server.store.waiting.includes(request_id));
    controller.abort();
    const error = await waiting;
    expect(error.code).toBe('NETWORK_ERROR');
    expect(error.details).toEqual({ reason: 'aborted' });
  });

  it('the callback reaches a real receiver and verifies (the seed webhook handler)', async () => {
    const receiver = await startCallbackReceiver();
    try {
      const client = clientFor(ACCOUNTS.dev);
      const pending = new Map<string, { action: string }>();
      const approval = await client.approvals.request({ ...request, callbackUrl: receiver.url });
      pending.set(approval.request_id, { action: 'bulk_send' });
      await server.tiergate.approvals.decide(approval.request_id, { decision: 'approve', by: 'ops@example.com' });
      await server.tiergate.deliver();
      await until(() => receiver.received.length > 0);
      expect(receiver.received).toHaveLength(1);
      const delivery = receiver.received[0] as (typeof receiver.received)[number];
      const event = await verifyWebhook(WEBHOOK_SECRET, delivery.headers, delivery.body, { now: server.clock.now() });
      expect(event.type).toBe('approval.granted');
      if (event.type !== 'approval.granted') return;
      expect(event.data).toEqual({
        request_id: approval.request_id,
        status: 'approved',
        action: 'bulk_send',
        context: request.context,
        approved_by: 'ops@example.com',
        approved_at: new Date(server.clock.now()).toISOString(),
        denial_reason: null,
      });
      expect(pending.has(event.data.request_id)).toBe(true);
      const tampered = await failure(verifyWebhook(WEBHOOK_SECRET, delivery.headers, delivery.body.replace('bulk_send', 'bulk_sent'), { now: server.clock.now() }));
      expect(tampered.code).toBe('WEBHOOK_INVALID');
    } finally {
      await receiver.close();
    }
  });
});

describe('errors the server returns to an agent', () => {
  it('UNAUTHORIZED for an unknown key', async () => {
    const error = await failure(new TiergateClient({ apiKey: 'key_nobody', baseUrl: server.baseUrl }).account.getCapabilities());
    expect(error).toMatchObject({ code: 'UNAUTHORIZED', status: 401, retryAfter: undefined, upgradeContext: undefined });
    expect(error.nextSteps.length).toBeGreaterThan(0);
  });

  it('INVALID_REQUEST with validation details', async () => {
    const client = clientFor(ACCOUNTS.free);
    const empty = await failure(client.account.notifyOperator({ issue: '' }));
    expect(empty).toMatchObject({ code: 'INVALID_REQUEST', status: 400 });
    expect(empty.details).toEqual([expect.objectContaining({ path: 'issue' })]);
    const tier = await failure(client.account.upgradeLink({ tier: 'platinum' }));
    expect(tier).toMatchObject({ code: 'INVALID_REQUEST', details: [expect.objectContaining({ path: 'tier' })] });
    const expires = await failure(client.approvals.request({ action: 'bulk_send', reason: 'r', expiresIn: 5 }));
    expect(expires).toMatchObject({ code: 'INVALID_REQUEST', details: [expect.objectContaining({ path: 'expires_in' })] });
    const noSecret = await failure(clientFor(ACCOUNTS.nosecret).approvals.request({ action: 'bulk_send', reason: 'r', callbackUrl: 'https://agent.example/hook' }));
    expect(noSecret).toMatchObject({ code: 'INVALID_REQUEST', details: [expect.objectContaining({ path: 'callback_url' })] });
  });

  it('CALLBACK_URL_FORBIDDEN', async () => {
    const client = clientFor(ACCOUNTS.dev);
    for (const callbackUrl of ['ftp://agent.example/hook', 'https://user:pw@agent.example/hook']) {
      const error = await failure(client.approvals.request({ action: 'bulk_send', reason: 'r', callbackUrl }));
      expect(error).toMatchObject({ code: 'CALLBACK_URL_FORBIDDEN', status: 400 });
    }
  });

  it("NOT_FOUND: unknown or another account's approval, unknown route", async () => {
    const approval = await clientFor(ACCOUNTS.dev).approvals.request({ action: 'bulk_send', reason: 'r' });
    expect(await failure(clientFor(ACCOUNTS.free).approvals.get(approval.request_id))).toMatchObject({ code: 'NOT_FOUND', status: 404 });
    expect(await failure(clientFor(ACCOUNTS.dev).approvals.get('apr_doesnotexist'))).toMatchObject({ code: 'NOT_FOUND', status: 404 });
    expect(await failure(clientFor(ACCOUNTS.dev).approvals.get('../v1/account'))).toMatchObject({ code: 'NOT_FOUND' });
    expect(await failure(clientFor(ACCOUNTS.dev).request('/v1/nothing-here'))).toMatchObject({ code: 'NOT_FOUND', status: 404 });
  });

  it('METHOD_NOT_ALLOWED and PAYLOAD_TOO_LARGE', async () => {
    const client = clientFor(ACCOUNTS.dev);
    expect(await failure(client.request('/v1/capabilities', { method: 'DELETE' }))).toMatchObject({ code: 'METHOD_NOT_ALLOWED', status: 405 });
    const huge = await failure(client.account.notifyOperator({ issue: 'big', context: { blob: 'x'.repeat(70_000) } }));
    expect(huge).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', status: 413 });
  });

  it('STORE_UNAVAILABLE (503 with Retry-After), never reported as rate limiting', async () => {
    server.store.fail();
    try {
      const error = await failure(clientFor(ACCOUNTS.dev).account.getCapabilities());
      expect(error).toMatchObject({ code: 'STORE_UNAVAILABLE', status: 503, retryAfter: 5 });
      expect(await failure(clientFor(ACCOUNTS.dev).account.notifyOperator({ issue: 'help' }))).toMatchObject({ code: 'STORE_UNAVAILABLE', status: 503 });
    } finally {
      server.store.recover();
    }
    await expect(clientFor(ACCOUNTS.dev).account.getCapabilities()).resolves.toMatchObject({ tier: 'developer' });
  });
});

describe("a host's guarded routes (client.request)", () => {
  const send = (account: { id: string }) => clientFor(account).request<{ sent: boolean; consumed: number }>('/v1/messages/send', { method: 'POST', body: { to: 'user@example.com' } });

  it('an allowed call returns the result', async () => {
    await expect(send(ACCOUNTS.dev)).resolves.toEqual({ sent: true, consumed: 1 });
  });

  it('SEND_REQUIRES_PAID: 403 with upgradeContext', async () => {
    const error = await failure(send(ACCOUNTS.free));
    expect(error).toMatchObject({ code: 'SEND_REQUIRES_PAID', status: 403, retryAfter: undefined });
    expect(error.details).toMatchObject({ action: 'send_messages', reason: 'SEND_REQUIRES_PAID' });
    expect(error.upgradeContext?.operator_action_url.startsWith(`${server.baseUrl}/upgrade?token=`)).toBe(true);
    expect(error.upgradeContext?.agent_script).toContain(error.upgradeContext?.operator_action_url);
  });

  it('SEND_LIMIT_EXCEEDED: 429 with Retry-After until the window resets, and retries do not wait for it', async () => {
    const before = server.seen('/v1/messages/send').length;
    const error = await failure(clientFor(ACCOUNTS.full, { retries: { max: 3, maxDelayMs: 1000 } }).request('/v1/messages/send', { method: 'POST' }));
    expect(error).toMatchObject({ code: 'SEND_LIMIT_EXCEEDED', status: 429, retryAfter: 12 * 3600 });
    expect(error.details).toMatchObject({ resets_at: '2026-03-11T00:00:00.000Z' });
    expect(error.upgradeContext?.operator_action_url).toContain('/upgrade?token=');
    expect(server.seen('/v1/messages/send').length - before).toBe(1);
  });

  it('ACCOUNT_UNDER_REVIEW and WEBHOOK_ENDPOINT_UNHEALTHY', async () => {
    expect(await failure(send(ACCOUNTS.review))).toMatchObject({ code: 'ACCOUNT_UNDER_REVIEW', status: 403 });
    const hook = await failure(clientFor(ACCOUNTS.hook).request('/v1/webhooks', { method: 'POST' }));
    expect(hook).toMatchObject({ code: 'WEBHOOK_ENDPOINT_UNHEALTHY', status: 403 });
    expect(hook.upgradeContext?.operator_action_url).toBeDefined();
    expect(await failure(new TiergateClient({ apiKey: 'nope', baseUrl: server.baseUrl }).request('/v1/webhooks', { method: 'POST' }))).toMatchObject({ code: 'UNAUTHORIZED' });
  });

  it("the seed's handleOperatorIntervention pattern", async () => {
    const client = clientFor(ACCOUNTS.free);
    const alerts: string[] = [];
    async function handleOperatorIntervention(issue: string, context?: Record<string, unknown>): Promise<never> {
      const notification = await client.account.notifyOperator({ issue, context });
      alerts.push(notification.agent_script);
      throw new Error('Operator intervention required');
    }
    await expect(
      (async () => {
        try {
          await client.request('/v1/messages/send', { method: 'POST', body: { to: 'user@example.com' } });
        } catch (error) {
          if (isTiergateError(error) && error.code === 'SEND_REQUIRES_PAID') {
            await handleOperatorIntervention(error.message, { error_code: error.code, attempted_action: 'send_email' });
          }
          throw error;
        }
      })(),
    ).rejects.toThrow('Operator intervention required');
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toContain(`${server.baseUrl}/operator/action?token=`);
  });
});

describe('rate limits and retries', () => {
  let limited: Server;
  beforeAll(async () => {
    limited = await startTiergateServer({ notifyRateLimit: { points: 1, durationSeconds: 1 } });
  });
  afterAll(async () => {
    await limited.close();
  });

  it('RATE_LIMITED: 429 with retryAfter and the limit in details', async () => {
    const client = clientFor(ACCOUNTS.limited, {}, limited.baseUrl);
    await client.account.notifyOperator({ issue: 'first' });
    const error = await failure(client.account.notifyOperator({ issue: 'second' }));
    expect(error).toMatchObject({ code: 'RATE_LIMITED', status: 429, retryAfter: 1 });
    expect(error.details).toMatchObject({ limit: 1, remaining: 0 });
  });

  it('retries a 429 after Retry-After and succeeds', async () => {
    const client = clientFor(ACCOUNTS.retry, { retries: { max: 2, maxDelayMs: 2000 } }, limited.baseUrl);
    await client.account.notifyOperator({ issue: 'first' });
    const second = await client.account.notifyOperator({ issue: 'second' });
    expect(second.notification_id).toMatch(/^not_/);
    const mine = limited.requests.filter((r) => r.path.endsWith('/v1/notify-operator') && r.authorization === `Bearer ${keyOf(ACCOUNTS.retry)}`);
    expect(mine).toHaveLength(3);
  });

  it('retries a 503 after Retry-After and succeeds', async () => {
    limited.store.fail({ calls: 1, retryAfterSeconds: 1 });
    const before = limited.seen('/v1/capabilities').length;
    const caps = await clientFor(ACCOUNTS.dev, { retries: { max: 1, maxDelayMs: 2000 } }, limited.baseUrl).account.getCapabilities();
    expect(caps.tier).toBe('developer');
    expect(limited.seen('/v1/capabilities').length - before).toBe(2);
  });

  it('gives up after retries.max and throws the last error', async () => {
    limited.store.fail({ retryAfterSeconds: 1 });
    try {
      const before = limited.seen('/v1/account').length;
      const error = await failure(clientFor(ACCOUNTS.dev, { retries: { max: 1, maxDelayMs: 2000 } }, limited.baseUrl).account.get());
      expect(error).toMatchObject({ code: 'STORE_UNAVAILABLE', retryAfter: 1 });
      expect(limited.seen('/v1/account').length - before).toBe(2);
    } finally {
      limited.store.recover();
    }
  });

  it('does not wait for a Retry-After longer than maxDelayMs', async () => {
    limited.store.fail();
    try {
      const before = limited.seen('/v1/account').length;
      const error = await failure(clientFor(ACCOUNTS.dev, { retries: { max: 3, maxDelayMs: 1000 } }, limited.baseUrl).account.get());
      expect(error).toMatchObject({ code: 'STORE_UNAVAILABLE', retryAfter: 5 });
      expect(limited.seen('/v1/account').length - before).toBe(1);
    } finally {
      limited.store.recover();
    }
  });
});

describe('failures without a tiergate response', () => {
  it('NETWORK_ERROR against a closed port', async () => {
    const port = await closedPort();
    const error = await failure(new TiergateClient({ apiKey: 'k', baseUrl: `http://127.0.0.1:${port}`, retries: { max: 2 } }).account.getCapabilities());
    expect(error).toMatchObject({ code: 'NETWORK_ERROR', status: undefined, details: { reason: 'failed' } });
    expect(error.cause).toBeDefined();
  });

  it('NETWORK_ERROR on timeout and on abort', async () => {
    const client = clientFor(ACCOUNTS.dev);
    expect(await failure(client.request('/v1/hang', { timeoutMs: 100 }))).toMatchObject({ code: 'NETWORK_ERROR', details: { reason: 'timeout' } });
    const controller = new AbortController();
    const pending = failure(client.request('/v1/hang', { signal: controller.signal }));
    controller.abort();
    expect(await pending).toMatchObject({ code: 'NETWORK_ERROR', details: { reason: 'aborted' } });
    const already = failure(client.account.get({ signal: AbortSignal.abort() }));
    expect(await already).toMatchObject({ code: 'NETWORK_ERROR', details: { reason: 'aborted' } });
  });

  it('BAD_RESPONSE for HTML, non-JSON and non-envelope answers', async () => {
    const html = await failure(new TiergateClient({ apiKey: 'k', baseUrl: `${server.origin}/proxy-error` }).account.getCapabilities());
    expect(html).toMatchObject({ code: 'BAD_RESPONSE', status: 502 });
    const text = await failure(new TiergateClient({ apiKey: 'k', baseUrl: `${server.origin}/not-json` }).account.getCapabilities());
    expect(text).toMatchObject({ code: 'BAD_RESPONSE', status: 200 });
    const bare = await failure(new TiergateClient({ apiKey: 'k', baseUrl: `${server.origin}/no-envelope` }).account.getCapabilities());
    expect(bare).toMatchObject({ code: 'BAD_RESPONSE', status: 200 });
  });

  it('CONFIG_INVALID for a bad baseUrl, apiKey or retries', () => {
    const code = (make: () => unknown) => {
      try {
        make();
        return 'OK';
      } catch (err) {
        return isTiergateError(err) ? err.code : 'other';
      }
    };
    expect(code(() => new TiergateClient({ apiKey: 'k', baseUrl: 'api.example.com' }))).toBe('CONFIG_INVALID');
    expect(code(() => new TiergateClient({ apiKey: 'k', baseUrl: 'ftp://api.example.com' }))).toBe('CONFIG_INVALID');
    expect(code(() => new TiergateClient({ apiKey: ' ', baseUrl: 'https://api.example.com' }))).toBe('CONFIG_INVALID');
    expect(code(() => new TiergateClient({ apiKey: 'key\nInjected: 1', baseUrl: 'https://api.example.com' }))).toBe('CONFIG_INVALID');
    expect(code(() => new TiergateClient({ apiKey: 'k', baseUrl: 'https://api.example.com', headers: { 'bad header': 'x' } }))).toBe('CONFIG_INVALID');
    expect(code(() => new TiergateClient({ apiKey: 'k', baseUrl: 'https://api.example.com', retries: { max: -1 } }))).toBe('CONFIG_INVALID');
    expect(code(() => new TiergateClient({ apiKey: 'k', baseUrl: 'https://api.example.com/' }))).toBe('OK');
  });
});

describe('types', () => {
  it('results carry the core wire types', () => {
    const client = new TiergateClient({ apiKey: 'k', baseUrl: 'https://api.example.com' });
    expectTypeOf(client.account.getCapabilities).returns.resolves.toEqualTypeOf<WithNextSteps<CapabilitiesResult>>();
    expectTypeOf(client.account.get).returns.resolves.toEqualTypeOf<WithNextSteps<AccountResult>>();
    expectTypeOf(client.approvals.wait).returns.resolves.toEqualTypeOf<WithNextSteps<ApprovalResult>>();
    expectTypeOf(client.approvals.request).returns.resolves.toEqualTypeOf<WithNextSteps<ApprovalRequestResult>>();
    expectTypeOf<ApprovalRequestResult['request_id']>().toEqualTypeOf<string>();
    expectTypeOf<TiergateError['upgradeContext']>().toEqualTypeOf<UpgradeContext | undefined>();
    expectTypeOf<TiergateError['code']>().extract<'SEND_REQUIRES_PAID'>().toEqualTypeOf<'SEND_REQUIRES_PAID'>();
  });
});
