import { describe, expect, it } from 'vitest';
import { memoryStore, type Store } from '@tiergate/core';
import { runStoreConformance } from '@tiergate/testing';

// The reference store must meet the same contract as the PostgreSQL and Redis stores.
runStoreConformance('memory', async () => ({ store: memoryStore(), cleanup: async () => undefined }));

// `transitionApprovals` is optional: a store without it (a third-party store written before it
// existed) gets `transitionEach`'s one-call-per-element fallback, held to the same contract.
runStoreConformance('memory without transitionApprovals', async () => {
  const { transitionApprovals: _batch, ...rest } = memoryStore();
  const store: Store = rest;
  return { store, cleanup: async () => undefined };
});

describe('memoryStore: quota counters leave memory when their window ends', () => {
  const consume = (store: ReturnType<typeof memoryStore>, accountId: string, dayEnds: number, monthEnds: number) =>
    store.consumeQuota({
      accountId,
      action: 'send_messages',
      amount: 1,
      windows: [
        { key: `d${dayEnds}`, limit: 10, expiresAt: dayEnds },
        { key: `m${monthEnds}`, limit: 100, expiresAt: monthEnds },
      ],
    });

  it('purges each window at its own end, and only that one', async () => {
    const store = memoryStore();
    await consume(store, 'acc_1', 1_000, 5_000);
    await consume(store, 'acc_2', 1_000, 5_000);
    await consume(store, 'acc_1', 1_000, 5_000);
    expect(store.size().counters).toBe(4);
    await store.purge(999, 100);
    expect(store.size().counters).toBe(4);
    await store.purge(1_000, 100);
    expect(store.size().counters).toBe(2);
    expect((await store.readAccountState('acc_1', ['send_messages'], ['d1000', 'm5000'])).usage).toEqual({ send_messages: [0, 2] });
    // The next day's window starts from zero; the month keeps counting.
    expect(await consume(store, 'acc_1', 2_000, 5_000)).toEqual({ ok: true, used: [1, 3] });
    await store.purge(5_000, 100);
    expect(store.size().counters).toBe(0);
  });
});

describe('memoryStore: reading an account state', () => {
  const actions = ['send_messages', 'create_domain', 'create_inboxes'] as const;
  const keys = ['d1', 'm1'] as const;
  const consume = (store: ReturnType<typeof memoryStore>, accountId: string, action: string, amount: number) =>
    store.consumeQuota({
      accountId,
      action,
      amount,
      windows: [
        { key: 'd1', limit: 100, expiresAt: 10_000 },
        { key: 'm1', limit: 100, expiresAt: 20_000 },
      ],
    });

  it('answers an account that has used none of the actions one frozen read per list of actions', async () => {
    const store = memoryStore();
    const first = await store.readAccountState('acc_1', actions, keys);
    expect(first).toEqual({ usage: { send_messages: [0, 0], create_domain: [0, 0], create_inboxes: [0, 0] }, health: { healthy: true, consecutiveFailures: 0, disabledUrls: [] } });
    expect(Object.isFrozen(first) && Object.isFrozen(first.usage) && Object.isFrozen(first.usage.send_messages)).toBe(true);
    // Another unused account, the same list: the same read. Another list: its own.
    expect(await store.readAccountState('acc_2', actions, keys)).toBe(first);
    const other = await store.readAccountState('acc_1', ['send_messages'], keys);
    expect(other).not.toBe(first);
    expect(other.usage).toEqual({ send_messages: [0, 0] });
  });

  it('counts the actions used and answers the rest as unused, in the order asked', async () => {
    const store = memoryStore();
    const unused = await store.readAccountState('acc_1', actions, keys);
    await consume(store, 'acc_1', 'create_domain', 2);
    const read = await store.readAccountState('acc_1', actions, keys);
    expect(read).not.toBe(unused);
    expect(Object.entries(read.usage)).toEqual([
      ['send_messages', [0, 0]],
      ['create_domain', [2, 2]],
      ['create_inboxes', [0, 0]],
    ]);
    // The shared unused read is untouched, and still what an unused account reads.
    expect(unused.usage).toEqual({ send_messages: [0, 0], create_domain: [0, 0], create_inboxes: [0, 0] });
    expect(await store.readAccountState('acc_2', actions, keys)).toBe(unused);
    // A count refunded back to zero reads as unused again.
    await consume(store, 'acc_1', 'create_domain', -2);
    expect((await store.readAccountState('acc_1', actions, keys)).usage).toEqual(unused.usage);
  });

  it("answers an unused account's own endpoint health with the unused usage", async () => {
    const store = memoryStore();
    const unused = await store.readAccountState('acc_2', actions, keys);
    await store.recordDelivery('acc_1', 'gone', 'https://hooks.example.com/a', 3);
    const read = await store.readAccountState('acc_1', actions, keys);
    expect(read.health).toMatchObject({ healthy: false, disabledUrls: ['https://hooks.example.com/a'] });
    expect(read.usage).toBe(unused.usage);
    expect((await store.readAccountState('acc_2', actions, keys)).health.healthy).toBe(true);
  });
});

describe('memoryStore: what it keeps of a written record', () => {
  const notification = (id: string) => ({
    id,
    accountId: 'acc_1',
    issue: 'Need help',
    actionLabel: 'Open',
    sealedContext: null,
    approvalId: null,
    linkId: 'lnk_1',
    account: { tier: 'free', status: 'active', operatorEmail: null, customDomains: null },
    createdAt: 1_000,
    expiresAt: 2_000,
    purgeAt: 3_000,
  });

  it('keeps a frozen copy of a record the caller may still change, and a frozen record as it is', async () => {
    const store = memoryStore();
    const open = notification('not_open');
    await store.createNotification({ notification: open, outbox: [] });
    open.issue = 'changed afterwards';
    const kept = await store.getNotification('not_open');
    expect(kept?.issue).toBe('Need help');
    expect(Object.isFrozen(kept)).toBe(true);

    const frozen = Object.freeze(notification('not_frozen'));
    await store.createNotification({ notification: frozen, outbox: [] });
    expect(await store.getNotification('not_frozen')).toBe(frozen);
  });
});
