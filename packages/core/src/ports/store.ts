/**
 * The storage port. tiergate keeps its own state — notifications, approvals,
 * the outbox, quota counters, webhook-endpoint health, the audit trail and rate
 * limits — in the host's storage through this interface. Implementations:
 * `memoryStore()` (one process), `postgresStore()` and `redisStore()` (many
 * processes). One conformance suite (`runStoreConformance` in
 * `@tiergate/testing`) checks every guarantee written here.
 *
 * General rules for every implementation:
 * - **Failures.** A method whose backend is unreachable or times out rejects
 *   with `TiergateError('STORE_UNAVAILABLE')` (see `storeUnavailable`) and has
 *   changed nothing, or — for the multi-record writes below — everything.
 *   Other errors are bugs.
 * - **Times** are epoch milliseconds from the service's injected clock; a
 *   store never reads its own clock for record state (rate limiters aside).
 * - **Retention.** Each record carries `purgeAt`; a store may delete it any
 *   time after that (TTL, `purge()`), never before.
 * - **Secrets.** Contexts arrive already encrypted (`sealedContext`); stores
 *   never see plaintext context or API keys.
 */
import type { ApprovalPatch, ApprovalRecord } from '../approvals/state.js';
import type { RateLimiter, RateLimiterOptions } from './rate-limit.js';

/** A notification (plain notify-operator call or the notification of an approval). */
export interface NotificationRecord {
  /** `not_…` */
  readonly id: string;
  readonly accountId: string;
  readonly issue: string;
  readonly actionLabel: string;
  /** The encrypted context (see `sealContext`), bound to this record's id; `null` when none was given. */
  readonly sealedContext: string | null;
  /** `apr_…` when this notification carries an approval request. */
  readonly approvalId: string | null;
  /** `jti` of the operator link issued for it. */
  readonly linkId: string;
  /** What policy knew of the account at creation (pages fall back to it). */
  readonly account: AccountSnapshot;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly purgeAt: number;
}

/** The account fields a notification remembers. */
export interface AccountSnapshot {
  readonly tier: string;
  readonly status: string;
  readonly operatorEmail: string | null;
  readonly customDomains: number | null;
}

/** One entry of an approval's audit trail. */
export interface AuditEntry {
  readonly approvalId: string;
  readonly at: number;
  /** `created`, or the status entered. */
  readonly event: 'created' | 'approved' | 'denied' | 'expired';
  /** Who: operator e-mail or name, `agent` for creation, `system` for expiry. */
  readonly actor: string;
  readonly ip: string | null;
  readonly userAgent: string | null;
}

/** Which channel an outbox message goes to. */
export type OutboxTopic = 'callback' | 'notifier';

/** A message waiting to be delivered (at least once) by the dispatcher. */
export interface OutboxMessage {
  /** `msg_…`: the Standard Webhooks `webhook-id`, the same on every attempt. */
  readonly id: string;
  readonly accountId: string;
  readonly topic: OutboxTopic;
  /** `approval.granted`, `approval.denied`, `approval.expired`, `operator.notification`, `operator.reminder`. */
  readonly type: string;
  /** The approval or notification the message is about; the body is built from it at delivery. */
  readonly subjectId: string;
  /** Callback URL, or notifier channel name. */
  readonly target: string;
  readonly state: 'pending' | 'delivered' | 'dead';
  /** Attempts made so far. */
  readonly attempts: number;
  readonly nextAttemptAt: number;
  readonly createdAt: number;
  readonly lastError: string | null;
  readonly purgeAt: number;
}

/** An outbox message claimed by one dispatcher. */
export interface ClaimedMessage extends OutboxMessage {
  /** Opaque lease token; settle with it. */
  readonly lease: string;
}

/** How an attempt ended. */
export type OutboxSettlement =
  | { readonly state: 'delivered'; readonly attempts: number }
  | { readonly state: 'pending'; readonly attempts: number; readonly nextAttemptAt: number; readonly lastError: string }
  | { readonly state: 'dead'; readonly attempts: number; readonly lastError: string };

