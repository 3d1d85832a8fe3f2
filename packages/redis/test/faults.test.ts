/**
 * Redis going away: calls fail fast with STORE_UNAVAILABLE (never hang, never
 * report anything else, never 429), and the same store works again once the
 * client reconnects. The shared server is never stopped: connections are cut
 * with CLIENT KILL or by a TCP forwarder this file controls.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { apiKeyAuthenticator, createTiergate, isTiergateError, type Account, type Store } from '@tiergate/core';
import type { RedisStore } from '@tiergate/redis';
import { redisStore } from '@tiergate/redis';
import { closedPort, createFakeClock } from '@tiergate/testing';
import {
  DAY,
  MINUTE,
  T0,
  approvalRecord,
  auditFor,
  createdEntry,
  decision,
  notificationRecord,
  outboxMessage,
  outcomeOf,
  range,
  uid,
} from './records.js';
import { deleteKeys, keysUnder, openClient, randomPrefix, redisUrl, reportMissingRedis, startRedisProxy, unreachableStore } from './test-redis.js';

reportMissingRedis('redis faults');

/** Every Store method once, plus the rate limiter, on fresh ids. */
function everyCall(store: RedisStore): Record<string, () => Promise<unknown>> {
  const approvalId = uid('apr_');
  const notification = notificationRecord({ approvalId });
  const patch = decision('approved', T0 + 1, 'ops@example.com');
  const limiter = store.rateLimiter({ keyPrefix: 'faults', points: 10, durationSeconds: 60 });
  const windows = [{ key: 'd', limit: 1000, expiresAt: Date.now() + DAY }];
  return {
    createNotification: () => store.createNotification({ notification, approval: approvalRecord(notification), audit: createdEntry(approvalId), outbox: [outboxMessage(approvalId)] }),
    getNotification: () => store.getNotification(notification.id),
    getApproval: () => store.getApproval(approvalId),
    transitionApproval: () => store.transitionApproval({ id: approvalId, patch, audit: auditFor(approvalId, patch), outbox: [] }),
    transitionApprovals: () => store.transitionApprovals([{ id: approvalId, patch, audit: auditFor(approvalId, patch), outbox: [] }]),
    dueApprovals: () => store.dueApprovals(T0 - 3000 * DAY, 10),
    listAudit: () => store.listAudit(approvalId),
    claimOutbox: () => store.claimOutbox(T0 - 3000 * DAY, 10, MINUTE),
    settleOutbox: () => store.settleOutbox(uid('msg_'), 'lease', { state: 'delivered', attempts: 1 }),
    listOutbox: () => store.listOutbox(approvalId),
    consumeQuota: () => store.consumeQuota({ accountId: uid('acc_'), action: 'send_messages', amount: 1, windows }),
    refundQuota: () => store.refundQuota({ accountId: uid('acc_'), action: 'send_messages', amount: 1, windowKeys: ['d'] }),
    readAccountState: () => store.readAccountState(uid('acc_'), ['send_messages'], ['d', 'm']),
    recordDelivery: () => store.recordDelivery(uid('acc_'), 'failure', 'https://agent.example.com/', 5),
    'rateLimiter.consume': () => limiter.consume(uid('acc_')),
    'rateLimiter.refund': () => limiter.refund(uid('acc_')),
    purge: () => store.purge(T0 - 3000 * DAY, 10),
  };
}

async function outcomes(store: RedisStore): Promise<Record<string, string>> {
  const result: Record<string, string> = {};
  for (const [method, call] of Object.entries(everyCall(store))) result[method] = await outcomeOf(call());
  return result;
}

const METHODS = [
  'createNotification', 'getNotification', 'getApproval', 'transitionApproval', 'transitionApprovals', 'dueApprovals', 'listAudit', 'claimOutbox', 'settleOutbox',
  'listOutbox', 'consumeQuota', 'refundQuota', 'readAccountState', 'recordDelivery', 'rateLimiter.consume', 'rateLimiter.refund', 'purge',
] as const;

/** The same outcome for every method. */
const all = (code: string): Record<string, string> => Object.fromEntries(METHODS.map((m) => [m, code]));

