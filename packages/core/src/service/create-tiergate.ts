/**
 * `createTiergate(options)`: the operations of tiergate over its ports (store,
 * clock, keyring, transport, notifiers). Framework-neutral; the HTTP kernel
 * (`tiergate.handle`) and the adapters are thin layers over these methods.
 *
 * Denies are values (`check()` returns `{ allowed: false, reason }`); methods
 * throw `TiergateError` only for bad input (`INVALID_REQUEST`, `NOT_FOUND`,
 * link errors), limits (`RATE_LIMITED`) and infrastructure
 * (`STORE_UNAVAILABLE`) — and in every such case nothing is half-written.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { planTransition, type ApprovalRecord, type ApprovalTransition, type TransitionPlan } from '../approvals/state.js';
import { systemClock, type Clock, isoTime } from '../clock.js';
import { setBounded } from '../bounded-map.js';
import { TiergateError, isTiergateError, storeUnavailable } from '../errors.js';
import type { NotifierOptions } from '../notify/notifier.js';
import { abilityFromCapabilities, type TiergateAbility } from '../policy/ability.js';
import { checkAction, computeCapabilities, type AccountState, type Capabilities, type CannotEntry, type Decision, type Usage } from '../policy/capabilities.js';
import { mergeCatalog, reasonMessages, type MessageCatalog } from '../policy/messages.js';
import { suggestionKinds } from '../policy/suggestions.js';
import { defaultTiers, type ReasonKind, type ResolvedGrant, type TierTable } from '../policy/tiers.js';
import { quotaWindows, type QuotaWindows } from '../policy/windows.js';
import { memoryStore } from '../ports/memory-store.js';
import { transitionEach } from '../ports/transition-batch.js';
import type { RateLimiter } from '../ports/rate-limit.js';
import type { AccountSnapshot, AccountStateRead, ApprovalTransitionInput, AuditEntry, EndpointHealth, NotificationRecord, OutboxMessage, QuotaResult, QuotaWindowInput, Store } from '../ports/store.js';
import {
  issuesOf,
  parseNotifyOperatorBody,
  upgradeLinkBodySchema,
  type AccountResult,
  type ApprovalResult,
  type CapabilitiesResult,
  type CannotEntryWire,
  type NotifyOperatorResult,
  type UpgradeContext,
  type UpgradeLinkResult,
} from '../schemas/wire.js';
import { validatedContextJson } from '../schemas/context-json.js';
import { openContextShared, sealContextNow } from '../tokens/context-crypto.js';
import { createKeyring, type Keyring, type SecretInput } from '../tokens/keyring.js';
import { signLinkNow, verifyLink, type LinkClaims, type LinkClaimsInput, type SignedLink } from '../tokens/links.js';
import { checkCallbackUrl, isPublicAddress, type LookupAll } from '../webhooks/address.js';
import { isWebhookSecret } from '../webhooks/signature.js';
import { nodeHttpTransport } from '../webhooks/transport.js';
import { bearerToken, type Account } from './accounts.js';
import { isThenable, registerInternals, type NotifyOutcome } from './internals.js';
import { isJsonPlain } from '../render/json.js';
import { syncStoreOf, type SyncStore } from '../ports/sync-store.js';
import { createDispatcher, type DeliveryReport } from './dispatcher.js';
import { newId } from './ids.js';
import { LinkCache } from './link-cache.js';
import { defaultLogger, validateOptions, type HostLinks, type Logger, type TiergateOptions } from './options.js';

/** Who made a decision, for `approved_by` and the audit trail. */
export interface DecisionActor {
  /** A name the operator typed (used when the host knows no operator e-mail). */
  readonly name?: string;
  readonly ip?: string;
  readonly userAgent?: string;
}

/** Outcome of a decision: the compare-and-set won, or why not (with the current record). */
export type DecisionOutcome =
  | { readonly ok: true; readonly approval: ApprovalRecord }
  | { readonly ok: false; readonly code: 'APPROVAL_ALREADY_DECIDED' | 'APPROVAL_EXPIRED'; readonly approval: ApprovalRecord };

/**
 * What the host's handler gets from an allowed guard check. Its methods keep
 * their context when taken off it (`const { refund } = context` works).
 */
export interface GuardContext<A extends string = string> {
  readonly account: Account;
  readonly decision: Decision<A>;
  /** Units consumed by this request (0 without `consume`). */
  readonly consumed: number;
  /** Gives the consumed units back (call it if the guarded work failed). */
  refund(): Promise<void>;
  /** The account's full capabilities (computed on first call). */
  capabilities(): Promise<CapabilitiesResult>;
  /** The account's CASL ability over every action of the table (computed on first call). */
  ability(): Promise<TiergateAbility>;
}

/** Result of {@link Tiergate.check}: a value, never an exception for a deny. */
export type CheckResult<A extends string = string> =
  | ({ readonly allowed: true } & GuardContext<A>)
  | {
      readonly allowed: false;
      readonly account: Account;
      readonly action: A;
      readonly reason: string;
      readonly kind: ReasonKind;
      readonly resetsAt: number | undefined;
      readonly upgradeContext: UpgradeContext;
      readonly message: string;
    };

/** The account details an operator page shows. */
export interface AccountDetails {
  readonly id: string;
  readonly tier: string;
  readonly tierLabel: string;
  readonly status: string;
  readonly usage: readonly { readonly action: string; readonly day: readonly [number, number]; readonly month: readonly [number, number] }[];
  readonly customDomains: readonly [number, number] | null;
  readonly webhookHealthy: boolean;
}

/** A suggested action on an operator page. */
export interface Suggestion {
  readonly kind: 'upgrade' | 'webhook_settings' | 'support';
  readonly label: string;
  readonly url: string;
}

/** Everything the operator page renders. */
export type OperatorView =
  | {
      readonly kind: 'notification';
      readonly notification: NotificationRecord;
      readonly approval: ApprovalRecord | null;
      /** The decrypted context. Its `value` is frozen all the way down and shared by every view of the record. */
      readonly context: { readonly state: 'none' } | { readonly state: 'ok'; readonly value: unknown } | { readonly state: 'unavailable' };
      readonly account: AccountDetails;
      readonly suggestions: readonly Suggestion[];
      readonly formToken: string;
      readonly token: string;
      readonly choice: 'approve' | 'deny' | null;
      readonly now: number;
      /** The operator e-mail the decision will be recorded under, if known. */
      readonly operatorEmail: string | null;
    }
  | {
      readonly kind: 'status';
      readonly reason: string;
      /** The reason's one-line summary from the catalog. */
      readonly summary: string;
      readonly account: AccountDetails;
      readonly suggestions: readonly Suggestion[];
      readonly now: number;
    };

/** Everything the upgrade page renders. */
export interface UpgradeView {
  readonly account: AccountDetails;
  readonly current: { readonly name: string; readonly label: string };
  readonly target: { readonly name: string; readonly label: string };
  /** Actions the target adds or improves, with the target's description. */
  readonly unlocks: readonly { readonly action: string; readonly description: string }[];
  readonly checkoutUrl: string | null;
  readonly alreadyOnTier: boolean;
  readonly expiresAt: number;
  readonly now: number;
}

/** The tiergate service. */
export interface Tiergate<TT extends TierTable = TierTable> {
  readonly tiers: TT;
  readonly store: Store;
  readonly messages: MessageCatalog;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly keyring: Keyring;
  /** Public base URL (links point here). */
  publicUrl(): string;
  /** Largest accepted body, bytes. */
  readonly maxBodyBytes: number;

