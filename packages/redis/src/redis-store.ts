/**
 * `redisStore()`: the tiergate `Store` on the host's own Redis, over the
 * host's ioredis client. Every instance of the application points at the same
 * Redis; the guarantees of the `Store` port hold across all of them:
 *
 * - every state change is one Lua script, which Redis runs atomically:
 *   `createNotification` (checks that no id exists, then writes notification,
 *   approval, audit entry and outbox messages), `transitionApproval`
 *   (compare-and-set from `pending` + audit + outbox + publish),
 *   `consumeQuota` (checks every window, then increments all or none),
 *   `recordDelivery`, `claimOutbox` (pops due ids and leases them) and
 *   `settleOutbox` (checks the lease token);
 * - deadlines are sorted sets read with `ZRANGEBYSCORE … LIMIT`, so the sweep
 *   and the outbox claim cost the same however many records are stored;
 * - every record has a TTL (see `ttlFor`), and `purge()` deletes records and
 *   index entries at `purgeAt` on the service's clock;
 * - times are the service's epoch milliseconds; Redis's clock is read only to
 *   expire quota counters and by the rate limiter.
 *
 * **Failures.** With Redis unreachable every method rejects quickly with
 * `STORE_UNAVAILABLE` (see `commandGuard`), including the rate limiter, which
 * has no in-memory insurance limiter on purpose: tiergate fails closed. The
 * same store recovers by itself once the client reconnects.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import {
  TiergateError,
  checkTransitionBatch,
  rateLimiterFrom,
  type ApprovalRecord,
  type ApprovalTransitionInput,
  type AuditEntry,
  type NotificationRecord,
  type RateLimiter,
  type RateLimiterOptions,
  type Store,
  type TransitionResult,
} from '@tiergate/core';
import { approvalWaiter } from './approval-waiter.js';
import { commandGuard } from './command-guard.js';
import {
  claimOutboxScript,
  consumeQuotaScript,
  createNotificationScript,
  dueApprovalsScript,
  listOutboxScript,
  purgeScript,
  readAccountStateScript,
  recordDeliveryScript,
  refundQuotaScript,
  settleOutboxScript,
  transitionApprovalScript,
} from './lua-scripts.js';
import { decodeApproval, decodeClaimedRow, decodeHealth, decodeOutboxRow, num, outboxArgs, ttlFor } from './record-codec.js';
import { redisKeys } from './redis-keys.js';

/** Options of {@link redisStore}. */
export interface RedisStoreOptions {
  /**
   * The host's ioredis client (standalone or Sentinel). The store never
   * closes it. Recommended options (see the README): `maxRetriesPerRequest: 1`
   * and a `retryStrategy` that never gives up, so the client — and with it the
   * store — recovers by itself after an outage; `socketTimeout` to drop a
   * connection that stopped answering.
   */
  readonly client: Redis;
  /** Prefix of every key, the rate limiter's and the pub/sub channel's (default `tiergate:`). Put a hash tag in it for Redis Cluster (`{tiergate}:`). */
  readonly keyPrefix?: string;
  /** Upper bound of every call, waiting for the connection included, ms (default 2 000). Past it the call rejects with `STORE_UNAVAILABLE`. */
  readonly timeoutMs?: number;
  /** Poll interval of `waitForApproval` while its pub/sub subscription is not confirmed, ms (default 1 000). */
  readonly pollIntervalMs?: number;
}

/** A Redis-backed {@link Store}, plus `close()`. */
export interface RedisStore extends Store {
  /** Always `redis`. */
  readonly kind: 'redis';
  /** The key prefix in use. */
  readonly keyPrefix: string;
  /** The batch compare-and-set: one Lua script per element, sent in one round trip (see `Store.transitionApprovals`). */
  transitionApprovals(inputs: readonly ApprovalTransitionInput[]): Promise<readonly TransitionResult[]>;
  /** Closes what the store opened itself (the pub/sub connection) and resolves pending waits. The host's client stays open. */
  close(): Promise<void>;
}

/** How long a quota counter whose window end is already past on Redis's clock is kept (a month and a day), ms. */
const COUNTER_FALLBACK_TTL_MS = 32 * 86_400_000;

/**
 * Creates a Redis store over the host's ioredis client. Needs Redis 6.0 or
 * newer (Lua scripting, `KEEPTTL`).
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { redisStore } from '@tiergate/redis';
 *
 * const redis = new Redis(process.env.REDIS_URL!, { maxRetriesPerRequest: 1 });
 * const store = redisStore({ client: redis, keyPrefix: 'myapp:tiergate:' });
 * const tiergate = createTiergate({ store, ... });
 * ```
 */