/** Waits (bounded) until `check` holds. */
async function eventually(check: () => boolean | Promise<boolean>, what: string, tries = 500): Promise<void> {
  for (let i = 0; i < tries; i += 1) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for: ${what}`);
}

const account: Account = { id: 'acc_faults', tier: 'free', webhookSecret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', operatorEmail: 'ops@example.com' };

function service(store: Store) {
  return createTiergate({
    authenticate: apiKeyAuthenticator([{ apiKey: 'key_faults', account }]),
    secret: 'x'.repeat(32),
    publicUrl: 'https://api.example.com',
    clock: createFakeClock(),
    store,
    logger: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
  });
}

describe.skipIf(redisUrl === undefined)('Redis unreachable', () => {
  it('every method rejects with STORE_UNAVAILABLE even on a client that would queue and retry forever', { timeout: 20_000 }, async () => {
    // Default ioredis behaviour plus no retry limit: without the store's guard, calls would wait for Redis indefinitely.
    // The store timeout is far beyond the test timeout, so only failing fast can pass.
    const { store, cleanup } = await unreachableStore({ timeoutMs: 600_000 }, { maxRetriesPerRequest: null, enableOfflineQueue: true, connectTimeout: 10_000 });
    try {
      expect(await outcomes(store)).toEqual(all('STORE_UNAVAILABLE'));
      await expect(store.waitForApproval(uid('apr_'), 100)).resolves.toBeUndefined();
    } finally {
      await cleanup();
    }
  });

  it('rejects with STORE_UNAVAILABLE on a client with the offline queue disabled', { timeout: 20_000 }, async () => {
    const { store, cleanup } = await unreachableStore({}, { enableOfflineQueue: false });
    try {
      expect(await outcomes(store)).toEqual(all('STORE_UNAVAILABLE'));
    } finally {
      await cleanup();
    }
  });

  it('through the service: notifyOperator answers STORE_UNAVAILABLE, never RATE_LIMITED', { timeout: 20_000 }, async () => {
    const { store, cleanup } = await unreachableStore();
    const tiergate = service(store);
    try {
      // More calls than the 10/hour notify limit: an outage must never read as "rate limited".
      for (let i = 0; i < 12; i += 1) {
        const err = await tiergate.notifyOperator(account, { issue: `help ${i}` }).catch((e: unknown) => e);
        expect(isTiergateError(err, 'STORE_UNAVAILABLE'), String(err)).toBe(true);
      }
      const approval = await tiergate
        .notifyOperator(account, { type: 'approval_request', action: 'bulk_send', reason: 'r', context: {}, urgency: 'low', expiresIn: 60 })
        .catch((e: unknown) => e);
      expect(isTiergateError(approval, 'STORE_UNAVAILABLE')).toBe(true);
    } finally {
      await tiergate.stop();
      await cleanup();
    }
  });
});

describe.skipIf(redisUrl === undefined)('connection killed mid-run (CLIENT KILL)', () => {
  const prefix = randomPrefix();
  const name = `tg-kill-${uid('')}`;
  let client: Redis;
  let admin: Redis;
  let store: ReturnType<typeof redisStore>;

  beforeAll(() => {
    // Fast reconnects keep the test short; the behaviour is the same with the default backoff.
    client = openClient({ connectionName: name, retryStrategy: () => 100 });
    admin = openClient();
    store = redisStore({ client, keyPrefix: prefix, timeoutMs: 1_000 });
  });
  afterAll(async () => {
    await store.close();
    client.disconnect();
    admin.disconnect();
    await deleteKeys(prefix);
  });

  async function killByName(connectionName: string): Promise<number> {
    const list = String(await admin.client('LIST'));
    const ids = list
      .split('\n')
      .filter((line) => line.includes(` name=${connectionName} `))
      .map((line) => /(?:^|\s)id=(\d+)/.exec(line)?.[1])
      .filter((id): id is string => id !== undefined);
    let killed = 0;
    for (const id of ids) killed += Number(await admin.call('CLIENT', 'KILL', 'ID', id));
    return killed;
  }

  it('fails with STORE_UNAVAILABLE while disconnected, then works again on the same store', { timeout: 30_000 }, async () => {
    await eventually(() => client.status === 'ready', 'client ready');
    const id = Number(await client.client('ID'));
    expect(Number(await admin.call('CLIENT', 'KILL', 'ID', String(id)))).toBe(1);
    await eventually(() => client.status !== 'ready', 'client noticed the kill');
    expect(await outcomeOf(store.getApproval(uid('apr_')))).toBe('STORE_UNAVAILABLE');
    await eventually(() => client.status === 'ready', 'client reconnected');
    expect(await outcomes(store)).toEqual(all('resolved'));
  });

  it('under load with repeated kills, every call either succeeds or fails with STORE_UNAVAILABLE', { timeout: 60_000 }, async () => {
    await eventually(() => client.status === 'ready', 'client ready');
    const seen = new Map<string, number>();
    let running = true;
    // Staggered pauses between calls, so that besides calls caught in flight by a kill, new calls also start while it is down.
    const workers = range(8).map(async (worker) => {
      while (running) {
        for (const [method, call] of Object.entries(everyCall(store))) {
          await new Promise((r) => setTimeout(r, worker));
          const outcome = await outcomeOf(call());
          const label = outcome === 'resolved' || outcome === 'STORE_UNAVAILABLE' ? outcome : `${method}: ${outcome}`;
          seen.set(label, (seen.get(label) ?? 0) + 1);
        }
      }
    });
    let kills = 0;
    for (let round = 0; round < 5; round += 1) {
      await eventually(() => client.status === 'ready' && (seen.get('resolved') ?? 0) > round * 20, 'progress between kills');
      kills += await killByName(name);
      await eventually(() => client.status !== 'ready', 'client noticed the kill');
    }
    running = false;
    await Promise.all(workers);
    expect(kills).toBeGreaterThanOrEqual(5);
    for (const label of seen.keys()) expect(['resolved', 'STORE_UNAVAILABLE']).toContain(label);
    expect(seen.get('resolved')).toBeGreaterThan(0);
    expect(seen.get('STORE_UNAVAILABLE')).toBeGreaterThan(0);
    // And the same store is fine afterwards.
    await eventually(() => client.status === 'ready', 'client reconnected');
    expect(await outcomes(store)).toEqual(all('resolved'));
  });

  it('keeps waking waiters after its pub/sub connection was killed', { timeout: 30_000 }, async () => {
    const create = async () => {
      const approvalId = uid('apr_');
      const notification = notificationRecord({ approvalId });
      await store.createNotification({ notification, approval: approvalRecord(notification), audit: createdEntry(approvalId), outbox: [] });
      return approvalId;
    };
    const subscribers = async () => Number((await admin.pubsub('NUMSUB', `${prefix}approvals`))[1]);
    const first = await create();
    const firstWait = store.waitForApproval(first, 600_000);
    await eventually(async () => (await subscribers()) === 1, 'subscribed');
    expect(await killByName(`${name}:approvals`)).toBe(1);
    // A waiter that was waiting across the reconnect is woken (a decision may have been missed).
    await firstWait;
    await eventually(async () => (await subscribers()) === 1, 're-subscribed');
    const second = await create();
    let woke = false;
    const secondWait = store.waitForApproval(second, 600_000).then(() => {
      woke = true;
    });
    await new Promise((r) => setTimeout(r, 50));
    expect(woke).toBe(false);
    const patch = decision('denied', T0 + 1, 'ops@example.com');
    expect((await store.transitionApproval({ id: second, patch, audit: auditFor(second, patch), outbox: [] })).ok).toBe(true);
    await secondWait;
  });
});

describe.skipIf(redisUrl === undefined)('Redis down for a while, then back', () => {
  it('fails fast while down and recovers without re-creating the store', { timeout: 60_000 }, async () => {
    const proxy = await startRedisProxy();
    const prefix = randomPrefix();
    const client = new Redis({ host: '127.0.0.1', port: proxy.port, maxRetriesPerRequest: 1, retryStrategy: () => 50 });
    client.on('error', () => undefined);
    const store = redisStore({ client, keyPrefix: prefix, timeoutMs: 1_000 });
    const tiergate = service(store);
    try {
      await eventually(() => client.status === 'ready', 'connected through the proxy');
      expect(await outcomes(store)).toEqual(all('resolved'));

      await proxy.down();
      await eventually(() => client.status !== 'ready', 'client noticed the outage');
      expect(await outcomes(store)).toEqual(all('STORE_UNAVAILABLE'));
      expect(await outcomeOf(tiergate.notifyOperator(account, { issue: 'while down' }))).toBe('STORE_UNAVAILABLE');

      await proxy.up();
      await eventually(() => client.status === 'ready', 'reconnected through the proxy');
      expect(await outcomes(store)).toEqual(all('resolved'));
      expect(await outcomeOf(tiergate.notifyOperator(account, { issue: 'back up' }))).toBe('resolved');
    } finally {
      await tiergate.stop();
      await store.close();
      client.disconnect();
      await proxy.down();
      await deleteKeys(prefix);
    }
  });

  it('times out calls to a server that stopped answering, and carries on once it answers again', { timeout: 30_000 }, async () => {
    const proxy = await startRedisProxy();
    const prefix = randomPrefix();
    const client = new Redis({ host: '127.0.0.1', port: proxy.port, maxRetriesPerRequest: 1 });
    client.on('error', () => undefined);
    const store = redisStore({ client, keyPrefix: prefix, timeoutMs: 300 });
    try {
      await eventually(() => client.status === 'ready', 'connected through the proxy');
      proxy.stall();
      // The connection still looks healthy to ioredis; only the store's own timeout ends these calls.
      expect(await outcomes(store)).toEqual(all('STORE_UNAVAILABLE'));
      proxy.resume();
      expect(await outcomes(store)).toEqual(all('resolved'));
    } finally {
      await store.close();
      client.disconnect();
      await proxy.down();
      await deleteKeys(prefix);
    }
  });

  it('a lazily connecting client: the first call connects, waits until the client is ready, and succeeds', { timeout: 20_000 }, async () => {
    const prefix = randomPrefix();
    const client = openClient({ lazyConnect: true });
    const store = redisStore({ client, keyPrefix: prefix, timeoutMs: 5_000 });
    try {
      expect(client.status).toBe('wait');
      const notification = notificationRecord();
      expect(await outcomeOf(store.createNotification({ notification, outbox: [] }))).toBe('resolved');
      expect(client.status).toBe('ready');
      expect(await store.getNotification(notification.id)).toEqual(notification);
    } finally {
      await store.close();
      client.disconnect();
      await deleteKeys(prefix);
    }
  });

  it('a write that timed out while the client was still connecting is never sent once it connects', { timeout: 30_000 }, async () => {
    const proxy = await startRedisProxy();
    const prefix = randomPrefix();
    // The TCP connection opens, but nothing is forwarded: ioredis's ready check gets no answer, the client stays "connect".
    proxy.stall();
    const client = new Redis({ host: '127.0.0.1', port: proxy.port, lazyConnect: true, maxRetriesPerRequest: 1 });
    client.on('error', () => undefined);
    const store = redisStore({ client, keyPrefix: prefix, timeoutMs: 300 });
    try {
      const notification = notificationRecord();
      expect(await outcomeOf(store.createNotification({ notification, outbox: [] }))).toBe('STORE_UNAVAILABLE');
      expect(client.status).toBe('connect');
      proxy.resume();
      await eventually(() => client.status === 'ready', 'ready once the proxy forwards');
      // A later call on the same client runs after anything the timed-out call could still have sent.
      expect(await store.getNotification(notification.id)).toBeNull();
      const reader = openClient();
      try {
        expect(await keysUnder(reader, prefix)).toEqual([]);
      } finally {
        reader.disconnect();
      }
    } finally {
      await store.close();
      client.disconnect();
      await proxy.down();
      await deleteKeys(prefix);
    }
  });

  it('a client that was never connected (closed port) rejects at once and keeps rejecting', { timeout: 20_000 }, async () => {
    const client = new Redis({ host: '127.0.0.1', port: await closedPort(), lazyConnect: true, maxRetriesPerRequest: 1 });
    client.on('error', () => undefined);
    const store = redisStore({ client, timeoutMs: 600_000 });
    try {
      for (let i = 0; i < 3; i += 1) expect(await outcomeOf(store.listAudit(uid('apr_')))).toBe('STORE_UNAVAILABLE');
    } finally {
      await store.close();
      client.disconnect();
    }
  });
});