  /** Resolves the account of an `Authorization` header, or `null` (missing, malformed or unknown key). */
  authenticate(authorization: string | readonly string[] | undefined): Promise<Account | null>;
  /** `GET /v1/capabilities` result. */
  capabilities(account: Account): Promise<CapabilitiesResult>;
  /** `GET /v1/account` result. */
  account(account: Account): Promise<AccountResult>;
  /** `POST /v1/upgrade-link` result. Throws `INVALID_REQUEST` for an unknown or lower target tier. */
  upgradeLink(account: Account, body?: unknown): Promise<UpgradeLinkResult>;
  /** `POST /v1/notify-operator` result. Throws `INVALID_REQUEST`, `CALLBACK_URL_FORBIDDEN`, `RATE_LIMITED`, `STORE_UNAVAILABLE`. */
  notifyOperator(account: Account, body: unknown): Promise<NotifyOperatorResult & { readonly rateLimit?: RateLimitInfo }>;
  /** `GET /v1/approvals/:id` result; `waitSeconds` long-polls (≤ 30). Other accounts' approvals are `NOT_FOUND`. */
  getApproval(account: Account, requestId: string, options?: { readonly waitSeconds?: number; readonly signal?: AbortSignal }): Promise<ApprovalResult>;
  /** Decides one action for an account; with `consume`, atomically takes quota. */
  check<A extends string>(account: Account, action: A, options?: { readonly consume?: number }): Promise<CheckResult<A>>;

  /** The operator page's data for a link token. Throws link errors and `NOT_FOUND`. */
  operatorView(token: unknown, choice?: string | null): Promise<OperatorView>;
  /** The upgrade page's data for an upgrade link token. */
  upgradeView(token: unknown): Promise<UpgradeView>;
  /**
   * Decides an approval from the operator page: verifies the link and the
   * form token, then compare-and-sets from pending.
   */
  decideWithLink(input: { readonly token: unknown; readonly formToken: unknown; readonly decision: 'approve' | 'deny'; readonly denialReason?: string | null } & DecisionActor): Promise<DecisionOutcome>;

  /** Approval operations for hosts (their own admin UI) and the test simulator. */
  readonly approvals: {
    /** Approves or denies by id (no link needed: the host has authorised the caller). */
    decide(requestId: string, decision: { readonly decision: 'approve' | 'deny'; readonly by?: string; readonly denialReason?: string | null } & DecisionActor): Promise<DecisionOutcome>;
    /** Expires a pending approval now (`force`) or if due. Emits `approval.expired` exactly once. */
    expire(requestId: string, options?: { readonly force?: boolean }): Promise<DecisionOutcome>;
    /** The approval record. */
    get(requestId: string): Promise<ApprovalRecord | null>;
    /** Audit trail of every state change (who, when, IP, user agent). */
    audit(requestId: string): Promise<readonly AuditEntry[]>;
    /** Outbox messages (callbacks, notifications) about the approval. */
    deliveries(requestId: string): Promise<readonly OutboxMessage[]>;
  };

  /** Expires due approvals and purges old records. Safe to run in every instance at once. */
  sweep(): Promise<{ readonly expired: number; readonly purged: number }>;
  /** Delivers due outbox messages once. Safe to run in every instance at once. */
  deliver(): Promise<DeliveryReport>;
  /** Starts the background sweep and dispatcher timers. */
  start(): void;
  /** Stops them and waits for work in flight. */
  stop(): Promise<void>;
}

/** Rate-limit state of a notify-operator call (for `RateLimit-*` headers). */
export interface RateLimitInfo {
  readonly limit: number;
  readonly remaining: number;
  readonly resetSeconds: number;
}

const DAY_S = 24 * 3600;
/** Accounts whose last snapshot is remembered (forgotten all at once beyond this). */
const MAX_SNAPSHOTS = 1024;
const LONG_POLL_MAX_SECONDS = 30;
const SEND_PRECEDENCE: Record<ReasonKind, number> = { status: 0, tier: 1, quota: 2, webhook: 3 };

function secretsOf(secret: TiergateOptions['secret']): readonly SecretInput[] {
  return typeof secret === 'string' || secret instanceof Uint8Array ? [secret] : (secret as readonly SecretInput[]);
}

function safeHttpUrl(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'https:' || parsed.protocol === 'http:' ? parsed.toString() : undefined;
  } catch {
    return undefined;
  }
}

/** What a store call's failure becomes: tiergate's own coded errors pass; anything else is `STORE_UNAVAILABLE`. */
function asStoreFailure(err: unknown): TiergateError {
  return isTiergateError(err) && err.code !== 'INTERNAL_ERROR' ? err : storeUnavailable(err);
}

/** A store's rejection as tiergate's error (a `then` handler; made once). */
function throwAsStoreFailure(err: unknown): never {
  throw asStoreFailure(err);
}

/** A signed link as the service hands it out. */
interface IssuedLink {
  readonly url: string;
  readonly expiresAt: number;
  readonly linkId: string;
}

/** An account as {@link accountState} sees it, with what the store read. */
interface AccountRead {
  readonly state: AccountState;
  readonly health: EndpointHealth;
}

/** The store's windows of a consume under `grant`, the limits reduced by the host's own counts. */
function consumeWindows(grant: ResolvedGrant, windows: QuotaWindows, baseline: { readonly day?: number | undefined; readonly month?: number | undefined } | undefined): QuotaWindowInput[] {
  return [
    { key: windows.day.key, limit: grant.limits.day - (baseline?.day ?? 0), expiresAt: windows.day.resetsAt },
    { key: windows.month.key, limit: grant.limits.month - (baseline?.month ?? 0), expiresAt: windows.month.resetsAt },
  ];
}

/** The windows of a consume under `grant` when the host counts nothing itself: the same frozen list all day. */
const windowsOfGrant = new WeakMap<ResolvedGrant, { readonly of: QuotaWindows; readonly list: readonly QuotaWindowInput[] }>();
function grantWindows(grant: ResolvedGrant, now: number): readonly QuotaWindowInput[] {
  const windows = quotaWindows(now);
  const kept = windowsOfGrant.get(grant);
  if (kept !== undefined && kept.of === windows) return kept.list;
  // Frozen: every consume under this grant today hands the store this one list.
  const list = Object.freeze(consumeWindows(grant, windows, undefined).map((w) => Object.freeze(w)));
  windowsOfGrant.set(grant, { of: windows, list });
  return list;
}

/** What a check is about, carried through its steps. */
interface Check<A extends string> {
  readonly account: Account;
  readonly action: A;
  readonly amount: number;
  readonly quotaReason: string | undefined;
  readonly grant: ResolvedGrant | undefined;
  readonly now: number;
}

/**
 * The policy's view of an account: its tier, status and custom domains, `usage` and the webhook's health.
 * Built field by field (no spreads): it runs on every capabilities and guarded request.
 */
function accountState(account: Account, usage: Usage | undefined, webhookHealthy: boolean): AccountState {
  const state: { -readonly [K in keyof AccountState]: AccountState[K] } = { tier: account.tier, webhookHealthy };
  if (account.status !== undefined) state.status = account.status;
  if (usage !== undefined) state.usage = usage;
  if (account.customDomains !== undefined) state.customDomains = account.customDomains;
  return state;
}

/**
 * Creates the tiergate service. Options are validated at once (throws
 * `CONFIG_INVALID` / `TIER_TABLE_INVALID`).
 *
 * @example
 * const tiergate = createTiergate({
 *   authenticate: (apiKey) => users.findByApiKey(apiKey),
 *   secret: process.env.TIERGATE_SECRET!,
 *   publicUrl: 'https://api.example.com',
 * });
 */
