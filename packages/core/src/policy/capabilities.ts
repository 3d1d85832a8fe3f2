/**
 * "What can I do, and why not?" — the pure computation behind
 * `GET /v1/capabilities`, the CASL ability and the `requireCapability` guard.
 *
 * Precedence when several reasons apply to one action (the first wins, because
 * it is the one the operator has to fix first):
 *
 * 1. **status** (`ACCOUNT_UNDER_REVIEW`): nothing else helps until the review ends;
 * 2. **tier** (`SEND_REQUIRES_PAID`, …): the tier lacks the action entirely;
 * 3. **quota** (`SEND_LIMIT_EXCEEDED`): a day or month window is used up; when
 *    both are, `resets_at` is the later reset, since both must reset first;
 * 4. **webhook** (`WEBHOOK_ENDPOINT_UNHEALTHY`): deliveries to the endpoint fail.
 */
import { isoTime } from '../clock.js';
import { TiergateError } from '../errors.js';
import type { ReasonKind, TierTable } from './tiers.js';
import { quotaWindows, type QuotaWindows } from './windows.js';

/** Counts used in the current UTC day and month, per metered action. */
export type Usage = Readonly<Record<string, { readonly day?: number | undefined; readonly month?: number | undefined } | undefined>>;

/** Everything about an account that policy reads. */
export interface AccountState {
  /** A tier of the table. An unknown tier is a host bug and throws `CONFIG_INVALID`. */
  readonly tier: string;
  /** `active` (default) or a status of the table, such as `under_review`. */
  readonly status?: string;
  /** Usage in the windows containing `now`. */
  readonly usage?: Usage;
  /** How many custom domains (or other gauge) are in use; informational. */
  readonly customDomains?: number;
  /** `false` when deliveries to the account's webhook endpoint keep failing. Default `true`. */
  readonly webhookHealthy?: boolean;
}

/** One allowed action. */
export interface CanEntry<A extends string = string> {
  readonly action: A;
  readonly description: string;
}

/** One blocked action and why. */
export interface CannotEntry<A extends string = string, R extends string = string> {
  readonly action: A;
  readonly reason: R;
  /** ISO-8601 instant the limit lifts; present on quota reasons only. */
  readonly resets_at?: string;
}

/** The policy part of a capabilities response (links are added by the service). */
export interface Capabilities<A extends string = string, T extends string = string, R extends string = string> {
  readonly tier: T;
  readonly can: readonly CanEntry<A>[];
  readonly cannot: readonly CannotEntry<A, R>[];
}

/** Whether one action is allowed right now, as a value. */
export type Decision<A extends string = string, R extends string = string> =
  | { readonly allowed: true; readonly action: A }
  | {
      readonly allowed: false;
      readonly action: A;
      readonly reason: R;
      readonly kind: ReasonKind;
      /** Epoch ms when a quota deny lifts. */
      readonly resetsAt?: number;
    };

type Deny = { reason: string; kind: ReasonKind; resetsAt?: number };

function resolveTier(table: TierTable, tier: string) {
  const resolved = table.tier(tier);
  if (resolved === undefined) {
    throw new TiergateError('CONFIG_INVALID', `Account tier "${tier}" is not in the tier table (known: ${table.tiers.map((t) => t.name).join(', ')}).`);
  }
  return resolved;
}

/**
 * Why `action` is denied for `account` when it asks for `amount` more units
 * (0 = "may it continue at all"), or `undefined` when allowed.
 */
function denial(table: TierTable, account: AccountState, actionName: string, windows: QuotaWindows, amount: number): Deny | undefined {
  const tier = resolveTier(table, account.tier);
  const action = table.action(actionName);
  if (action === undefined) return undefined;
  const status = account.status ?? 'active';
  if (status !== 'active') {
    const rule = table.statuses.get(status);
    if (rule !== undefined && (rule.blocks === 'all' || rule.blocks.has(actionName))) return { reason: rule.reason, kind: 'status' };
  }
  const grant = tier.grants.get(actionName);
  if (grant === undefined) return { reason: action.tierReason, kind: 'tier' };
  if (action.quotaReason !== undefined) {
    const used = account.usage?.[actionName];
    const dayUsed = used?.day ?? 0;
    const monthUsed = used?.month ?? 0;
    const need = Math.max(amount, 1);
    const dayOver = dayUsed + need > grant.limits.day;
    const monthOver = monthUsed + need > grant.limits.month;
    if (dayOver || monthOver) {
      return { reason: action.quotaReason, kind: 'quota', resetsAt: monthOver ? windows.month.resetsAt : windows.day.resetsAt };
    }
  }
  if (account.webhookHealthy === false && table.webhookHealth?.blocks.has(actionName)) {
    return { reason: table.webhookHealth.reason, kind: 'webhook' };
  }
  return undefined;
}

/**
 * Decides one action for one account at `now`. With `amount`, a metered
 * action is allowed only if `amount` more units fit in every window (the
 * check half of an atomic consume; the store does the increment).
 */
