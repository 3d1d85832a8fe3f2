/**
 * What only the Redis store has to show: where its keys live and how long
 * they live, that its Lua scripts are atomic across separate connections (as
 * between processes), lease reclaim, index hygiene, pub/sub between
 * instances, and that contexts reach Redis sealed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { apiKeyAuthenticator, createTiergate, type Account, type ClaimedMessage } from '@tiergate/core';
import { redisStore, type RedisStore } from '@tiergate/redis';
import { createFakeClock } from '@tiergate/testing';
import {
  DAY,
  HOUR,
  MINUTE,
  T0,
  approvalRecord,
  auditFor,
  createdEntry,
  decision,
  notificationRecord,
  outboxMessage,
  range,
  uid,
} from './records.js';
import { deleteKeys, keysUnder, openClient, randomPrefix, redisUrl, reportMissingRedis } from './test-redis.js';

reportMissingRedis('redis store');

describe.skipIf(redisUrl === undefined)('redisStore', () => {
  const prefix = randomPrefix();
  // Two stores on two connections with one prefix: two application instances.
  let clientA: Redis;
  let clientB: Redis;
  let admin: Redis;
  let a: RedisStore;
  let b: RedisStore;

  beforeAll(() => {
    clientA = openClient();
    clientB = openClient();
    admin = openClient();
    a = redisStore({ client: clientA, keyPrefix: prefix });
    b = redisStore({ client: clientB, keyPrefix: prefix });
  });
  afterAll(async () => {
    await a.close();
    await b.close();
    clientA.disconnect();
    clientB.disconnect();
    await deleteKeys(prefix);
    admin.disconnect();
  });

  async function seedApproval(overrides: Parameters<typeof approvalRecord>[1] = {}) {
    const approvalId = uid('apr_');
    const notification = notificationRecord({ approvalId });
    const approval = approvalRecord(notification, overrides);
    await a.createNotification({ notification, approval, audit: createdEntry(approvalId), outbox: [] });
    return { notification, approval };
  }

  it('has kind "redis" and the default prefix "tiergate:"', () => {
    expect(a.kind).toBe('redis');
    expect(redisStore({ client: clientA }).keyPrefix).toBe('tiergate:');
  });

  describe('key layout and TTLs', () => {
    it('keeps every key under the prefix and sets a TTL of purgeAt − write time on every record', async () => {
      const approvalId = uid('apr_');
      const notification = notificationRecord({ approvalId, purgeAt: T0 + 37 * DAY });
      const approval = approvalRecord(notification, { purgeAt: T0 + 40 * DAY });
      const message = outboxMessage(notification.id, { topic: 'notifier', type: 'operator.notification', purgeAt: T0 + 30 * DAY });
      await a.createNotification({ notification, approval, audit: createdEntry(approvalId), outbox: [message] });
      const patch = decision('approved', T0 + MINUTE, 'ops@example.com');
      const callback = outboxMessage(approvalId, { createdAt: T0 + MINUTE, purgeAt: T0 + MINUTE + 30 * DAY });
      expect((await a.transitionApproval({ id: approvalId, patch, audit: auditFor(approvalId, patch), outbox: [callback] })).ok).toBe(true);

      const expected: Record<string, number> = {
        [`${prefix}n:${notification.id}`]: 37 * DAY,
        [`${prefix}a:${approvalId}`]: 40 * DAY,
        [`${prefix}au:${approvalId}`]: 40 * DAY,
        [`${prefix}o:${message.id}`]: 30 * DAY,
        [`${prefix}os:${notification.id}`]: 30 * DAY,
        // Written a minute later, so measured from the transition's time.
        [`${prefix}o:${callback.id}`]: 30 * DAY,
        [`${prefix}os:${approvalId}`]: 30 * DAY,
      };
      for (const [key, ttl] of Object.entries(expected)) {
        const pttl = await admin.pttl(key);
        expect(pttl, key).toBeGreaterThan(ttl - MINUTE);
        expect(pttl, key).toBeLessThanOrEqual(ttl);
      }
      const stored = await keysUnder(admin, prefix);
      for (const key of Object.keys(expected)) expect(stored).toContain(key);
      expect(stored).toEqual(expect.arrayContaining([`${prefix}idx:purge`, `${prefix}idx:due`]));
    });

    it('expires a quota counter at its window end, or keeps it for the fallback when that end is already past on Redis’s clock', async () => {
      const accountId = uid('acc_');
      const dayEnd = Date.now() + 6 * HOUR;
      await a.consumeQuota({
        accountId,
        action: 'send_messages',
        amount: 1,
        windows: [
          { key: 'd-future', limit: 10, expiresAt: dayEnd },
          { key: 'm-past', limit: 10, expiresAt: T0 - DAY },
        ],
      });
      const future = await admin.pttl(`${prefix}c:${accountId}:send_messages:d-future`);
      expect(future).toBeGreaterThan(5 * HOUR);
      expect(future).toBeLessThanOrEqual(6 * HOUR);
      const past = await admin.pttl(`${prefix}c:${accountId}:send_messages:m-past`);
      expect(past).toBeGreaterThan(31 * DAY);
      // Usage still reads back: the service's clock may well be behind Redis's.
      expect((await a.readAccountState(accountId, ['send_messages'], ['d-future', 'm-past'])).usage).toEqual({ send_messages: [1, 1] });
    });

    it('keeps records written on a fake clock far behind the real one (TTLs are relative to the write)', async () => {
      const notification = notificationRecord({ createdAt: T0 - 400 * DAY, expiresAt: T0 - 393 * DAY, purgeAt: T0 - 363 * DAY });
      await a.createNotification({ notification, outbox: [] });
      expect(await a.getNotification(notification.id)).toEqual(notification);
      expect(await admin.pttl(`${prefix}n:${notification.id}`)).toBeGreaterThan(36 * DAY);
    });

    it('encodes counter key parts, so ids containing ":" cannot collide', async () => {
      await a.consumeQuota({ accountId: 'acc:x', action: 'y', amount: 1, windows: [{ key: 'd', limit: 5, expiresAt: Date.now() + HOUR }] });
      expect((await a.readAccountState('acc', ['x:y'], ['d', 'm'])).usage).toEqual({ 'x:y': [0, 0] });
      expect((await a.readAccountState('acc:x', ['y'], ['d', 'm'])).usage).toEqual({ y: [1, 0] });
    });

    it('puts rate-limiter buckets under the prefix, with a TTL', async () => {
      const limiter = a.rateLimiter({ keyPrefix: 'tiergate:notify', points: 3, durationSeconds: 60 });
      expect(await limiter.consume('acc_rl')).toMatchObject({ allowed: true, remaining: 2 });
      const ttl = await admin.pttl(`${prefix}rl:tiergate:notify:acc_rl`);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(60_000);
    });
  });

  describe('Lua atomicity across connections', () => {
    it('64 concurrent transitions from two instances: exactly one winner, one audit entry, one message', async () => {
      const { approval } = await seedApproval({ expiresAt: T0 + 10 * DAY });
      const attempts = range(64).map((i) => {
        const patch = decision(i % 2 === 0 ? 'approved' : 'denied', T0 + i + 1, `op${i}@example.com`);
        return { patch, audit: auditFor(approval.id, patch), message: outboxMessage(approval.id, { createdAt: T0 + i + 1 }) };
      });
      const results = await Promise.all(
        attempts.map((x, i) => (i % 2 === 0 ? a : b).transitionApproval({ id: approval.id, patch: x.patch, audit: x.audit, outbox: [x.message] })),
      );
      const winners = results.flatMap((r, i) => (r.ok ? [i] : []));
      expect(winners).toHaveLength(1);
      const winner = attempts[winners[0] as number] as (typeof attempts)[number];
      expect(await b.getApproval(approval.id)).toEqual({ ...approval, ...winner.patch });
      expect(await b.listAudit(approval.id)).toEqual([createdEntry(approval.id), winner.audit]);
      expect(await b.listOutbox(approval.id)).toEqual([winner.message]);
    });

    it('50 concurrent consumes from two instances never overshoot (limit 10 → exactly 10)', async () => {
      const accountId = uid('acc_');
      const windows = [
        { key: 'd1', limit: 10, expiresAt: Date.now() + DAY },
        { key: 'm1', limit: 12, expiresAt: Date.now() + 30 * DAY },
      ];
      const results = await Promise.all(range(50).map((i) => (i % 2 === 0 ? a : b).consumeQuota({ accountId, action: 'send_messages', amount: 1, windows })));
      expect(results.filter((r) => r.ok)).toHaveLength(10);
      expect((await a.readAccountState(accountId, ['send_messages'], ['d1', 'm1'])).usage).toEqual({ send_messages: [10, 10] });
    });

    it('treats unlimited (Infinity) windows as having no limit', async () => {
      const accountId = uid('acc_');
      const result = await a.consumeQuota({
        accountId,
        action: 'send_messages',
        amount: 1_000_000,
        windows: [
          { key: 'd', limit: Infinity, expiresAt: Date.now() + DAY },
          { key: 'm', limit: Infinity, expiresAt: Date.now() + DAY },
        ],
      });
      expect(result).toEqual({ ok: true, used: [1_000_000, 1_000_000] });
    });

    it('two instances claiming at once never share a message', async () => {
      const base = T0 - 500 * DAY;
      const notification = notificationRecord({ createdAt: base });
      const messages = range(30).map((i) => outboxMessage(notification.id, { nextAttemptAt: base + i, createdAt: base + i }));
      await a.createNotification({ notification, outbox: messages });
      const batches = await Promise.all(range(10).map((i) => (i % 2 === 0 ? a : b).claimOutbox(base + HOUR, 4, MINUTE)));
      const ids = batches.flat().map((m) => m.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids.sort()).toEqual(messages.map((m) => m.id).sort());
    });
  });

  describe('outbox leases', () => {
    it('a crashed instance’s message is claimable by another once the lease ends, and the old lease can no longer settle', async () => {
      const base = T0 - 600 * DAY;
      const notification = notificationRecord({ createdAt: base });
      const message = outboxMessage(notification.id, { nextAttemptAt: base, createdAt: base });
      await a.createNotification({ notification, outbox: [message] });

      const [held] = (await a.claimOutbox(base, 10, 5 * MINUTE)) as ClaimedMessage[];
      expect(held?.id).toBe(message.id);
      // Instance A "crashes" without settling. Within the lease nobody gets it.
      expect(await b.claimOutbox(base + 5 * MINUTE - 1, 10, 5 * MINUTE)).toEqual([]);
      const [reclaimed] = (await b.claimOutbox(base + 5 * MINUTE, 10, 5 * MINUTE)) as ClaimedMessage[];
      expect(reclaimed?.id).toBe(message.id);
      expect(reclaimed?.lease).not.toBe(held?.lease);

      expect(await a.settleOutbox(message.id, (held as ClaimedMessage).lease, { state: 'delivered', attempts: 1 })).toBe(false);
      expect(await b.settleOutbox(message.id, (reclaimed as ClaimedMessage).lease, { state: 'delivered', attempts: 1 })).toBe(true);
      expect(await admin.zscore(`${prefix}idx:due`, message.id)).toBeNull();
    });
  });

  describe('index hygiene', () => {
    it('drops index entries whose records Redis already expired, and counts them in purge()', async () => {
      const base = T0 - 700 * DAY;
      const approvalId = uid('apr_');
      const notification = notificationRecord({ approvalId, createdAt: base, expiresAt: base + HOUR, purgeAt: base + 2 * HOUR });
      const approval = approvalRecord(notification, { expiresAt: base + HOUR, purgeAt: base + 2 * HOUR });
      const message = outboxMessage(notification.id, { nextAttemptAt: base, purgeAt: base + 2 * HOUR });
      await a.createNotification({ notification, approval, audit: createdEntry(approvalId, base), outbox: [message] });
      // As if the TTLs had run out: the records vanish, their index entries stay behind.
      await admin.del(`${prefix}n:${notification.id}`, `${prefix}a:${approvalId}`, `${prefix}o:${message.id}`);

      expect(await a.dueApprovals(base + HOUR, 10)).toEqual([]);
      expect(await admin.zscore(`${prefix}idx:pending`, approvalId)).toBeNull();
      expect(await a.claimOutbox(base, 10, MINUTE)).toEqual([]);
      expect(await admin.zscore(`${prefix}idx:due`, message.id)).toBeNull();
      expect(await a.listOutbox(notification.id)).toEqual([]);

      expect(await a.purge(base + 2 * HOUR, 100)).toBe(3);
      for (const member of [`n:${notification.id}`, `a:${approvalId}`, `o:${message.id}`]) expect(await admin.zscore(`${prefix}idx:purge`, member)).toBeNull();
      expect(await admin.exists(`${prefix}au:${approvalId}`)).toBe(0);
    });

    it('purge() deletes a counter at its window end on the service’s clock', async () => {
      const accountId = uid('acc_');
      const end = T0 - 800 * DAY;
      await a.consumeQuota({ accountId, action: 'send_messages', amount: 2, windows: [{ key: 'd-old', limit: 5, expiresAt: end }] });
      await a.purge(end - 1, 100);
      expect((await a.readAccountState(accountId, ['send_messages'], ['d-old', 'm'])).usage).toEqual({ send_messages: [2, 0] });
      await a.purge(end, 100);
      expect((await a.readAccountState(accountId, ['send_messages'], ['d-old', 'm'])).usage).toEqual({ send_messages: [0, 0] });
    });
  });

  describe('resent writes (ioredis resends a command whose reply was lost)', () => {
    it('treats the very same createNotification again as done, writing nothing twice', async () => {
      const approvalId = uid('apr_');
      const notification = notificationRecord({ approvalId });
      const input = { notification, approval: approvalRecord(notification), audit: createdEntry(approvalId), outbox: [outboxMessage(notification.id)] };
      await a.createNotification(input);
      await expect(a.createNotification(input)).resolves.toBeUndefined();
      expect(await a.listOutbox(notification.id)).toHaveLength(1);
      expect(await a.listAudit(approvalId)).toHaveLength(1);
    });

    it('reports a resent transition as its own success, without a second audit entry', async () => {
      const { approval } = await seedApproval();
      const patch = decision('approved', T0 + 5, 'ops@example.com');
      const input = { id: approval.id, patch, audit: auditFor(approval.id, patch), outbox: [outboxMessage(approval.id)] };
      // What a resend looks like to Redis: the same EVALSHA with the same arguments, run twice; the caller sees the second reply.
      const resending = openClient();
      const evalsha = resending.evalsha.bind(resending) as (...args: unknown[]) => Promise<unknown>;
      (resending as unknown as { evalsha: (...args: unknown[]) => Promise<unknown> }).evalsha = async (...args) => {
        await evalsha(...args);
        return evalsha(...args);
      };
      const c = redisStore({ client: resending, keyPrefix: prefix });
      try {
        const outcome = await c.transitionApproval(input);
        expect(outcome.ok).toBe(true);
        expect(outcome.approval).toMatchObject({ status: 'approved', decidedBy: 'ops@example.com' });
      } finally {
        await c.close();
        resending.disconnect();
      }
      expect(await a.listAudit(approval.id)).toHaveLength(2);
      expect(await a.listOutbox(approval.id)).toHaveLength(1);
      // Another call is refused — a different decision, and the very same values sent again (two clicks in one millisecond).
      const other = decision('denied', T0 + 5, 'ops@example.com');
      expect((await a.transitionApproval({ id: approval.id, patch: other, audit: auditFor(approval.id, other), outbox: [] })).ok).toBe(false);
      expect((await a.transitionApproval(input)).ok).toBe(false);
      expect((await b.transitionApproval(input)).ok).toBe(false);
      expect(await a.listAudit(approval.id)).toHaveLength(2);
    });
  });

  describe('scripts and error replies', () => {
    it('loads its scripts again after Redis lost them (SCRIPT FLUSH, restart, failover)', async () => {
      await admin.script('FLUSH');
      const { approval } = await seedApproval();
      expect(await b.getApproval(approval.id)).toEqual(approval);
      expect(await b.listAudit(approval.id)).toEqual([createdEntry(approval.id)]);
    });

    it('reports a key clash under its prefix as INTERNAL_ERROR, not as an outage', async () => {
      const id = uid('apr_');
      await admin.set(`${prefix}a:${id}`, 'not a hash');
      const patch = decision('approved', T0, 'ops@example.com');
      await expect(a.getApproval(id)).rejects.toMatchObject({ code: 'INTERNAL_ERROR' });
      await expect(a.transitionApproval({ id, patch, audit: auditFor(id, patch), outbox: [] })).rejects.toMatchObject({ code: 'INTERNAL_ERROR' });
    });
  });

  describe('waitForApproval across instances', () => {
    it('wakes a waiter on one instance when another instance decides', { timeout: 20_000 }, async () => {
      const { approval } = await seedApproval();
      let woke = false;
      const waiting = a.waitForApproval(approval.id, 600_000).then(() => {
        woke = true;
      });
      // Let the subscription settle: poll until the channel has a subscriber (bounded).
      for (let i = 0; i < 200 && Number((await admin.pubsub('NUMSUB', `${prefix}approvals`))[1]) === 0; i += 1) await new Promise((r) => setTimeout(r, 10));
      expect(woke).toBe(false);
      const patch = decision('approved', T0 + 1, 'ops@example.com');
      expect((await b.transitionApproval({ id: approval.id, patch, audit: auditFor(approval.id, patch), outbox: [] })).ok).toBe(true);
      await waiting;
      expect(woke).toBe(true);
    });

    it('opens its pub/sub connection lazily and closes it on close()', async () => {
      const client = openClient({ connectionName: `tg-lazy-${uid('')}` });
      const store = redisStore({ client, keyPrefix: prefix });
      const subscriberName = `${client.options.connectionName}:approvals`;
      const named = async () => String(await admin.client('LIST')).includes(`name=${subscriberName} `);
      await store.getApproval(uid('apr_'));
      expect(await named()).toBe(false);
      const { approval } = await seedApproval();
      const waiting = store.waitForApproval(approval.id, 600_000);
      for (let i = 0; i < 200 && !(await named()); i += 1) await new Promise((r) => setTimeout(r, 10));
      expect(await named()).toBe(true);
      await store.close();
      await waiting; // close() resolves pending waits
      for (let i = 0; i < 200 && (await named()); i += 1) await new Promise((r) => setTimeout(r, 10));
      expect(await named()).toBe(false);
      client.disconnect();
    });
  });

  describe('a host client with its own ioredis keyPrefix', () => {
    it('works end to end, every key under client prefix + store prefix', async () => {
      const clientPrefix = randomPrefix();
      const client = openClient({ keyPrefix: clientPrefix });
      const store = redisStore({ client, keyPrefix: 'tg:' });
      try {
        const base = T0 - 900 * DAY;
        const approvalId = uid('apr_');
        const notification = notificationRecord({ approvalId, createdAt: base, purgeAt: base + 2 * HOUR });
        const approval = approvalRecord(notification, { expiresAt: base + HOUR, purgeAt: base + 2 * HOUR });
        const message = outboxMessage(notification.id, { nextAttemptAt: base, purgeAt: base + 2 * HOUR });
        await store.createNotification({ notification, approval, audit: createdEntry(approvalId, base), outbox: [message] });
        expect(await store.dueApprovals(base + HOUR, 10)).toEqual([approval]);
        const [claimed] = await store.claimOutbox(base, 10, MINUTE);
        expect(claimed?.id).toBe(message.id);
        expect(await store.listOutbox(notification.id)).toEqual([message]);
        expect(await store.settleOutbox(message.id, (claimed as ClaimedMessage).lease, { state: 'delivered', attempts: 1 })).toBe(true);
        const patch = decision('expired', base + HOUR, null);
        expect((await store.transitionApproval({ id: approvalId, patch, audit: auditFor(approvalId, patch), outbox: [] })).ok).toBe(true);
        expect(await store.purge(base + 2 * HOUR, 100)).toBe(3);
        expect(await store.getNotification(notification.id)).toBeNull();
        const left = await keysUnder(admin, clientPrefix);
        expect(left.every((key) => key.startsWith(`${clientPrefix}tg:`))).toBe(true);
        expect(left).not.toContain(`${clientPrefix}tg:o:${message.id}`);
      } finally {
        await store.close();
        client.disconnect();
        await deleteKeys(clientPrefix);
      }
    });
  });

  describe('through the service', () => {
    it('stores the context sealed: no plaintext anywhere under the prefix', async () => {
      const marker = `plaintext-marker-${uid('')}`;
      const account: Account = { id: uid('acc_'), tier: 'free', webhookSecret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', operatorEmail: 'ops@example.com' };
      const tiergate = createTiergate({
        authenticate: apiKeyAuthenticator([{ apiKey: 'key_redis_test', account }]),
        secret: 'x'.repeat(32),
        publicUrl: 'https://api.example.com',
        clock: createFakeClock(),
        store: a,
      });
      try {
        const result = await tiergate.notifyOperator(account, {
          type: 'approval_request',
          action: 'bulk_send',
          reason: 'Sending to 500 recipients exceeds safety threshold',
          context: { recipient: `${marker}@example.com`, note: marker },
          urgency: 'high',
          expiresIn: 3600,
        });
        const notification = await a.getNotification(result.notification_id);
        expect(notification?.sealedContext).toEqual(expect.any(String));
        for (const key of await keysUnder(admin, prefix)) {
          const type = await admin.type(key);
          const values =
            type === 'string'
              ? [await admin.get(key)]
              : type === 'hash'
                ? await admin.hvals(key)
                : type === 'list'
                  ? await admin.lrange(key, 0, -1)
                  : type === 'zset'
                    ? await admin.zrange(key, '0', '-1')
                    : [];
          for (const value of values) expect(value ?? '', key).not.toContain(marker);
        }
      } finally {
        await tiergate.stop();
      }
    });
  });
});
