/**
 * The key layout of `redisStore()`. Every key starts with the store's
 * `keyPrefix`; the suffixes are:
 *
 * | key | type | holds |
 * |---|---|---|
 * | `n:<id>` | string | a notification, as JSON |
 * | `a:<id>` | hash | an approval: `base` (JSON as created), `status`, `patch` (JSON of the decision) |
 * | `au:<approvalId>` | list | the approval's audit entries (JSON), oldest first |
 * | `o:<id>` | hash | an outbox message: `base` (JSON as created), `subject`, `state`, `attempts`, `nextAttemptAt`, `lastError` (JSON), `lease`, `leaseUntil` |
 * | `os:<subjectId>` | list | ids of the subject's outbox messages, oldest first |
 * | `c:<account>:<action>:<window>` | string | a quota counter (components URI-encoded) |
 * | `h:<accountId>` | hash | webhook-endpoint health: `healthy`, `failures`, `urls` (JSON) |
 * | `idx:pending` | sorted set | pending approval ids by `expiresAt` |
 * | `idx:due` | sorted set | pending outbox ids by the time they may be claimed (`max(nextAttemptAt, leaseUntil)`) |
 * | `idx:purge` | sorted set | `n:`/`a:`/`o:`/`c:` members by `purgeAt` (counters: window end) |
 * | `rl:<limiter prefix>:<key>` | string | `rate-limiter-flexible` buckets |
 * | `approvals` | pub/sub channel | ids of approvals that left `pending` |
 *
 * The scripts touch several of these keys at once, so on Redis Cluster they
 * must share a slot: put a hash tag in the prefix (`keyPrefix: '{tiergate}:'`).
 */

/** The store's keys, relative to what the ioredis client sends (the client adds its own `keyPrefix`). */
export interface RedisKeys {
  /** The store's own prefix. */
  readonly prefix: string;
  /** The full prefix as Redis sees it (client `keyPrefix` + store prefix): scripts build keys they find in indexes from it. */
  readonly scriptBase: string;
  /** The pub/sub channel of approval decisions (channels are not prefixed by ioredis, so this is the full name). */
  readonly channel: string;
  /** Sorted set: pending approvals by deadline. */
  readonly pendingIndex: string;
  /** Sorted set: pending outbox messages by the time they may be claimed. */
  readonly dueIndex: string;
  /** Sorted set: records and counters by the time they may be deleted. */
  readonly purgeIndex: string;
  /** String: a notification's JSON. */
  notification(id: string): string;
  /** Hash: an approval. */
  approval(id: string): string;
  /** List: an approval's audit entries. */
  audit(approvalId: string): string;
  /** Hash: an outbox message. */
  outbox(id: string): string;
  /** List: the outbox ids of one subject. */
  outboxBySubject(subjectId: string): string;
  /** Suffix of a counter key after `c:` (also its member in the purge index). */
  counterSuffix(accountId: string, action: string, windowKey: string): string;
  /** String: one quota counter. */
  counter(accountId: string, action: string, windowKey: string): string;
  /** Hash: an account's webhook-endpoint health. */
  health(accountId: string): string;
  /** Key prefix handed to `RateLimiterRedis` for one limiter. */
  rateLimiter(limiterPrefix: string): string;
}

/** Builds the key layout for a store prefix on a client whose own `keyPrefix` is `clientPrefix`. */
export function redisKeys(prefix: string, clientPrefix: string): RedisKeys {
  const k = (suffix: string): string => `${prefix}${suffix}`;
  // URI-encoding keeps the three parts apart even if an account id or action contains ':'.
  const counterSuffix = (accountId: string, action: string, windowKey: string): string =>
    `${encodeURIComponent(accountId)}:${encodeURIComponent(action)}:${encodeURIComponent(windowKey)}`;
  return {
    prefix,
    scriptBase: `${clientPrefix}${prefix}`,
    channel: `${clientPrefix}${prefix}approvals`,
    pendingIndex: k('idx:pending'),
    dueIndex: k('idx:due'),
    purgeIndex: k('idx:purge'),
    notification: (id) => k(`n:${id}`),
    approval: (id) => k(`a:${id}`),
    audit: (approvalId) => k(`au:${approvalId}`),
    outbox: (id) => k(`o:${id}`),
    outboxBySubject: (subjectId) => k(`os:${subjectId}`),
    counterSuffix,
    counter: (accountId, action, windowKey) => k(`c:${counterSuffix(accountId, action, windowKey)}`),
    health: (accountId) => k(`h:${accountId}`),
    rateLimiter: (limiterPrefix) => k(`rl:${limiterPrefix}`),
  };
}
