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
