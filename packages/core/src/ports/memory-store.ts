/**
 * `memoryStore()`: the embedded default. Everything lives in this process's
 * memory, so it is for **one process** only (development, tests, a single
 * instance); state is lost on restart. It meets every guarantee of the
 * {@link Store} interface within the process: JavaScript runs one callback at
 * a time, and no method awaits between its read and its write, so each
 * compare-and-set is atomic.
 *
 * Bounded: records are evicted after their `purgeAt` (by `purge()`, which the
 * service's sweep calls, and opportunistically on every write), and deadline
 * indexes (heaps) make the sweep and outbox scan cost independent of how many
 * records are stored.
 */
import { randomBytes } from 'node:crypto';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import type { ApprovalRecord } from '../approvals/state.js';
import { TiergateError } from '../errors.js';
import { MinHeap } from './min-heap.js';
import { createWaiterRegistry } from './waiter-registry.js';
import { rateLimiterFrom } from './rate-limit.js';
import { checkTransitionBatch } from './transition-batch.js';
import { registerSyncStore } from './sync-store.js';
import type {
  AccountStateRead,
  ApprovalTransitionInput,
  AuditEntry,
  ClaimedMessage,
  EndpointHealth,
  NotificationRecord,
  OutboxMessage,
  QuotaResult,
  Store,
  TransitionResult,
} from './store.js';

/** Options of {@link memoryStore}. */
export interface MemoryStoreOptions {
  /** How many expired records one write may evict on the side (default 16). */
  readonly evictPerWrite?: number;
}

const HEALTHY: EndpointHealth = Object.freeze({ healthy: true, consecutiveFailures: 0, disabledUrls: Object.freeze([]) as readonly string[] });
/** The usage of an action with no count in either window. */
const NOTHING_USED: readonly [number, number] = Object.freeze([0, 0] as const);

interface Counter {
  value: number;
  expiresAt: number;
}

interface TableCounter extends Counter {
  readonly accountId: string;
  readonly action: string;
  readonly windowKey: string;
}

/**
 * Quota counters by account, then action, then window key: the guard looks two of them up on every
 * request, and three lookups by strings it already holds (their hashes cached) cost less than
 * building and hashing one joined key per window. The purge index names a counter by a serial number.
 */
class CounterTable {
  private readonly byAccount = new Map<string, Map<string, Map<string, TableCounter>>>();
  private readonly bySerial = new Map<string, TableCounter>();
  private serial = 0;

  get size(): number {
    return this.bySerial.size;
  }

  get(accountId: string, action: string, windowKey: string): Counter | undefined {
    return this.byAccount.get(accountId)?.get(action)?.get(windowKey);
  }

  /** The counters of one account's action by window key (a consume looks up each window in it). */
  windowsOf(accountId: string, action: string): ReadonlyMap<string, Counter> | undefined {
    return this.byAccount.get(accountId)?.get(action);
  }

  /** Adds a counter where there is none; returns its name in the purge index. */
  add(accountId: string, action: string, windowKey: string, value: number, expiresAt: number): string {
    let actions = this.byAccount.get(accountId);
    if (actions === undefined) this.byAccount.set(accountId, (actions = new Map()));
    let windows = actions.get(action);
    if (windows === undefined) actions.set(action, (windows = new Map()));
    const serial = String((this.serial += 1));
    const counter: TableCounter = { value, expiresAt, accountId, action, windowKey };
    windows.set(windowKey, counter);
    this.bySerial.set(serial, counter);
    return serial;
  }

  /** Removes the counter named `serial` if it still expires at `at`. */
  purge(serial: string, at: number): void {
    const counter = this.bySerial.get(serial);
    if (counter === undefined || counter.expiresAt !== at) return;
    this.bySerial.delete(serial);
    const actions = this.byAccount.get(counter.accountId);
    const windows = actions?.get(counter.action);
    if (windows === undefined || windows.get(counter.windowKey) !== counter) return;
    windows.delete(counter.windowKey);
    if (windows.size === 0) actions?.delete(counter.action);
    if (actions?.size === 0) this.byAccount.delete(counter.accountId);
  }
}

type Leased = OutboxMessage & { lease: string | null; leaseUntil: number };

/**
 * A frozen shallow copy of `record` (and of `patch` over it). Not `Object.freeze({ ...record })`:
 * V8 gives a frozen spread copy a hidden class of its own (a map and a descriptor array, ≈ 360 bytes
 * kept per stored record, and every read of such records megamorphic), where `Object.assign` onto
 * `{}` reaches the shared frozen class through cached transitions.
 */
function frozenCopy<T extends object>(record: T, patch?: Partial<T>): T {
  return Object.freeze(patch === undefined ? Object.assign({}, record) : Object.assign({}, record, patch));
}