export function createTiergate<TT extends TierTable = typeof defaultTiers>(options: TiergateOptions<TT>): Tiergate<TT> {
  validateOptions(options);
  const tiers = (options.tiers ?? defaultTiers) as TT;
  const table = tiers as TierTable;
  const store = options.store ?? memoryStore();
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? defaultLogger;
  const catalog = mergeCatalog(options.messages);
  const keyring = createKeyring({ secrets: secretsOf(options.secret), ...(options.linkAlgorithm === undefined ? {} : { linkAlgorithm: options.linkAlgorithm }) });
  const linkTtl = options.linkTtlSeconds ?? 7 * DAY_S;
  const refreshMs = Math.min((options.linkRefreshSeconds ?? 3600) * 1000, linkTtl * 500);
  const retentionMs = (options.retentionSeconds ?? 30 * DAY_S) * 1000;
  const hostLinks: HostLinks = options.links ?? {};
  const webhookOptions = options.webhooks ?? {};
  const allowPrivate = webhookOptions.allowPrivateCallbacks ?? false;
  const resolve: LookupAll = webhookOptions.resolve ?? ((host) => dnsLookup(host, { all: true, verbatim: true }));
  const transport = webhookOptions.transport ?? nodeHttpTransport({ allowPrivate, resolve });
  const notifiers: NotifierOptions | undefined = options.notifiers;
  const background = options.background ?? {};
  const maxBodyBytes = options.maxBodyBytes ?? 64 * 1024;
  const publicUrl = (): string => {
    const raw = typeof options.publicUrl === 'function' ? options.publicUrl() : options.publicUrl;
    return raw.endsWith('/') ? raw.slice(0, -1) : raw;
  };
  const notifyLimiter: RateLimiter | undefined =
    options.notifyRateLimit === false
      ? undefined
      : store.rateLimiter({
          keyPrefix: 'tiergate:notify',
          points: options.notifyRateLimit?.points ?? 10,
          durationSeconds: options.notifyRateLimit?.durationSeconds ?? 3600,
        });

  const links = new LinkCache(10_000, refreshMs);
  // The two reads of every capabilities and guarded request: the memory store's own, answered without a
  // promise; every other store's, through its promises.
  const syncStore = syncStoreOf(store);
  const counts: SyncStore | Pick<Store, 'readAccountState' | 'consumeQuota'> = syncStore ?? store;
  const capabilitiesCache = new Map<string, { caps: Capabilities; result: CapabilitiesResult; validUntil: number; url: string }>();
  const meteredNames = table.metered.map((a) => a.name);

  const linkOptions = (now: number) => ({ keyring, issuer: publicUrl(), now });

  async function callStore<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      throw asStoreFailure(err);
    }
  }

  // ------------------------------------------------------------- account state

  /**
   * The account as the policy sees it: the store's counts plus the host's own usage, and webhook health.
   * Answered without a promise when the store reads synchronously (the memory store), else one `then`
   * on the store's promise (this runs on every capabilities request and every guarded one).
   */
  function readAccount(account: Account, now: number): AccountRead | Promise<AccountRead> {
    let reading: AccountStateRead | PromiseLike<AccountStateRead>;
    try {
      // (callStore inlined: no closure per request.)
      reading = counts.readAccountState(account.id, meteredNames, quotaWindows(now).keys);
    } catch (err) {
      return Promise.reject(asStoreFailure(err));
    }
    if (!isThenable(reading)) return accountRead(account, reading);
    // Promise.resolve: a store may answer with any thenable (a native promise passes through as it is).
    return Promise.resolve(reading).then((read) => accountRead(account, read), throwAsStoreFailure);
  }

  function accountRead(account: Account, read: AccountStateRead): AccountRead {
    let usage: Record<string, { day: number; month: number }> | undefined;
    for (const name of meteredNames) {
      const counted = read.usage[name] ?? [0, 0];
      const baseline = account.usage?.[name];
      const day = counted[0] + (baseline?.day ?? 0);
      const month = counted[1] + (baseline?.month ?? 0);
      if (day !== 0 || month !== 0) (usage ??= {})[name] = { day, month };
    }
    const state = accountState(account, usage, read.health.healthy && account.webhookHealthy !== false);
    return { state, health: read.health };
  }

  function details(account: Account, state: AccountState, health: EndpointHealth): AccountDetails {
    const tier = table.tier(account.tier);
    const usage = meteredNames.flatMap((name) => {
      const grant = tier?.grants.get(name);
      if (grant === undefined) return [];
      const used = state.usage?.[name];
      return [{ action: name, day: [used?.day ?? 0, grant.limits.day] as const, month: [used?.month ?? 0, grant.limits.month] as const }];
    });
    const domainsGrant = tier?.grants.get('use_custom_domains');
    return {
      id: account.id,
      tier: account.tier,
      tierLabel: tier?.label ?? account.tier,
      status: account.status ?? 'active',
      usage,
      customDomains: account.customDomains === undefined && domainsGrant === undefined ? null : [account.customDomains ?? 0, domainsGrant?.max ?? 0],
      webhookHealthy: health.healthy && account.webhookHealthy !== false,
    };
  }

  // ---------------------------------------------------------------------- links

  async function issueLink(claims: LinkClaimsInput, ttlSeconds: number, now: number): Promise<IssuedLink> {
    return issueLinkNow(claims, ttlSeconds, now);
  }

  /** {@link issueLink} without a promise when the link is signed on this turn (HS256, keys imported). */
  function issueLinkNow(claims: LinkClaimsInput, ttlSeconds: number, now: number): IssuedLink | Promise<IssuedLink> {
    const signed = signLinkNow(claims, ttlSeconds, linkOptions(now));
    return isThenable(signed) ? signed.then((link) => linkFrom(claims, link)) : linkFrom(claims, signed);
  }

  function linkFrom(claims: LinkClaimsInput, { token, expiresAt, linkId }: SignedLink): IssuedLink {
    const path = claims.purpose === 'upgrade' ? '/upgrade' : '/operator/action';
    return { url: `${publicUrl()}${path}?token=${token}`, expiresAt, linkId };
  }

  // The last public URL checked by plainLink(), and whether it was JSON-plain.
  let plainChecked: { readonly base: string; readonly plain: boolean } | undefined;

  /**
   * Whether `url`, a link linkFrom() made, is JSON-plain: its path and token are (base64url segments,
   * whatever the algorithm), so it is when the public URL it starts with is — checked once per value.
   */
  function plainLink(url: string): boolean {
    const base = publicUrl();
    if (plainChecked?.base !== base) plainChecked = { base, plain: isJsonPlain(base) };
    return plainChecked.plain && url.startsWith(base) && url.charCodeAt(base.length) === 47;
  }

  /** A reusable link (capabilities, guard denies, page suggestions). */
  function cachedLink(claims: LinkClaimsInput, now: number) {
    const key = `${claims.purpose}\u0000${claims.accountId}\u0000${claims.targetTier ?? ''}\u0000${claims.reason ?? ''}\u0000${keyring.currentKid}\u0000${publicUrl()}`;
    return links.getOrCreate(key, now, async () => {
      const link = await issueLink(claims, linkTtl, now);
      return { url: link.url, expiresAt: link.expiresAt, issuedAt: now };
    });
  }

  function primaryDeny<E extends CannotEntry>(cannot: readonly E[]): E | undefined {
    let best: E | undefined;
    let bestRank = Infinity;
    for (const entry of cannot) {
      const rank = SEND_PRECEDENCE[table.reasons.get(entry.reason) ?? 'tier'];
      if (rank < bestRank) {
        best = entry;
        bestRank = rank;
      }
    }
    return best;
  }

  async function upgradeContextFor(account: Account, entry: { action: string; reason: string }, now: number): Promise<{ context: UpgradeContext; issuedAt: number }> {
    const messages = reasonMessages(catalog, entry.reason, entry.action, table.reasons.get(entry.reason));
    const target = table.upgradeTarget(account.tier, entry.action, entry.reason);
    if (target !== undefined) {
      const link = await cachedLink({ purpose: 'upgrade', accountId: account.id, targetTier: target.name }, now);
      return {
        context: { operator_action_url: link.url, operator_action_label: messages.actionLabel, agent_script: catalog.agentScript.upgrade(messages.need, link.url) },
        issuedAt: link.issuedAt,
      };
    }
    const hostUrl = safeHttpUrl(messages.suggest === 'webhook_settings' ? hostLinks.webhookSettingsUrl?.(account) : hostLinks.supportUrl?.(account));
    if (hostUrl !== undefined) {
      return { context: { operator_action_url: hostUrl, operator_action_label: messages.actionLabel, agent_script: catalog.agentScript.action(messages.need, hostUrl) }, issuedAt: Infinity };
    }
    const link = await cachedLink({ purpose: 'operator_action', accountId: account.id, reason: entry.reason }, now);
    return {
      context: { operator_action_url: link.url, operator_action_label: messages.actionLabel, agent_script: catalog.agentScript.action(messages.need, link.url) },
      issuedAt: link.issuedAt,
    };
  }

  /**
   * The wire answer for `caps`: the one kept for this account when it was built for the same capabilities and
   * its links are still young enough — returned as it is, without a promise (the common case) — or a new one.
   */
  function decorate(account: Account, caps: Capabilities, now: number): CapabilitiesResult | Promise<CapabilitiesResult> {
    const cached = capabilitiesCache.get(account.id);
    if (cached !== undefined && cached.caps === caps && now < cached.validUntil && now >= cached.validUntil - refreshMs && cached.url === publicUrl()) return cached.result;
    return buildAnswer(account, caps, now);
  }

  /** Builds (and keeps) the answer: links from the link cache, signed when missing or old. */
  async function buildAnswer(account: Account, caps: Capabilities, now: number): Promise<CapabilitiesResult> {
    const base = publicUrl();
    let result: CapabilitiesResult;
    let oldest = Infinity;
    if (caps.cannot.length === 0) {
      result = { tier: caps.tier, can: caps.can as CapabilitiesResult['can'], cannot: [], upgrade_context: null };
    } else {
      const cannot: CannotEntryWire[] = [];
      for (const entry of caps.cannot) {
        const target = table.upgradeTarget(account.tier, entry.action, entry.reason);
        if (target === undefined) {
          cannot.push({ ...entry, api_call: 'POST /v1/notify-operator' });
          continue;
        }
        const link = await cachedLink({ purpose: 'upgrade', accountId: account.id, targetTier: target.name }, now);
        oldest = Math.min(oldest, link.issuedAt);
        cannot.push({ ...entry, unlock_url: link.url, api_call: 'POST /v1/upgrade-link' });
      }
      const primary = primaryDeny(caps.cannot) as CannotEntry;
      const upgrade = await upgradeContextFor(account, primary, now);
      oldest = Math.min(oldest, upgrade.issuedAt);
      result = { tier: caps.tier, can: caps.can as CapabilitiesResult['can'], cannot, upgrade_context: upgrade.context };
    }
    const validUntil = oldest === Infinity ? now + refreshMs : oldest + refreshMs;
    capabilitiesCache.delete(account.id);
    setBounded(capabilitiesCache, account.id, { caps, result, validUntil, url: base }, 10_000);
    return result;
  }

  // ------------------------------------------------------------------ approvals

  // The last snapshot per account id (frozen, shared by that account's records while its fields are the
  // same): the memory store keeps one object per account instead of one per notification.
  const snapshots = new Map<string, AccountSnapshot>();
  function snapshotOf(account: Account): AccountSnapshot {
    const status = account.status ?? 'active';
    const operatorEmail = account.operatorEmail ?? null;
    const customDomains = account.customDomains ?? null;
    const known = snapshots.get(account.id);
    if (known !== undefined && known.tier === account.tier && known.status === status && known.operatorEmail === operatorEmail && known.customDomains === customDomains) return known;
    const snapshot: AccountSnapshot = Object.freeze({ tier: account.tier, status, operatorEmail, customDomains });
    if (snapshots.size >= MAX_SNAPSHOTS) snapshots.clear();
    snapshots.set(account.id, snapshot);
    return snapshot;
  }

  async function accountById(accountId: string, snapshot: AccountSnapshot | undefined): Promise<Account | null> {
    if (options.findAccount !== undefined) {
      const found = await options.findAccount(accountId);
      if (found !== null && found !== undefined) return found;
    }
    if (snapshot === undefined) return null;
    return {
      id: accountId,
      tier: snapshot.tier,
      status: snapshot.status,
      ...(snapshot.operatorEmail === null ? {} : { operatorEmail: snapshot.operatorEmail }),
      ...(snapshot.customDomains === null ? {} : { customDomains: snapshot.customDomains }),
    };
  }

  function callbackMessage(approval: ApprovalRecord, type: string, now: number): OutboxMessage[] {
    if (approval.callbackUrl === null) return [];
    return [
      {
        id: newId('msg_'),
        accountId: approval.accountId,
        topic: 'callback',
        type,
        subjectId: approval.id,
        target: approval.callbackUrl,
        state: 'pending',
        attempts: 0,
        nextAttemptAt: now,
        createdAt: now,
        lastError: null,
        purgeAt: now + retentionMs,
      },
    ];
  }

  /** What the store writes for a planned transition: the patch, its audit entry and the callback (if any). */
  function transitionInput(approval: ApprovalRecord, plan: TransitionPlan & { ok: true }, actor: DecisionActor & { by: string }, now: number): ApprovalTransitionInput {
    const decided: ApprovalRecord = { ...approval, ...plan.patch, purgeAt: Math.max(approval.purgeAt, plan.patch.decidedAt + retentionMs) };
    const audit: AuditEntry = {
      approvalId: approval.id,
      at: now,
      event: plan.patch.status,
      actor: plan.patch.status === 'expired' ? 'system' : actor.by,
      ip: actor.ip ?? null,
      userAgent: actor.userAgent ?? null,
    };
    return { id: approval.id, patch: { ...plan.patch }, audit, outbox: callbackMessage(decided, plan.event, now) };
  }

  async function transition(approval: ApprovalRecord, change: ApprovalTransition, actor: DecisionActor & { by: string }, force = false): Promise<DecisionOutcome> {
    const now = clock.now();
    const plan = planTransition(approval, change, now, force);
    if (!plan.ok) {
      if (plan.code === 'APPROVAL_EXPIRED' && approval.status === 'pending') {
        // Decided after the deadline but before a sweep: expire it now (once).
        const expired = await transition(approval, { to: 'expired' }, { by: 'system' });
        return { ok: false, code: 'APPROVAL_EXPIRED', approval: expired.approval };
      }
      if (plan.code === 'APPROVAL_NOT_DUE') return { ok: false, code: 'APPROVAL_ALREADY_DECIDED', approval };
      return { ok: false, code: plan.code, approval };
    }
    const result = await callStore(() => store.transitionApproval(transitionInput(approval, plan, actor, now)));
    if (!result.ok) {
      const current = result.approval ?? approval;
      return { ok: false, code: current.status === 'expired' ? 'APPROVAL_EXPIRED' : 'APPROVAL_ALREADY_DECIDED', approval: current };
    }
    dispatcher.kick();
    return { ok: true, approval: result.approval };
  }

  async function loadApproval(requestId: string): Promise<ApprovalRecord | null> {
    if (typeof requestId !== 'string' || !/^apr_[A-Za-z0-9_-]{1,64}$/.test(requestId)) return null;
    return callStore(() => store.getApproval(requestId));
  }

  async function decideById(
    requestId: string,
    input: { decision: 'approve' | 'deny'; by?: string; denialReason?: string | null } & DecisionActor,
  ): Promise<DecisionOutcome> {
    const approval = await loadApproval(requestId);
    if (approval === null) throw new TiergateError('NOT_FOUND', 'No such approval request.');
    const by = input.by ?? 'operator';
    const change: ApprovalTransition =
      input.decision === 'approve' ? { to: 'approved', by } : { to: 'denied', by, reason: input.denialReason?.trim() ? input.denialReason.trim() : null };
    return transition(approval, change, { ...input, by });
  }

  function approvalResult(approval: ApprovalRecord): ApprovalResult {
    return {
      request_id: approval.id,
      status: approval.status,
      action: approval.action,
      urgency: approval.urgency,
      created_at: isoTime(approval.createdAt),
      expires_at: isoTime(approval.expiresAt),
      decided_by: approval.status === 'expired' ? null : approval.decidedBy,
      decided_at: approval.decidedAt === null ? null : isoTime(approval.decidedAt),
      denial_reason: approval.denialReason,
    };
  }

  /** Lazily expires an overdue pending approval so readers never see a stale `pending`. */
  async function settleOverdue(approval: ApprovalRecord): Promise<ApprovalRecord> {
    if (approval.status !== 'pending' || clock.now() < approval.expiresAt) return approval;
    return (await transition(approval, { to: 'expired' }, { by: 'system' })).approval;
  }

  // ---------------------------------------------------------------- dispatcher

  const dispatcher = createDispatcher({
    store,
    clock,
    logger,
    keyring,
    catalog,
    transport,
    notifiers,
    retrySchedule: webhookOptions.retrySchedule,
    timeoutMs: webhookOptions.timeoutMs ?? 15_000,
    unhealthyAfter: webhookOptions.unhealthyAfter ?? 5,
    batchSize: background.batchSize ?? 32,
    leaseMs: background.leaseMs ?? 60_000,
    reviewUrl: async (notification: NotificationRecord, now: number) => {
      const link = await issueLink(
        {
          purpose: 'operator_action',
          accountId: notification.accountId,
          notificationId: notification.id,
          ...(notification.approvalId === null ? {} : { approvalId: notification.approvalId }),
        },
        Math.max(1, Math.ceil((notification.expiresAt - now) / 1000)),
        now,
      );
      return link.url;
    },
    accountById: (id, snapshot) => accountById(id, snapshot),
  });

  async function verifyDnsTarget(url: URL): Promise<boolean> {
    if (allowPrivate) return true;
    try {
      const addresses = await Promise.race([
        resolve(url.hostname),
        new Promise<readonly { address: string }[]>((r) => setTimeout(() => r([]), 2000).unref()),
      ]);
      return addresses.every((a) => isPublicAddress(a.address));
    } catch {
      return true; // unresolvable now: delivery will check again at connect time
    }
  }

  // --------------------------------------------------------------- operations

  async function suggestionsFor(account: Account, kinds: readonly string[], state: AccountState, caps: Capabilities, now: number): Promise<Suggestion[]> {
    const out: Suggestion[] = [];
    for (const kind of kinds) {
      if (kind === 'upgrade') {
        const blocked = caps.cannot.find((c) => table.upgradeTarget(state.tier, c.action, c.reason) !== undefined);
        const target = blocked !== undefined ? table.upgradeTarget(state.tier, blocked.action, blocked.reason) : table.tiers[(table.tier(state.tier)?.rank ?? Infinity) + 1];
        if (target === undefined) continue;
        const link = await cachedLink({ purpose: 'upgrade', accountId: account.id, targetTier: target.name }, now);
        out.push({ kind: 'upgrade', label: catalog.page.suggestUpgrade(target.label), url: link.url });
      } else if (kind === 'webhook_settings') {
        const url = safeHttpUrl(hostLinks.webhookSettingsUrl?.(account));
        if (url !== undefined) out.push({ kind: 'webhook_settings', label: catalog.page.suggestWebhookSettings, url });
      } else if (kind === 'support') {
        const url = safeHttpUrl(hostLinks.supportUrl?.(account));
        if (url !== undefined) out.push({ kind: 'support', label: catalog.page.suggestSupport, url });
      }
    }
    return out;
  }

  /**
   * `check()`, answered without a promise when nothing has to be waited for: an allowed action (its quota, if
   * any, taken by a synchronous store: the memory store). Throws synchronously for a bad `consume`, action or tier.
   */
  function checkNow<A extends string>(account: Account, action: A, opts: { readonly consume?: number } = {}): CheckResult<A> | Promise<CheckResult<A>> {
    const now = clock.now();
    const amount = opts.consume ?? 0;
    if (!Number.isInteger(amount) || amount < 0) throw new TiergateError('CONFIG_INVALID', 'consume must be a non-negative integer');
    const meta = table.action(action);
    if (meta === undefined) throw new TiergateError('CONFIG_INVALID', `Unknown action "${action}" (not in the tier table).`);
    const tier = table.tier(account.tier);
    if (tier === undefined) throw new TiergateError('CONFIG_INVALID', `Account tier "${account.tier}" is not in the tier table.`);
    const check: Check<A> = { account, action, amount, quotaReason: meta.quotaReason, grant: tier.grants.get(action), now };
    const needsRead = table.webhookHealth?.blocks.has(action) === true || (meta.quotaReason !== undefined && amount === 0);
    // Without a store read, what the host said about the account (its own usage counts).
    if (!needsRead) return decide(check, accountState(account, account.usage, account.webhookHealthy !== false));
    const read = readAccount(account, now);
    return isThenable(read) ? read.then((settled) => decide(check, settled.state)) : decide(check, read.state);
  }

  /** The decision on `state`; an allowed metered action then takes its quota in the store, atomically. */
  function decide<A extends string>(check: Check<A>, state: AccountState): CheckResult<A> | Promise<CheckResult<A>> {
    const { account, action, amount, grant, now } = check;
    const decision = checkAction(table as TierTable<A>, state, action, now, Math.max(amount, 1));
    if (!decision.allowed || amount === 0 || check.quotaReason === undefined || grant === undefined) return checked(check, decision, false);
    const baseline = account.usage?.[action];
    const input = { accountId: account.id, action, amount, windows: baseline === undefined ? grantWindows(grant, now) : consumeWindows(grant, quotaWindows(now), baseline) };
    let quota: QuotaResult | Promise<QuotaResult>;
    try {
      // (callStore inlined: no closure per guarded request.)
      quota = counts.consumeQuota(input);
    } catch (err) {
      throw asStoreFailure(err);
    }
    if (isThenable(quota)) return Promise.resolve(quota).then((settled) => quotaTaken(check, decision, settled), throwAsStoreFailure);
    return quotaTaken(check, decision, quota);
  }

  function quotaTaken<A extends string>(check: Check<A>, allowed: Decision<A>, quota: QuotaResult): CheckResult<A> | Promise<CheckResult<A>> {
    if (quota.ok) return checked(check, allowed, true);
    const { account, action, amount, now } = check;
    const windows = quotaWindows(now);
    const monthOver = (quota.used[1] ?? 0) + amount > (check.grant?.limits.month ?? 0) - (account.usage?.[action]?.month ?? 0);
    return checked(check, { allowed: false, action, reason: check.quotaReason as never, kind: 'quota', resetsAt: monthOver ? windows.month.resetsAt : windows.day.resetsAt }, false);
  }

  /** The result of a check: a denial with its upgrade context (a promise: its link may be signed), or the guard's context. */
  function checked<A extends string>(check: Check<A>, decision: Decision<A>, consumed: boolean): CheckResult<A> | Promise<CheckResult<A>> {
    if (!decision.allowed) return denied(check.account, decision, check.now);
    return new Allowed(check.account, decision, check.action, consumed ? check.amount : 0, consumed ? quotaWindows(check.now).keys : undefined);
  }

  /** The account's capabilities, read and decorated afresh (an allowed check's `capabilities()` and `ability()`). */
  async function loadCapabilities(account: Account): Promise<{ caps: Capabilities; result: CapabilitiesResult }> {
    const t = clock.now();
    const read = await readAccount(account, t);
    const caps = computeCapabilities(table, read.state, t);
    return { caps, result: await decorate(account, caps, t) };
  }

  /**
   * An allowed check: the guard's context. One object per guarded request and nothing else: `refund`,
   * `capabilities` and `ability` are made on first use (per context, so each may be destructured and called
   * on its own), not for every request that never calls them.
   */
  class Allowed<A extends string> {
    readonly allowed = true as const;
    #action: A;
    #windowKeys: readonly [string, string] | undefined;
    #caps: Promise<{ caps: Capabilities; result: CapabilitiesResult }> | undefined;
    #refund: (() => Promise<void>) | undefined;
    #capabilities: (() => Promise<CapabilitiesResult>) | undefined;
    #ability: (() => Promise<TiergateAbility>) | undefined;

    constructor(
      readonly account: Account,
      readonly decision: Decision<A>,
      action: A,
      readonly consumed: number,
      windowKeys: readonly [string, string] | undefined,
    ) {
      this.#action = action;
      this.#windowKeys = windowKeys;
    }

    /** Gives the consumed units back, once. */
    get refund(): () => Promise<void> {
      return (this.#refund ??= async () => {
        const windowKeys = this.#windowKeys;
        if (windowKeys === undefined) return;
        this.#windowKeys = undefined;
        const input = { accountId: this.account.id, action: this.#action, amount: this.consumed, windowKeys };
        await callStore(() => store.refundQuota(input));
      });
    }

    get capabilities(): () => Promise<CapabilitiesResult> {
      return (this.#capabilities ??= async () => (await this.#loadCaps()).result);
    }

    get ability(): () => Promise<TiergateAbility> {
      return (this.#ability ??= async () => abilityFromCapabilities((await this.#loadCaps()).caps));
    }

    #loadCaps(): Promise<{ caps: Capabilities; result: CapabilitiesResult }> {
      return (this.#caps ??= loadCapabilities(this.account));
    }
  }

  async function denied<A extends string>(account: Account, decision: Decision<A> & { allowed: false }, now: number): Promise<CheckResult<A>> {
    const { action, reason } = decision;
    const upgrade = await upgradeContextFor(account, { action, reason }, now);
    return {
      allowed: false,
      account,
      action,
      reason,
      kind: decision.kind,
      resetsAt: decision.resetsAt,
      upgradeContext: upgrade.context,
      message: catalog.denied(action, reasonMessages(catalog, reason, action, table.reasons.get(reason)).summary),
    };
  }

  /** `capabilities()`, answered without a promise when nothing has to be waited for (a synchronous store, links kept). */
  function capabilitiesNow(account: Account): CapabilitiesResult | Promise<CapabilitiesResult> {
    const now = clock.now();
    const read = readAccount(account, now);
    if (isThenable(read)) return read.then(({ state }) => decorate(account, computeCapabilities(table, state, now), now));
    return decorate(account, computeCapabilities(table, read.state, now), now);
  }

  function authenticateNow(authorization: string | readonly string[] | undefined): Account | null | Promise<Account | null> {
    const key = bearerToken(authorization);
    if (key === undefined) return null;
    const found = options.authenticate(key);
    return isThenable(found) ? Promise.resolve(found).then((account) => account ?? null) : (found ?? null);
  }

  /** `notifyOperator()`, with the link's expiry as a number and the rate-limit state beside the answer (the kernel's form). */
  async function notifyInternal(account: Account, body: unknown): Promise<NotifyOutcome> {
    const parsed = parseNotifyOperatorBody(body);
    if (!parsed.ok) throw new TiergateError('INVALID_REQUEST', catalog.errors.INVALID_REQUEST, { details: issuesOf(parsed.error) });
    const input = parsed.value;
    // On this turn, before anything awaits: the slot holds this parse's context text.
    const contextJson = input.context === undefined ? undefined : validatedContextJson(input.context);
    const now = clock.now();

    let callbackUrl: string | null = null;
    if (input.type === 'approval_request' && input.callbackUrl !== undefined) {
      const checked = checkCallbackUrl(input.callbackUrl, allowPrivate);
      if (!checked.ok || !(await verifyDnsTarget(checked.url))) {
        throw new TiergateError('CALLBACK_URL_FORBIDDEN', catalog.errors.CALLBACK_URL_FORBIDDEN, {
          details: [{ path: 'callback_url', message: checked.ok ? 'non_public_address' : checked.problem }],
        });
      }
      if (!isWebhookSecret(account.webhookSecret)) {
        throw new TiergateError('INVALID_REQUEST', catalog.errors.INVALID_REQUEST, {
          details: [{ path: 'callback_url', message: 'this account has no webhook secret (whsec_…), so callbacks cannot be signed' }],
        });
      }
      callbackUrl = checked.url.toString();
    }

    let rateLimit: RateLimitInfo | undefined;
    if (notifyLimiter !== undefined) {
      const outcome = await notifyLimiter.consume(account.id);
      rateLimit = { limit: outcome.limit, remaining: outcome.remaining, resetSeconds: Math.ceil(outcome.resetMs / 1000) };
      if (!outcome.allowed) {
        throw new TiergateError('RATE_LIMITED', catalog.errors.RATE_LIMITED, {
          retryAfterSeconds: Math.max(1, rateLimit.resetSeconds),
          details: { limit: rateLimit.limit, remaining: 0, reset_seconds: rateLimit.resetSeconds },
        });
      }
    }

    try {
      const notificationId = newId('not_');
      const approvalId = input.type === 'approval_request' ? newId('apr_') : null;
      const ttlSeconds = input.type === 'approval_request' && input.expiresIn !== undefined ? input.expiresIn : linkTtl;
      const actionLabel = input.actionLabel ?? catalog.defaultActionLabel;
      // Signed and sealed on this turn once the keyring's keys are imported (no promise to wait for).
      const linkNow = issueLinkNow(
        approvalId === null ? { purpose: 'operator_action', accountId: account.id, notificationId } : { purpose: 'operator_action', accountId: account.id, notificationId, approvalId },
        ttlSeconds,
        now,
      );
      const contextNow = input.context === undefined ? null : sealContextNow(keyring, input.context, notificationId, contextJson);
      const secretNow = approvalId !== null && callbackUrl !== null ? sealContextNow(keyring, account.webhookSecret, `${approvalId}#webhook-secret`) : null;
      const [link, sealedContext, sealedSecret] =
        isThenable(linkNow) || isThenable(contextNow) || isThenable(secretNow)
          ? await Promise.all([linkNow, contextNow, secretNow])
          : [linkNow, contextNow, secretNow];
      const expiresAt = link.expiresAt;
      const purgeAt = expiresAt + retentionMs;
      const snapshot = snapshotOf(account);
      // Frozen as written: the memory store keeps a frozen record as it is (no copy).
      const notification: NotificationRecord = Object.freeze({
        id: notificationId,
        accountId: account.id,
        issue: input.issue,
        actionLabel,
        sealedContext,
        approvalId,
        linkId: link.linkId,
        account: snapshot,
        createdAt: now,
        expiresAt,
        purgeAt,
      });
      const approval: ApprovalRecord | undefined =
        input.type === 'approval_request' && approvalId !== null
          ? Object.freeze({
              id: approvalId,
              accountId: account.id,
              notificationId,
              action: input.action,
              reason: input.reason,
              urgency: input.urgency,
              callbackUrl,
              sealedSecret,
              status: 'pending',
              createdAt: now,
              expiresAt,
              decidedAt: null,
              decidedBy: null,
              denialReason: null,
              purgeAt,
            })
          : undefined;
      const routed = dispatcher.notifierMessages(account, notification, approval, now, purgeAt);
      const outbox = isThenable(routed) ? await routed : routed;
      const write =
        approval === undefined
          ? { notification, outbox }
          : { notification, approval, audit: { approvalId: approval.id, at: now, event: 'created' as const, actor: 'agent', ip: null, userAgent: null }, outbox };
      if (syncStore === undefined) await callStore(() => store.createNotification(write));
      else {
        try {
          syncStore.createNotification(write);
        } catch (err) {
          throw asStoreFailure(err);
        }
      }
      if (outbox.length > 0) dispatcher.kick();
      const result: NotifyOperatorResult =
        approvalId === null
          ? {
              operator_action_url: link.url,
              operator_action_label: actionLabel,
              agent_script: catalog.agentScript.action(input.issue, link.url),
              notification_id: notificationId,
              expires_at: isoTime(expiresAt),
            }
          : {
              operator_action_url: link.url,
              operator_action_label: actionLabel,
              agent_script: catalog.agentScript.action(input.issue, link.url),
              notification_id: notificationId,
              expires_at: isoTime(expiresAt),
              request_id: approvalId,
              status: 'pending',
            };
      return { result, expiresAt, rateLimit, verbatim: plainLink(link.url) };
    } catch (err) {
      // Nothing was stored: give the rate-limit point back.
      if (notifyLimiter !== undefined) await notifyLimiter.refund(account.id).catch(() => undefined);
      throw err;
    }
  }

  const service: Tiergate<TT> = {
    tiers,
    store,
    messages: catalog,
    clock,
    logger,
    keyring,
    publicUrl,
    maxBodyBytes,

    async authenticate(authorization) {
      const found = authenticateNow(authorization);
      // A synchronous authenticator (apiKeyAuthenticator) is not awaited.
      return isThenable(found) ? await found : found;
    },

    async capabilities(account) {
      return capabilitiesNow(account);
    },

    async account(account) {
      const now = clock.now();
      const { state, health } = await readAccount(account, now);
      const windows = quotaWindows(now);
      const tier = table.tier(account.tier);
      if (tier === undefined) throw new TiergateError('CONFIG_INVALID', `Account tier "${account.tier}" is not in the tier table.`);
      const usage: AccountResult['usage'] = {};
      for (const name of meteredNames) {
        const grant = tier.grants.get(name);
        const used = state.usage?.[name];
        const limit = (n: number | undefined): number | null => (n === undefined ? 0 : n === Infinity ? null : n);
        usage[name] = {
          day: { used: used?.day ?? 0, limit: limit(grant?.limits.day), resets_at: isoTime(windows.day.resetsAt) },
          month: { used: used?.month ?? 0, limit: limit(grant?.limits.month), resets_at: isoTime(windows.month.resetsAt) },
        };
      }
      const domains = tier.grants.get('use_custom_domains');
      return {
        id: account.id,
        tier: account.tier,
        status: account.status ?? 'active',
        usage,
        custom_domains: { used: account.customDomains ?? 0, limit: domains === undefined ? 0 : domains.max === Infinity ? null : domains.max },
        webhook_health: { healthy: state.webhookHealthy !== false, consecutive_failures: health.consecutiveFailures },
      };
    },

    async upgradeLink(account, body) {
      const parsed = upgradeLinkBodySchema.safeParse(body ?? {});
      if (!parsed.success) throw new TiergateError('INVALID_REQUEST', catalog.errors.INVALID_REQUEST, { details: issuesOf(parsed.error) });
      const now = clock.now();
      const current = table.tier(account.tier);
      if (current === undefined) throw new TiergateError('CONFIG_INVALID', `Account tier "${account.tier}" is not in the tier table.`);
      let target = parsed.data.tier === undefined ? undefined : table.tier(parsed.data.tier);
      let need: string | undefined;
      let label: string | undefined;
      if (parsed.data.tier !== undefined && (target === undefined || target.rank <= current.rank)) {
        throw new TiergateError('INVALID_REQUEST', catalog.errors.INVALID_REQUEST, {
          details: [{ path: 'tier', message: target === undefined ? `unknown tier; one of ${table.tiers.map((t) => t.name).join(', ')}` : 'must be above the current tier' }],
        });
      }
      if (target === undefined) {
        const { state } = await readAccount(account, now);
        const caps = computeCapabilities(table, state, now);
        const blocked = primaryDeny(caps.cannot.filter((c) => table.upgradeTarget(account.tier, c.action, c.reason) !== undefined));
        if (blocked !== undefined) {
          target = table.upgradeTarget(account.tier, blocked.action, blocked.reason);
          const messages = reasonMessages(catalog, blocked.reason, blocked.action, table.reasons.get(blocked.reason));
          need = messages.need;
          label = messages.actionLabel;
        } else target = table.tiers[current.rank + 1];
      }
      if (target === undefined) {
        throw new TiergateError('INVALID_REQUEST', catalog.errors.INVALID_REQUEST, { details: [{ path: 'tier', message: 'the account is already on the highest tier' }] });
      }
      const link = await issueLink({ purpose: 'upgrade', accountId: account.id, targetTier: target.name }, linkTtl, now);
      return {
        operator_action_url: link.url,
        operator_action_label: label ?? catalog.page.upgradeTitle(target.label),
        agent_script: catalog.agentScript.upgrade(need ?? catalog.page.upgradeTitle(target.label), link.url),
        expires_at: isoTime(link.expiresAt),
        target_tier: target.name,
      };
    },

    async notifyOperator(account, body) {
      const { result, rateLimit } = await notifyInternal(account, body);
      return rateLimit === undefined ? result : { ...result, rateLimit };
    },

    async getApproval(account, requestId, opts = {}) {
      let approval = await loadApproval(requestId);
      if (approval === null || approval.accountId !== account.id) throw new TiergateError('NOT_FOUND', 'No such approval request.');
      approval = await settleOverdue(approval);
      const wait = Math.min(Math.max(0, opts.waitSeconds ?? 0), LONG_POLL_MAX_SECONDS) * 1000;
      if (wait > 0 && approval.status === 'pending') {
        const deadline = Date.now() + wait;
        while (approval.status === 'pending' && Date.now() < deadline && opts.signal?.aborted !== true) {
          const untilExpiry = approval.expiresAt - clock.now();
          await store.waitForApproval(approval.id, Math.min(deadline - Date.now(), Math.max(untilExpiry, 0) + 50), opts.signal);
          const next = await loadApproval(approval.id);
          if (next === null) break;
          approval = await settleOverdue(next);
        }
      }
      return approvalResult(approval);
    },

    async check(account, action, opts = {}) {
      return checkNow(account, action, opts);
    },

    async operatorView(token, choice) {
      const now = clock.now();
      const claims = await verifyLink(token, 'operator_action', linkOptions(now));
      if (claims.notificationId === undefined) {
        if (claims.reason === undefined) throw new TiergateError('LINK_INVALID', catalog.errors.LINK_INVALID);
        const account = await accountById(claims.accountId, undefined);
        if (account === null) throw new TiergateError('NOT_FOUND', 'Unknown account.');
        const { state, health } = await readAccount(account, now);
        const caps = computeCapabilities(table, state, now);
        const reasonText = reasonMessages(catalog, claims.reason, '', table.reasons.get(claims.reason));
        const kinds = [reasonText.suggest];
        return {
          kind: 'status',
          reason: claims.reason,
          summary: reasonText.summary,
          account: details(account, state, health),
          suggestions: await suggestionsFor(account, kinds, state, caps, now),
          now,
        };
      }
      const notificationId = claims.notificationId;
      // Only ids tiergate could have issued reach the store (a NUL byte would make PostgreSQL fail: 503 for a 404).
      const notification = /^not_[A-Za-z0-9_-]{1,64}$/.test(notificationId) ? await callStore(() => store.getNotification(notificationId)) : null;
      if (notification === null) throw new TiergateError('NOT_FOUND', 'This request no longer exists.');
      assertLinkMatches(claims, notification);
      const approvalRecord = notification.approvalId === null ? null : await loadApproval(notification.approvalId);
      const approval = approvalRecord === null ? null : await settleOverdue(approvalRecord);
      let context: Extract<OperatorView, { kind: 'notification' }>['context'] = { state: 'none' };
      if (notification.sealedContext !== null) {
        try {
          // One frozen value shared by every view of this record: the page remembers its rendering with it.
          const opened = openContextShared(keyring, notification.sealedContext, notification.id);
          context = { state: 'ok', value: isThenable(opened) ? await opened : opened };
        } catch (err) {
          if (!isTiergateError(err, 'CONTEXT_UNAVAILABLE')) throw err;
          logger.warn('context unavailable', { notificationId: notification.id });
          context = { state: 'unavailable' };
        }
      }
      const account = (await accountById(notification.accountId, notification.account)) as Account;
      const { state, health } = await readAccount(account, now);
      const caps = computeCapabilities(table, state, now);
      const kinds = suggestionKinds(catalog, notification.issue, context.state === 'ok' ? context.value : undefined, caps.cannot, (r) => table.reasons.get(r));
      return {
        kind: 'notification',
        notification,
        approval,
        context,
        account: details(account, state, health),
        suggestions: await suggestionsFor(account, kinds, state, caps, now),
        formToken: keyring.formToken(claims.linkId),
        token: token as string,
        choice: choice === 'approve' || choice === 'deny' ? choice : null,
        now,
        operatorEmail: account.operatorEmail ?? null,
      };
    },

    async upgradeView(token) {
      const now = clock.now();
      const claims = await verifyLink(token, 'upgrade', linkOptions(now));
      const target = claims.targetTier === undefined ? undefined : table.tier(claims.targetTier);
      if (target === undefined) throw new TiergateError('LINK_INVALID', catalog.errors.LINK_INVALID);
      const account = await accountById(claims.accountId, undefined);
      if (account === null) throw new TiergateError('NOT_FOUND', 'Unknown account.');
      const current = table.tier(account.tier);
      if (current === undefined) throw new TiergateError('CONFIG_INVALID', `Account tier "${account.tier}" is not in the tier table.`);
      const { state, health } = await readAccount(account, now);
      const unlocks = table.actions
        .map((a) => ({ action: a.name, now: current.grants.get(a.name), then: target.grants.get(a.name) }))
        .filter(({ now: before, then }) => then !== undefined && (before === undefined || then.description !== before.description))
        .map(({ action, then }) => ({ action, description: (then as { description: string }).description }));
      return {
        account: details(account, state, health),
        current: { name: current.name, label: current.label },
        target: { name: target.name, label: target.label },
        unlocks,
        checkoutUrl: safeHttpUrl(hostLinks.checkoutUrl?.(account, target.name)) ?? null,
        alreadyOnTier: current.rank >= target.rank,
        expiresAt: claims.expiresAt * 1000,
        now,
      };
    },

    async decideWithLink(input) {
      const now = clock.now();
      const claims = await verifyLink(input.token, 'operator_action', linkOptions(now));
      if (typeof input.formToken !== 'string' || !keyring.verifyFormToken(claims.linkId, input.formToken)) {
        throw new TiergateError('CSRF_REJECTED', catalog.errors.CSRF_REJECTED);
      }
      if (claims.approvalId === undefined || claims.notificationId === undefined) throw new TiergateError('LINK_SCOPE_MISMATCH', catalog.errors.LINK_SCOPE_MISMATCH);
      const approval = await loadApproval(claims.approvalId);
      if (approval === null) throw new TiergateError('NOT_FOUND', 'This request no longer exists.');
      if (approval.accountId !== claims.accountId || approval.notificationId !== claims.notificationId) {
        throw new TiergateError('LINK_SCOPE_MISMATCH', catalog.errors.LINK_SCOPE_MISMATCH);
      }
      const notification = await callStore(() => store.getNotification(approval.notificationId));
      const account = await accountById(approval.accountId, notification?.account);
      const typed = input.name?.trim();
      const by = account?.operatorEmail ?? (typed !== undefined && typed !== '' ? typed : 'operator');
      const change: ApprovalTransition =
        input.decision === 'approve' ? { to: 'approved', by } : { to: 'denied', by, reason: input.denialReason?.trim() ? input.denialReason.trim() : null };
      return transition(approval, change, {
        by,
        ...(input.ip === undefined ? {} : { ip: input.ip }),
        ...(input.userAgent === undefined ? {} : { userAgent: input.userAgent.slice(0, 512) }),
      });
    },

    approvals: {
      decide: decideById,
      async expire(requestId, opts = {}) {
        const approval = await loadApproval(requestId);
        if (approval === null) throw new TiergateError('NOT_FOUND', 'No such approval request.');
        return transition(approval, { to: 'expired' }, { by: 'system' }, opts.force ?? false);
      },
      get: (requestId) => loadApproval(requestId),
      audit: (requestId) => callStore(() => store.listAudit(requestId)),
      deliveries: (requestId) => callStore(() => store.listOutbox(requestId)),
    },

    async sweep() {
      const now = clock.now();
      let expired = 0;
      for (let round = 0; round < 10; round += 1) {
        const due = await callStore(() => store.dueApprovals(now, 100));
        if (due.length === 0) break;
        // One batch per round: PostgreSQL writes it in one statement, Redis in one round trip.
        const batch: ApprovalTransitionInput[] = [];
        for (const approval of due) {
          const plan = planTransition(approval, { to: 'expired' }, now);
          if (plan.ok) batch.push(transitionInput(approval, plan, { by: 'system' }, now));
        }
        const results = batch.length === 0 ? [] : await callStore(() => transitionEach(store, batch));
        for (const result of results) if (result.ok) expired += 1;
        if (results.some((r) => r.ok)) dispatcher.kick();
        if (due.length < 100) break;
      }
      const purged = await callStore(() => store.purge(now, 1000));
      return { expired, purged };
    },

    deliver: () => dispatcher.deliverOnce(),

    start() {
      dispatcher.start(background.deliverIntervalMs ?? 500);
      if (sweepTimer === undefined) {
        sweepTimer = setInterval(() => {
          if (sweeping) return;
          sweeping = service
            .sweep()
            .catch((err: unknown) => logger.warn('sweep failed', { error: err instanceof Error ? err.message : String(err) }))
            .then(() => {
              sweeping = undefined;
            });
        }, background.sweepIntervalMs ?? 1000);
        sweepTimer.unref();
      }
    },

    async stop() {
      if (sweepTimer !== undefined) clearInterval(sweepTimer);
      sweepTimer = undefined;
      await sweeping;
      await dispatcher.stop();
    },
  };

  let sweepTimer: NodeJS.Timeout | undefined;
  let sweeping: Promise<void> | undefined;

  function assertLinkMatches(claims: LinkClaims, notification: NotificationRecord): void {
    if (notification.accountId !== claims.accountId || (claims.approvalId ?? null) !== notification.approvalId) {
      throw new TiergateError('LINK_SCOPE_MISMATCH', catalog.errors.LINK_SCOPE_MISMATCH);
    }
  }

  registerInternals(service, { authenticateNow, capabilitiesNow, checkNow, notify: notifyInternal });
  return service;
}