/** Health of an account's webhook endpoint. */
export interface EndpointHealth {
  readonly healthy: boolean;
  readonly consecutiveFailures: number;
  /** Callback URLs that answered 410 Gone; nothing more is sent to them. */
  readonly disabledUrls: readonly string[];
}

/** One window of a quota consume. */
export interface QuotaWindowInput {
  /** Window instance key, e.g. `d2026-11-22`. */
  readonly key: string;
  /** Units allowed in this window for this consume (already reduced by the host's own count). */
  readonly limit: number;
  /** When the counter may be dropped (the window's reset). */
  readonly expiresAt: number;
}

/** Result of {@link Store.consumeQuota}. */
export type QuotaResult =
  | { readonly ok: true; readonly used: readonly number[] }
  | { readonly ok: false; readonly used: readonly number[]; readonly exceeded: number };

/** Usage and health of one account, read in one round trip. */
export interface AccountStateRead {
  /** Used units per metered action: `[day, month]` for the window keys asked. */
  readonly usage: Readonly<Record<string, readonly [number, number]>>;
  readonly health: EndpointHealth;
}

/** One compare-and-set from `pending`: the input of {@link Store.transitionApproval}. */
export interface ApprovalTransitionInput {
  readonly id: string;
  readonly patch: ApprovalPatch;
  readonly audit: AuditEntry;
  readonly outbox: readonly OutboxMessage[];
}

/** Result of {@link Store.transitionApproval}. */
export type TransitionResult =
  | { readonly ok: true; readonly approval: ApprovalRecord }
  | { readonly ok: false; readonly approval: ApprovalRecord | null };

/** The storage port. See the module documentation for rules every method follows. */
export interface Store {
  /** A short name for logs and errors (`memory`, `postgres`, `redis`). */
  readonly kind: string;

  /**
   * Writes a notification, its approval (if any), the approval's `created`
   * audit entry and its outbox messages — **all or nothing**. Rejects (and
   * writes nothing) if any id already exists.
   */
  createNotification(input: {
    readonly notification: NotificationRecord;
    readonly approval?: ApprovalRecord;
    readonly audit?: AuditEntry;
    readonly outbox: readonly OutboxMessage[];
  }): Promise<void>;

  /** Reads a notification by id, or `null` (unknown or purged). */
  getNotification(id: string): Promise<NotificationRecord | null>;

  /** Reads an approval by id, or `null`. */
  getApproval(id: string): Promise<ApprovalRecord | null>;

  /**
   * **Compare-and-set from `pending`.** If approval `id` is `pending`, applies
   * `patch`, appends `audit` and enqueues `outbox` in one atomic step and
   * returns `{ ok: true, approval }` (the new record). Otherwise changes
   * nothing and returns `{ ok: false, approval }` (the current record, or
   * `null` if unknown). Of any number of concurrent calls for one id — in any
   * number of processes — exactly one succeeds.
   */
  transitionApproval(input: ApprovalTransitionInput): Promise<TransitionResult>;

  /**
   * Optional. Several {@link transitionApproval} compare-and-sets in one call
   * (the expiry sweep's batch), results in input order. Each element behaves
   * exactly as `transitionApproval` would on its own — its patch, audit entry
   * and outbox messages are written together or not at all, and of concurrent
   * transitions of one id exactly one succeeds — but the store may send them
   * together (PostgreSQL: one statement and one commit for the batch; Redis:
   * one pipelined round trip). An empty batch returns `[]`. Ids must be
   * distinct: a repeated id rejects with `INTERNAL_ERROR` and writes nothing
   * (`checkTransitionBatch` checks it). If the call rejects, each element was
   * applied entirely or not at all (a store may apply some and not others);
   * read the records to learn which. A store without it gets
   * {@link transitionEach}: one `transitionApproval` per element.
   */
  transitionApprovals?(inputs: readonly ApprovalTransitionInput[]): Promise<readonly TransitionResult[]>;