/** `record` itself when it is frozen already (nobody can change it: the service writes its records so), else a {@link frozenCopy}. */
function kept<T extends object>(record: T): T {
  return Object.isFrozen(record) ? record : frozenCopy(record);
}

// The purge index's kinds of record.
const NOTIFICATION = 0;
const APPROVAL = 1;
const OUTBOX = 2;
const COUNTER = 3;

/** Creates an in-process store. See the module documentation for its limits. */
export function memoryStore(options: MemoryStoreOptions = {}): Store & Required<Pick<Store, 'transitionApprovals'>> & { readonly size: () => Record<string, number> } {
  const evictPerWrite = options.evictPerWrite ?? 16;
  const notifications = new Map<string, NotificationRecord>();
  const approvals = new Map<string, ApprovalRecord>();
  const audit = new Map<string, AuditEntry[]>();
  const outbox = new Map<string, Leased>();
  const outboxBySubject = new Map<string, string[]>();
  const counters = new CounterTable();
  const health = new Map<string, EndpointHealth>();
  const waiters = createWaiterRegistry();
  const limiters = new Map<string, RateLimiterMemory>();

  const pendingByDeadline = new MinHeap(); // approvals: (expiresAt, id)
  const outboxDue = new MinHeap(); // (availableAt, id)
  const purgeIndex = new MinHeap(); // (purgeAt, id, NOTIFICATION | APPROVAL | OUTBOX | COUNTER)

  function availableAt(message: Leased): number {
    return Math.max(message.nextAttemptAt, message.leaseUntil);
  }

  function evict(now: number, limit: number): number {
    let removed = 0;
    while (removed < limit && purgeIndex.peekAt() <= now) {
      const { at, id: key, kind } = purgeIndex.pop() as { at: number; id: string; kind: number };
      if (kind === NOTIFICATION) {
        if (notifications.get(key)?.purgeAt === at) notifications.delete(key);
      } else if (kind === APPROVAL) {
        if (approvals.get(key)?.purgeAt === at) {
          approvals.delete(key);
          audit.delete(key);
        }
      } else if (kind === OUTBOX) {
        const message = outbox.get(key);
        if (message !== undefined && message.purgeAt === at && message.state !== 'pending') {
          outbox.delete(key);
          const siblings = outboxBySubject.get(message.subjectId);
          if (siblings !== undefined) {
            const rest = siblings.filter((s) => s !== key);
            if (rest.length === 0) outboxBySubject.delete(message.subjectId);
            else outboxBySubject.set(message.subjectId, rest);
          }
        } else if (message !== undefined && message.state === 'pending') {
          // Still undelivered: keep it, look again a day later.
          purgeIndex.push(at + 86_400_000, key, OUTBOX);
        }
      } else if (kind === COUNTER) {
        counters.purge(key, at);
      }
      removed += 1;
    }
    return removed;
  }

  function addOutbox(message: OutboxMessage): void {
    const leased: Leased = { ...message, lease: null, leaseUntil: 0 };
    outbox.set(message.id, leased);
    const siblings = outboxBySubject.get(message.subjectId);
    if (siblings === undefined) outboxBySubject.set(message.subjectId, [message.id]);
    else siblings.push(message.id);
    if (message.state === 'pending') outboxDue.push(availableAt(leased), message.id);
    purgeIndex.push(message.purgeAt, message.id, OUTBOX);
  }

  function publicMessage(message: Leased): OutboxMessage {
    const { lease: _lease, leaseUntil: _until, ...rest } = message;
    return rest;
  }

  /** One compare-and-set from pending (synchronous, so atomic in this process). */
  function transition({ id, patch, audit: entry, outbox: messages }: ApprovalTransitionInput): TransitionResult {
    const current = approvals.get(id);
    if (current === undefined || current.status !== 'pending') return { ok: false, approval: current ?? null };
    const next: ApprovalRecord = frozenCopy(current, patch);
    approvals.set(id, next);
    const trail = audit.get(id);
    if (trail === undefined) audit.set(id, [frozenCopy(entry)]);
    else trail.push(frozenCopy(entry));
    for (const m of messages) addOutbox(m);
    waiters.wake(id);
    return { ok: true, approval: next };
  }

  /** Atomic in this process: every check before the first write. */
  function createNotification({ notification, approval, audit: entry, outbox: messages }: Parameters<Store['createNotification']>[0]): void {
    if (notifications.has(notification.id)) throw new TiergateError('INTERNAL_ERROR', `duplicate notification id ${notification.id}`);
    if (approval !== undefined && approvals.has(approval.id)) throw new TiergateError('INTERNAL_ERROR', `duplicate approval id ${approval.id}`);
    for (const m of messages) if (outbox.has(m.id)) throw new TiergateError('INTERNAL_ERROR', `duplicate outbox id ${m.id}`);
    evict(notification.createdAt, evictPerWrite);
    notifications.set(notification.id, kept(notification));
    purgeIndex.push(notification.purgeAt, notification.id, NOTIFICATION);
    if (approval !== undefined) {
      approvals.set(approval.id, kept(approval));
      if (approval.status === 'pending') pendingByDeadline.push(approval.expiresAt, approval.id);
      purgeIndex.push(approval.purgeAt, approval.id, APPROVAL);
      audit.set(approval.id, entry === undefined ? [] : [frozenCopy(entry)]);
    }
    for (const m of messages) addOutbox(m);
  }

  // The counters one consumeQuota() found, reused by every call (it never waits, so calls cannot interleave).
  const found: (Counter | undefined)[] = [];
  /** Atomic in this process: nothing awaits between the check and the increment. */
  function consumeQuota({ accountId, action, amount, windows }: Parameters<Store['consumeQuota']>[0]): QuotaResult {
    const n = windows.length;
    // Sized once (a growing array would allocate room for 16 more).
    const used = new Array<number>(n);
    const byWindow = counters.windowsOf(accountId, action);
    let exceeded = -1;
    for (let i = 0; i < n; i += 1) {
      const w = windows[i] as (typeof windows)[number];
      const c = byWindow?.get(w.key);
      found[i] = c;
      used[i] = c === undefined ? 0 : c.value;
      if (exceeded === -1 && (used[i] as number) + amount > w.limit) exceeded = i;
    }
    if (exceeded !== -1) {
      // Refused: the scratch list lets go of what it found.
      for (let i = 0; i < n; i += 1) found[i] = undefined;
      return { ok: false, used, exceeded };
    }
    for (let i = 0; i < n; i += 1) {
      const w = windows[i] as (typeof windows)[number];
      const value = (used[i] as number) + amount;
      // (Looked up again only when absent, in case two windows share a key.)
      const existing = found[i] ?? counters.get(accountId, action, w.key);
      found[i] = undefined;
      used[i] = value;
      if (existing === undefined) purgeIndex.push(w.expiresAt, counters.add(accountId, action, w.key, value, w.expiresAt), COUNTER);
      else existing.value = value;
    }
    return { ok: true, used };
  }

  // What an account that has used none of the actions asked reads, one per list of actions (the service
  // asks the same list on every capabilities request and guard check): nothing to build per request.
  const unusedReads = new WeakMap<readonly string[], AccountStateRead>();
  function unusedRead(actions: readonly string[]): AccountStateRead {
    let read = unusedReads.get(actions);
    if (read === undefined) {
      const usage: Record<string, readonly [number, number]> = {};
      for (const action of actions) usage[action] = NOTHING_USED;
      read = Object.freeze({ usage: Object.freeze(usage), health: HEALTHY });
      unusedReads.set(actions, read);
    }
    return read;
  }

  function readAccountState(accountId: string, actions: readonly string[], windowKeys: readonly [string, string]): AccountStateRead {
    // (Indexed, not destructured: destructuring a parameter runs the array iterator on every call.)
    const dayKey = windowKeys[0];
    const monthKey = windowKeys[1];
    const accountHealth = health.get(accountId) ?? HEALTHY;
    let usage: Record<string, readonly [number, number]> | undefined;
    for (let i = 0; i < actions.length; i += 1) {
      const action = actions[i] as string;
      const windows = counters.windowsOf(accountId, action);
      const day = windows?.get(dayKey)?.value ?? 0;
      const month = windows?.get(monthKey)?.value ?? 0;
      if (day === 0 && month === 0) {
        if (usage !== undefined) usage[action] = NOTHING_USED;
        continue;
      }
      if (usage === undefined) {
        // The first action with a count: the ones before it had none.
        usage = {};
        for (let j = 0; j < i; j += 1) usage[actions[j] as string] = NOTHING_USED;
      }
      usage[action] = [day, month];
    }
    if (usage === undefined) return accountHealth === HEALTHY ? unusedRead(actions) : { usage: unusedRead(actions).usage, health: accountHealth };
    return { usage, health: accountHealth };
  }

  const store: ReturnType<typeof memoryStore> = {
    kind: 'memory',

    size: () => ({
      notifications: notifications.size,
      approvals: approvals.size,
      outbox: outbox.size,
      counters: counters.size,
      purgeIndex: purgeIndex.size,
    }),

    async createNotification(input) {
      createNotification(input);
    },

    async getNotification(id) {
      return notifications.get(id) ?? null;
    },

    async getApproval(id) {
      return approvals.get(id) ?? null;
    },

    async transitionApproval(input) {
      return transition(input);
    },

    async transitionApprovals(inputs) {
      checkTransitionBatch(inputs, 'memory');
      return inputs.map(transition);
    },

    async dueApprovals(now, limit) {
      const due: ApprovalRecord[] = [];
      const keep: { at: number; id: string }[] = [];
      while (due.length < limit && pendingByDeadline.peekAt() <= now) {
        const entry = pendingByDeadline.pop() as { at: number; id: string };
        const approval = approvals.get(entry.id);
        if (approval === undefined || approval.status !== 'pending') continue; // decided or purged: drop
        due.push(approval);
        keep.push(entry);
      }
      // Still pending until the caller's compare-and-set: keep them indexed.
      for (const entry of keep) pendingByDeadline.push(entry.at, entry.id);
      return due;
    },

    async listAudit(approvalId) {
      return [...(audit.get(approvalId) ?? [])];
    },

    async claimOutbox(now, limit, leaseMs) {
      const claimed: ClaimedMessage[] = [];
      while (claimed.length < limit && outboxDue.peekAt() <= now) {
        const { at, id } = outboxDue.pop() as { at: number; id: string };
        const message = outbox.get(id);
        if (message === undefined || message.state !== 'pending' || availableAt(message) !== at) continue; // stale index entry
        const lease = randomBytes(9).toString('base64url');
        const leased: Leased = { ...message, lease, leaseUntil: now + leaseMs };
        outbox.set(id, leased);
        outboxDue.push(availableAt(leased), id);
        claimed.push({ ...publicMessage(leased), lease });
      }
      return claimed;
    },

    async settleOutbox(id, lease, settlement) {
      const message = outbox.get(id);
      if (message === undefined || message.lease !== lease || message.state !== 'pending') return false;
      const next: Leased =
        settlement.state === 'pending'
          ? { ...message, state: 'pending', attempts: settlement.attempts, nextAttemptAt: settlement.nextAttemptAt, lastError: settlement.lastError, lease: null, leaseUntil: 0 }
          : settlement.state === 'dead'
            ? { ...message, state: 'dead', attempts: settlement.attempts, lastError: settlement.lastError, lease: null, leaseUntil: 0 }
            : { ...message, state: 'delivered', attempts: settlement.attempts, lastError: null, lease: null, leaseUntil: 0 };
      outbox.set(id, next);
      if (next.state === 'pending') outboxDue.push(availableAt(next), id);
      return true;
    },

    async listOutbox(subjectId) {
      return (outboxBySubject.get(subjectId) ?? []).map((id) => publicMessage(outbox.get(id) as Leased));
    },

    async consumeQuota(input) {
      return consumeQuota(input);
    },

    async refundQuota({ accountId, action, amount, windowKeys }) {
      for (const windowKey of windowKeys) {
        const c = counters.get(accountId, action, windowKey);
        if (c !== undefined) c.value = Math.max(0, c.value - amount);
      }
    },

    async readAccountState(accountId, actions, windowKeys) {
      return readAccountState(accountId, actions, windowKeys);
    },

    async recordDelivery(accountId, outcome, url, threshold) {
      const current = health.get(accountId) ?? HEALTHY;
      let next: EndpointHealth;
      if (outcome === 'success') next = { healthy: true, consecutiveFailures: 0, disabledUrls: current.disabledUrls };
      else if (outcome === 'gone') {
        next = {
          healthy: false,
          consecutiveFailures: current.consecutiveFailures + 1,
          disabledUrls: current.disabledUrls.includes(url) ? current.disabledUrls : [...current.disabledUrls, url],
        };
      } else {
        const failures = current.consecutiveFailures + 1;
        next = { healthy: current.healthy && failures < threshold, consecutiveFailures: failures, disabledUrls: current.disabledUrls };
      }
      next = frozenCopy(next, { disabledUrls: Object.freeze([...next.disabledUrls]) });
      health.set(accountId, next);
      return next;
    },

    rateLimiter({ keyPrefix, points, durationSeconds }) {
      // Limiters with the same prefix share buckets, as they would on a shared backend.
      const name = `${keyPrefix}\u0000${points}\u0000${durationSeconds}`;
      let limiter = limiters.get(name);
      if (limiter === undefined) {
        limiter = new RateLimiterMemory({ keyPrefix, points, duration: durationSeconds });
        limiters.set(name, limiter);
      }
      return rateLimiterFrom(limiter, points);
    },

    async waitForApproval(id, timeoutMs, signal) {
      if (approvals.get(id)?.status !== 'pending') return;
      await waiters.add(id, timeoutMs, signal).ended;
    },

    async purge(now, limit) {
      return evict(now, limit * 4);
    },
  };
  // The service reads and consumes without a promise (see SyncStore).
  registerSyncStore(store, { readAccountState, consumeQuota, createNotification });
  return store;
}
