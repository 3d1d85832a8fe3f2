// Rate limits, quotas and outages through real HTTP on every framework and
// store: concurrency never overshoots (50 at once → exactly 10), buckets
// belong to accounts rather than keys, a request that fails in storage keeps
// no point, and a store that is down answers 503 STORE_UNAVAILABLE — never
// 429 — on every route, then recovers without losing what was stored.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  eventually,
  expectCleanLogs,
  expectError,
  expectErrorPage,
  expectSuccess,
  faultyStore,
  matrix,
  openStore,
  postDecision,
  requestApproval,
  startHarness,
  storeKinds,
  type Harness,
  type Reply,
  type StoreFaults,
  type StoreHandle,
} from './harness.js';

const notify = (h: Harness, key: string, issue: string) => h.api('POST', '/v1/notify-operator', { key, json: { issue } });

describe.each(matrix(storeKinds('limits.test.ts')))('limits on $framework + $store', ({ framework, store }) => {
  let stores: StoreHandle;
  let h: Harness;
  let faults: StoreFaults;

  beforeAll(async () => {
    stores = await openStore(store);
    h = await startHarness(framework, stores, {
      wrapStore: (inner) => {
        const wrapped = faultyStore(inner);
        faults = wrapped.faults;
        return wrapped.store;
      },
    });
  });
  afterAll(async () => {
    await h?.close();
    await stores?.cleanup();
  });

  it('50 notify-operator calls at once: exactly 10 × 201 and 40 × 429 RATE_LIMITED with Retry-After; exactly 10 stored', async () => {
    const account = h.addAccount();
    const before = await stores.counts();
    const replies = await Promise.all(Array.from({ length: 50 }, (_, i) => notify(h, account.key, `burst ${i}`)));
    expect(replies.filter((r) => r.status === 201)).toHaveLength(10);
    const limited = replies.filter((r) => r.status === 429);
    expect(limited).toHaveLength(40);
    for (const reply of limited) {
      expectError(reply, 429, 'RATE_LIMITED');
      expect(Number(reply.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(reply.headers.get('ratelimit-remaining')).toBe('0');
    }
    expect((await stores.counts()).notifications - before.notifications).toBe(10);
  });

  it('the bucket belongs to the account, not to the API key', async () => {
    const shared = h.addAccount({}, 3);
    const [k1, k2, k3] = shared.keys as [string, string, string];
    for (const [key, count] of [[k1, 4], [k2, 3], [k3, 3]] as const) {
      for (let i = 0; i < count; i += 1) expectSuccess(await notify(h, key, `shared ${i}`), 201);
    }
    for (const key of [k1, k2, k3]) expectError(await notify(h, key, 'over'), 429, 'RATE_LIMITED');
    expectSuccess(await notify(h, h.addAccount().key, 'someone else'), 201);
  });

  it('a request whose storage fails answers 503 STORE_UNAVAILABLE, not 429, and keeps no point', async () => {
    const account = h.addAccount();
    faults.fail('createNotification', 3);
    for (let i = 0; i < 3; i += 1) {
      const reply = await notify(h, account.key, `lost ${i}`);
      expectError(reply, 503, 'STORE_UNAVAILABLE');
      expect(Number(reply.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    for (let i = 0; i < 10; i += 1) expectSuccess(await notify(h, account.key, `kept ${i}`), 201);
    expectError(await notify(h, account.key, 'over'), 429, 'RATE_LIMITED');
  });

  it('quota: 50 guarded sends at once with 10 units left → exactly 10 allowed, 40 × 429 SEND_LIMIT_EXCEEDED', async () => {
    const account = h.addAccount({ usage: { send_messages: { day: 90, month: 90 } } });
    const replies = await Promise.all(Array.from({ length: 50 }, () => h.fetch('POST', '/host/send', { key: account.key })));
    expect(replies.filter((r) => r.status === 200)).toHaveLength(10);
    const denied = replies.filter((r) => r.status === 429);
    expect(denied).toHaveLength(40);
    for (const reply of denied) {
      expect(expectError(reply, 429, 'SEND_LIMIT_EXCEEDED').details.reason).toBe('SEND_LIMIT_EXCEEDED');
      expect(Number(reply.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    const usage = expectSuccess(await h.api('GET', '/v1/account', { key: account.key }), 200).usage.send_messages;
    expect(usage.day.used).toBe(100);
  });

  it('a failed quota write answers 503 and counts nothing', async () => {
    const account = h.addAccount();
    faults.fail('consumeQuota', 2);
    for (let i = 0; i < 2; i += 1) expectError(await h.fetch('POST', '/host/send', { key: account.key }), 503, 'STORE_UNAVAILABLE');
    expect((await h.fetch('POST', '/host/send', { key: account.key })).status).toBe(200);
    expect(expectSuccess(await h.api('GET', '/v1/account', { key: account.key }), 200).usage.send_messages.day.used).toBe(1);
  });

  it('no token, API key or context reached a log line', () => {
    expectCleanLogs(h);
  });
});

describe.each(matrix(storeKinds('limits.test.ts (outage)')))('store down on $framework + $store', ({ framework, store }) => {
  let stores: StoreHandle;
  let h: Harness;
  let memoryFaults: StoreFaults | undefined;

  beforeAll(async () => {
    stores = await openStore(store, { relay: true });
    h = await startHarness(
      framework,
      stores,
      store === 'memory'
        ? {
            wrapStore: (inner) => {
              const wrapped = faultyStore(inner);
              memoryFaults = wrapped.faults;
              return wrapped.store;
            },
          }
        : {},
    );
  });
  afterAll(async () => {
    await h?.close();
    await stores?.cleanup();
  });

  const down = async () => (memoryFaults === undefined ? stores.outage?.down() : memoryFaults.down());
  const up = async () => (memoryFaults === undefined ? stores.outage?.up() : memoryFaults.heal());

  it('every route answers 503 STORE_UNAVAILABLE with Retry-After (pages as HTML with the page headers), never 429; then it recovers and lost nothing', { timeout: 30_000 }, async () => {
    const account = h.addAccount({ operatorEmail: 'ops@example.com' });
    const pending = await requestApproval(h, account.key);
    await down();
    try {
      const api: [string, () => Promise<Reply>][] = [
        ['capabilities', () => h.api('GET', '/v1/capabilities', { key: account.key })],
        ['account', () => h.api('GET', '/v1/account', { key: account.key })],
        ['notify-operator', () => notify(h, account.key, 'during the outage')],
        ['approval status', () => h.api('GET', `/v1/approvals/${pending.id}`, { key: account.key })],
        ['guarded host route', () => h.fetch('POST', '/host/send', { key: account.key })],
      ];
      for (let round = 0; round < 3; round += 1) {
        for (const [name, call] of api) {
          const reply = await call();
          expect({ name, status: reply.status }).toEqual({ name, status: 503 });
          expectError(reply, 503, 'STORE_UNAVAILABLE');
          expect(Number(reply.headers.get('retry-after'))).toBeGreaterThan(0);
        }
      }
      for (const reply of [await h.fetch('GET', pending.url), await postDecision(h, pending.form, 'approve')]) {
        expectErrorPage(h, reply, 503, 'STORE_UNAVAILABLE');
        expect(Number(reply.headers.get('retry-after'))).toBeGreaterThan(0);
      }
    } finally {
      await up();
    }
    // Back: the same server and store answer again, and nothing stored before the outage was lost.
    await eventually(async () => (await h.api('GET', '/v1/capabilities', { key: account.key })).status === 200, 'the store to come back', 500);
    expect(expectSuccess(await h.api('GET', `/v1/approvals/${pending.id}`, { key: account.key }), 200).status).toBe('pending');
    expect((await postDecision(h, pending.form, 'approve')).status).toBe(200);
    // The outage spent none of the notify budget: 10 - 1 (the approval) remain.
    for (let i = 0; i < 9; i += 1) expectSuccess(await notify(h, account.key, `after ${i}`), 201);
    expectError(await notify(h, account.key, 'over'), 429, 'RATE_LIMITED');
    expectCleanLogs(h);
  });
});