export function checkAction<A extends string, T extends string, R extends string>(
  table: TierTable<A, T, R>,
  account: AccountState,
  action: A,
  now: number,
  amount = 1,
): Decision<A, R> {
  const deny = denial(table as TierTable, account, action, quotaWindows(now), amount);
  if (deny === undefined) return allowedDecision(table as TierTable, action) as Decision<A, R>;
  return deny.resetsAt === undefined
    ? { allowed: false, action, reason: deny.reason as R, kind: deny.kind }
    : { allowed: false, action, reason: deny.reason as R, kind: deny.kind, resetsAt: deny.resetsAt };
}

// Results are cached per table and account state: a capabilities call for a
// known state allocates nothing. Entries are frozen because they are shared.
interface TableCache {
  readonly results: Map<string, Capabilities>;
  /** The one frozen "allowed" decision of each of the table's actions (bounded: no other action is kept). */
  readonly allowed: Map<string, Decision>;
  /**
   * Interned keys of (tier, status, webhook health), so the common state — no
   * window used up — finds its result without building a string per call.
   * Bounded: tiers come from the table, and statuses the table does not know
   * share the key of `active` (they block nothing, see `denial`).
   */
  readonly baseKeys: Map<string, Map<string, readonly [unhealthy: string, healthy: string]>>;
}
const cache = new WeakMap<TierTable, TableCache>();
const MAX_CACHED_STATES = 4096;

function tableCache(table: TierTable): TableCache {
  let entry = cache.get(table);
  if (entry === undefined) {
    entry = { results: new Map(), allowed: new Map(), baseKeys: new Map() };
    cache.set(table, entry);
  }
  return entry;
}

/** `{ allowed: true, action }`: one shared frozen object per action of the table (a fresh one for an action it does not know). */
function allowedDecision(table: TierTable, action: string): Decision {
  const { allowed } = tableCache(table);
  let decision = allowed.get(action);
  if (decision === undefined) {
    decision = Object.freeze({ allowed: true, action });
    if (table.action(action) !== undefined) allowed.set(action, decision);
  }
  return decision;
}

function baseKey(table: TierTable, baseKeys: TableCache['baseKeys'], tier: string, account: AccountState): string {
  const rawStatus = account.status ?? 'active';
  const status = rawStatus === 'active' || table.statuses.has(rawStatus) ? rawStatus : 'active';
  let byStatus = baseKeys.get(tier);
  if (byStatus === undefined) {
    byStatus = new Map();
    baseKeys.set(tier, byStatus);
  }
  let pair = byStatus.get(status);
  if (pair === undefined) {
    pair = [`${tier}\u0000${status}\u00000`, `${tier}\u0000${status}\u00001`];
    byStatus.set(status, pair);
  }
  return pair[account.webhookHealthy === false ? 0 : 1];
}

function stateKey(table: TierTable, baseKeys: TableCache['baseKeys'], account: AccountState, windows: QuotaWindows): string {
  const tier = resolveTier(table, account.tier);
  let key = baseKey(table, baseKeys, tier.name, account);
  const usage = account.usage;
  if (usage === undefined) return key;
  for (const action of table.metered) {
    const grant = tier.grants.get(action.name);
    const used = usage[action.name];
    if (grant === undefined || used === undefined) continue;
    const monthOver = (used.month ?? 0) >= grant.limits.month;
    const dayOver = (used.day ?? 0) >= grant.limits.day;
    if (monthOver) key += `\u0000${action.index}:${windows.month.resetsAt}`;
    else if (dayOver) key += `\u0000${action.index}:${windows.day.resetsAt}`;
  }
  return key;
}

/**
 * Computes `{ tier, can, cannot }` for an account at `now` (ms). Pure and
 * deterministic; every seed reason code is produced where it applies, in the
 * precedence documented on this module. The returned object is frozen and
 * shared between calls with the same state — do not mutate it.
 */
export function computeCapabilities<A extends string, T extends string, R extends string>(
  table: TierTable<A, T, R>,
  account: AccountState,
  now: number,
): Capabilities<A, T, R> {
  const windows = quotaWindows(now);
  const { results: perTable, baseKeys } = tableCache(table as TierTable);
  const key = stateKey(table as TierTable, baseKeys, account, windows);
  const hit = perTable.get(key);
  if (hit !== undefined) return hit as Capabilities<A, T, R>;

  const tier = resolveTier(table as TierTable, account.tier);
  const can: CanEntry[] = [];
  const cannot: CannotEntry[] = [];
  for (const action of table.actions) {
    const deny = denial(table as TierTable, account, action.name, windows, 0);
    if (deny === undefined) {
      can.push(Object.freeze({ action: action.name, description: tier.grants.get(action.name)?.description ?? action.name }));
    } else {
      cannot.push(
        Object.freeze(
          deny.resetsAt === undefined
            ? { action: action.name, reason: deny.reason }
            : { action: action.name, reason: deny.reason, resets_at: isoTime(deny.resetsAt) },
        ),
      );
    }
  }
  const result: Capabilities = Object.freeze({ tier: tier.name, can: Object.freeze(can), cannot: Object.freeze(cannot) });
  if (perTable.size >= MAX_CACHED_STATES) perTable.clear();
  perTable.set(key, result);
  return result as Capabilities<A, T, R>;
}