export function redisStore(options: RedisStoreOptions): RedisStore {
  const { client } = options;
  const keyPrefix = options.keyPrefix ?? 'tiergate:';
  const timeoutMs = options.timeoutMs ?? 2_000;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new TiergateError('CONFIG_INVALID', 'redisStore: timeoutMs must be a positive number');
  const clientPrefix = typeof client.options.keyPrefix === 'string' ? client.options.keyPrefix : '';
  const keys = redisKeys(keyPrefix, clientPrefix);
  const guard = commandGuard(client, timeoutMs);

  const waiter = approvalWaiter({
    client,
    channel: keys.channel,
    pollMs: options.pollIntervalMs ?? 1_000,
    subscribeWaitMs: timeoutMs,
    isSettled: async (id) => (await guard.run(() => client.hget(keys.approval(id), 'status'))) !== 'pending',
  });

  function duplicateId(kind: string): TiergateError {
    return new TiergateError('INTERNAL_ERROR', `redisStore: duplicate ${kind} id`);
  }

  /** One compare-and-set from pending: a Lua script, atomic on the server. */
  async function transition({ id, patch, audit, outbox }: ApprovalTransitionInput): Promise<TransitionResult> {
    const scriptKeys = [keys.pendingIndex, keys.purgeIndex, keys.dueIndex, keys.approval(id), keys.audit(id)];
    for (const m of outbox) scriptKeys.push(keys.outbox(m.id), keys.outboxBySubject(m.subjectId));
    // The nonce tells a resend of this call (same arguments) from another call with equal values.
    const nonce = randomBytes(12).toString('base64url');
    const args = [id, JSON.stringify(patch), patch.status, JSON.stringify(audit), keys.channel, String(outbox.length), ...outbox.flatMap((m) => outboxArgs(m, audit.at)), nonce];
    const reply = (await guard.script(transitionApprovalScript, scriptKeys, args)) as [number, string, string] | [];
    if (reply.length === 0) return { ok: false, approval: null };
    const [ok, base, stored] = reply;
    const approval = decodeApproval(base, stored) as ApprovalRecord;
    return ok === 1 ? { ok: true, approval } : { ok: false, approval };
  }

  const store = {
    kind: 'redis' as const,
    keyPrefix,

    async createNotification({ notification, approval, audit, outbox }) {
      const ids = new Set(outbox.map((m) => m.id));
      if (ids.size !== outbox.length) throw duplicateId('outbox');
      const at = notification.createdAt;
      const scriptKeys = [keys.pendingIndex, keys.purgeIndex, keys.dueIndex, keys.notification(notification.id)];
      if (approval !== undefined) scriptKeys.push(keys.approval(approval.id), keys.audit(approval.id));
      for (const m of outbox) scriptKeys.push(keys.outbox(m.id), keys.outboxBySubject(m.subjectId));
      const args: string[] = [
        approval === undefined ? '0' : '1',
        notification.id,
        JSON.stringify(notification),
        num(notification.purgeAt),
        ttlFor(notification.purgeAt, at),
        approval?.id ?? '',
        approval === undefined ? '' : JSON.stringify(approval),
        approval?.status ?? '',
        approval === undefined ? '' : num(approval.expiresAt),
        approval === undefined ? '' : num(approval.purgeAt),
        approval === undefined ? '' : ttlFor(approval.purgeAt, at),
        approval === undefined || audit === undefined ? '' : JSON.stringify(audit),
        String(outbox.length),
        ...outbox.flatMap((m) => outboxArgs(m, at)),
      ];
      const [ok, kind] = (await guard.script(createNotificationScript, scriptKeys, args)) as [number, string];
      if (ok !== 1) throw duplicateId(kind);
    },

    async getNotification(id) {
      const json = await guard.run(() => client.get(keys.notification(id)));
      return json === null ? null : (JSON.parse(json) as NotificationRecord);
    },

    async getApproval(id) {
      const [base, patch] = await guard.run(() => client.hmget(keys.approval(id), 'base', 'patch'));
      return decodeApproval(base, patch);
    },

    transitionApproval: (input) => transition(input),

    async transitionApprovals(inputs) {
      checkTransitionBatch(inputs, 'redis');
      // Each element is its own script (atomic on its own); sent together, ioredis writes them
      // back to back on the one connection, so the batch costs one round trip.
      return Promise.all(inputs.map(transition));
    },

    async dueApprovals(now, limit) {
      if (limit <= 0) return [];
      const rows = (await guard.script(dueApprovalsScript, [keys.pendingIndex], [keys.scriptBase, num(now), num(limit)])) as string[];
      return rows.map((base) => decodeApproval(base, null) as ApprovalRecord);
    },

    async listAudit(approvalId) {
      const entries = await guard.run(() => client.lrange(keys.audit(approvalId), 0, -1));
      return entries.map((json) => JSON.parse(json) as AuditEntry);
    },

    async claimOutbox(now, limit, leaseMs) {
      if (limit <= 0) return [];
      // At least 1 ms, so a claimed message is never due again within the same claim.
      const leaseUntil = now + Math.max(1, leaseMs);
      const token = randomBytes(12).toString('base64url');
      const rows = (await guard.script(claimOutboxScript, [keys.dueIndex], [keys.scriptBase, num(now), num(limit), num(leaseUntil), token])) as unknown[];
      return rows.map(decodeClaimedRow);
    },

    async settleOutbox(id, lease, settlement) {
      const nextAttemptAt = settlement.state === 'pending' ? num(settlement.nextAttemptAt) : '';
      const lastError = settlement.state === 'delivered' ? null : settlement.lastError;
      const settled = await guard.script(
        settleOutboxScript,
        [keys.dueIndex, keys.outbox(id)],
        [id, lease, settlement.state, num(settlement.attempts), nextAttemptAt, JSON.stringify(lastError)],
      );
      return settled === 1;
    },

    async listOutbox(subjectId) {
      const rows = (await guard.script(listOutboxScript, [keys.outboxBySubject(subjectId)], [keys.scriptBase])) as unknown[];
      return rows.map(decodeOutboxRow);
    },

    async consumeQuota({ accountId, action, amount, windows }) {
      const scriptKeys = [keys.purgeIndex, ...windows.map((w) => keys.counter(accountId, action, w.key))];
      const args = [
        num(amount),
        String(windows.length),
        ...windows.flatMap((w) => [Number.isFinite(w.limit) ? num(w.limit) : 'inf', num(w.expiresAt), `c:${keys.counterSuffix(accountId, action, w.key)}`]),
        String(COUNTER_FALLBACK_TTL_MS),
      ];
      const [ok, exceeded, ...used] = (await guard.script(consumeQuotaScript, scriptKeys, args)) as number[];
      const counts = used.map(Number);
      return ok === 1 ? { ok: true, used: counts } : { ok: false, used: counts, exceeded: Number(exceeded) };
    },

    async refundQuota({ accountId, action, amount, windowKeys }) {
      if (windowKeys.length === 0) return;
      await guard.script(
        refundQuotaScript,
        windowKeys.map((w) => keys.counter(accountId, action, w)),
        [num(amount)],
      );
    },

    async readAccountState(accountId, actions, [dayKey, monthKey]) {
      const scriptKeys = [keys.health(accountId), ...actions.flatMap((a) => [keys.counter(accountId, a, dayKey), keys.counter(accountId, a, monthKey)])];
      const [healthy, failures, urls, ...counts] = (await guard.script(readAccountStateScript, scriptKeys, [])) as unknown[];
      const usage: Record<string, readonly [number, number]> = {};
      actions.forEach((action, i) => {
        usage[action] = [Number(counts[2 * i]), Number(counts[2 * i + 1])];
      });
      return { usage, health: decodeHealth(healthy, failures, urls) };
    },

    async recordDelivery(accountId, outcome, url, threshold) {
      const [healthy, failures, urls] = (await guard.script(recordDeliveryScript, [keys.health(accountId)], [outcome, url, num(threshold)])) as unknown[];
      return decodeHealth(healthy, failures, urls);
    },

    /**
     * A `RateLimiterRedis` on the same client, its keys under this store's
     * prefix. **Fails closed:** no insurance limiter — with Redis down,
     * `consume` rejects with `STORE_UNAVAILABLE` (503), never answers
     * "allowed" (a per-process fallback would multiply the limit by the number
     * of instances) nor "rate limited" (429 would misreport an outage).
     */
    rateLimiter({ keyPrefix: limiterPrefix, points, durationSeconds }: RateLimiterOptions): RateLimiter {
      const limiter = rateLimiterFrom(
        new RateLimiterRedis({
          storeClient: client,
          keyPrefix: keys.rateLimiter(limiterPrefix),
          points,
          duration: durationSeconds,
          // Belt and braces with the guard: never let a consume sit in ioredis's offline queue.
          rejectIfRedisNotReady: true,
        }),
        points,
      );
      return {
        consume: (key, amount) => guard.run(() => limiter.consume(key, amount)),
        refund: (key, amount) => guard.run(() => limiter.refund(key, amount)),
      };
    },

    waitForApproval(id, timeoutMs, signal) {
      return waiter.wait(id, timeoutMs, signal);
    },

    async purge(now, limit) {
      if (limit <= 0) return 0;
      // Four kinds share one index (notifications, approvals, outbox messages, counters): up to `limit` of each.
      const removed = await guard.script(purgeScript, [keys.purgeIndex, keys.pendingIndex, keys.dueIndex], [keys.scriptBase, num(now), num(limit * 4)]);
      return Number(removed);
    },

    close() {
      return waiter.close();
    },
  } satisfies RedisStore;

  return store;
}