  /**
   * Pending approvals whose `expiresAt <= now`, earliest deadline first, at
   * most `limit`. Indexed by deadline: the cost does not grow with the number
   * of stored approvals. Several sweepers may call at once (implementations
   * skip rows another sweeper holds); the expiry itself goes through
   * {@link transitionApproval}, so each approval expires exactly once.
   */
  dueApprovals(now: number, limit: number): Promise<readonly ApprovalRecord[]>;

  /** Audit trail of an approval, oldest first. */
  listAudit(approvalId: string): Promise<readonly AuditEntry[]>;

  /**
   * Claims up to `limit` outbox messages in state `pending` with
   * `nextAttemptAt <= now` whose lease (if any) has run out, earliest first,
   * and leases them until `now + leaseMs`. A message is held by at most one
   * live lease: concurrent claimers in any number of processes never receive
   * the same message while its lease runs; a crashed claimer's messages are
   * claimable again after the lease ends (at-least-once).
   */
  claimOutbox(now: number, limit: number, leaseMs: number): Promise<readonly ClaimedMessage[]>;

  /**
   * Records the end of an attempt if `lease` still holds the message; returns
   * `false` (and changes nothing) if the lease was lost.
   */
  settleOutbox(id: string, lease: string, settlement: OutboxSettlement): Promise<boolean>;

  /** Outbox messages about one subject (approval or notification id), oldest first. */
  listOutbox(subjectId: string): Promise<readonly OutboxMessage[]>;

  /**
   * **Atomic quota consume.** Adds `amount` to the counter of every window of
   * `(accountId, action)` only if, for every window, `used + amount <= limit`;
   * otherwise adds nothing and reports the first exceeded window (its index).
   * Concurrent consumes never overshoot a limit. Counters may be dropped after
   * the window's `expiresAt`.
   */
  consumeQuota(input: {
    readonly accountId: string;
    readonly action: string;
    readonly amount: number;
    readonly windows: readonly QuotaWindowInput[];
  }): Promise<QuotaResult>;

  /** Gives back `amount` units in the given windows (never below zero): undoes a consume whose work failed. */
  refundQuota(input: { readonly accountId: string; readonly action: string; readonly amount: number; readonly windowKeys: readonly string[] }): Promise<void>;

  /**
   * Reads usage of `actions` in the day and month windows `[dayKey, monthKey]`
   * and the webhook-endpoint health of an account, in one round trip.
   * Unknown counters read as 0, unknown health as healthy.
   */
  readAccountState(accountId: string, actions: readonly string[], windowKeys: readonly [string, string]): Promise<AccountStateRead>;

  /**
   * Records a delivery outcome for the account's webhook endpoint, atomically:
   * `success` resets the failure count and marks it healthy; `failure`
   * increments it and marks it unhealthy once it reaches `threshold`; `gone`
   * (HTTP 410) adds `url` to `disabledUrls` and marks it unhealthy at once.
   */
  recordDelivery(accountId: string, outcome: 'success' | 'failure' | 'gone', url: string, threshold: number): Promise<EndpointHealth>;

  /**
   * A rate limiter on this store's backend (`rate-limiter-flexible`), shared
   * by every process using the same backend and `keyPrefix`.
   */
  rateLimiter(options: RateLimiterOptions): RateLimiter;

  /**
   * Resolves when approval `id` may have left `pending`, or after `timeoutMs`,
   * or when `signal` aborts — whichever is first. Never rejects; callers
   * re-read the approval. (Memory: in-process events; PostgreSQL:
   * LISTEN/NOTIFY; Redis: pub/sub; a polling fallback is acceptable.)
   */
  waitForApproval(id: string, timeoutMs: number, signal?: AbortSignal): Promise<void>;

  /** Deletes records whose `purgeAt <= now`, at most `limit` of each kind; returns how many. */
  purge(now: number, limit: number): Promise<number>;
}
