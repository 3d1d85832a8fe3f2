/**
 * Tier tables: actions, tiers and reason codes as data.
 *
 * A host describes its product once with {@link defineTiers}; every other
 * layer (capabilities, CASL ability, guard, pages, OpenAPI) reads the compiled
 * {@link TierTable}. Tier order in the table is the upgrade path.
 */
import { TiergateError } from '../errors.js';

/** Quota limits of a metered action per calendar-aligned UTC window; omitted = unlimited. */
export interface QuotaLimits {
  /** Per UTC day (00:00:00–23:59:59). */
  readonly day?: number;
  /** Per UTC calendar month. */
  readonly month?: number;
}

/** What a description function can read. `Infinity` means unlimited. */
export interface DescriptionContext {
  readonly tier: string;
  readonly limits: { readonly day: number; readonly month: number };
  readonly max: number;
}

/** A fixed description, or one computed from the tier's limits. */
export type Description = string | ((context: DescriptionContext) => string);

/** One action an account may be allowed to do. */
export interface ActionDefinition<R extends string = string> {
  /** Shown in `can[]`; a function receives the tier's limits. */
  readonly description: Description;
  /** Reason code when the account's tier does not include the action (e.g. `SEND_REQUIRES_PAID`). Defaults to `<ACTION>_REQUIRES_UPGRADE`. */
  readonly reason?: R;
  /** Marks the action metered per UTC day/month; `reason` is used when a window is used up. */
  readonly quota?: { readonly reason: R };
}

/** What a tier grants for one action: `true`, or overrides. */
export interface GrantDefinition {
  /** Replaces the action's description for this tier. */
  readonly description?: Description;
  /** Quota for a metered action; omitted windows are unlimited. */
  readonly limits?: QuotaLimits;
  /** A gauge (such as custom domains): how many the tier allows; omitted = unlimited. */
  readonly max?: number;
}

/** One tier. */
export interface TierDefinition<A extends string = string> {
  /** Display name; defaults to the capitalised key. */
  readonly label?: string;
  /** Actions this tier includes. Anything absent is denied with the action's reason. */
  readonly grants: { readonly [K in A]?: true | GrantDefinition };
}

/** An account status other than `active` that blocks actions. */
export interface StatusRule<A extends string = string, R extends string = string> {
  readonly reason: R;
  /** Actions blocked while the account has this status, or `'all'`. */
  readonly blocks: readonly A[] | 'all';
}

/** The whole table as a host writes it. */
export interface TierTableDefinition<A extends string = string, T extends string = string, R extends string = string> {
  readonly actions: { readonly [K in A]: ActionDefinition<R> };
  readonly tiers: { readonly [K in T]: TierDefinition<A> };
  readonly statuses?: { readonly [status: string]: StatusRule<A, R> };
  readonly webhookHealth?: { readonly reason: R; readonly blocks: readonly A[] };
}

/** Where a reason code comes from; it decides the HTTP status of a deny and whether an upgrade fixes it. */
export type ReasonKind = 'tier' | 'quota' | 'status' | 'webhook';

/** A grant after defaults are applied. */
export interface ResolvedGrant {
  readonly description: string;
  /** Infinity = unlimited. */
  readonly limits: { readonly day: number; readonly month: number };
  /** Infinity = unlimited. */
  readonly max: number;
}

/** A compiled tier. */
export interface ResolvedTier<A extends string = string, T extends string = string> {
  readonly name: T;
  readonly label: string;
  /** Position in the upgrade path, 0 = lowest. */
  readonly rank: number;
  /** Grants by action name (looked up with any string; unknown actions are absent). */
  readonly grants: ReadonlyMap<string, ResolvedGrant>;
}

/** A compiled action. */
export interface ResolvedAction<A extends string = string, R extends string = string> {
  readonly name: A;
  readonly index: number;
  readonly tierReason: R;
  readonly quotaReason: R | undefined;
}

/**
 * A validated, compiled tier table. Build one with {@link defineTiers}; the
 * type parameters carry the host's action, tier and reason names.
 */
export interface TierTable<A extends string = string, T extends string = string, R extends string = string> {
  /** Actions in table order (the order of `can[]` and `cannot[]`). */
  readonly actions: readonly ResolvedAction<A, R>[];
  /** Tiers in upgrade order. */
  readonly tiers: readonly ResolvedTier<A, T>[];
  /** Every reason code the table can produce, with its kind. */
  readonly reasons: ReadonlyMap<R, ReasonKind>;
  /** Status rules by status name. */
  readonly statuses: ReadonlyMap<string, { readonly reason: R; readonly blocks: ReadonlySet<A> | 'all' }>;
  /** The webhook-health rule, if any. */
  readonly webhookHealth: { readonly reason: R; readonly blocks: ReadonlySet<A> } | undefined;
  /** Metered actions (those with a quota). */
  readonly metered: readonly ResolvedAction<A, R>[];
  /** Looks up a tier by name. */
  tier(name: string): ResolvedTier<A, T> | undefined;
  /** Looks up an action by name. */
  action(name: string): ResolvedAction<A, R> | undefined;
  /**
   * The lowest tier above `from` that lifts `reason` for `action`: one that
   * grants the action (tier reasons) or grants more of the exhausted window
   * (quota reasons). `undefined` when no upgrade helps (status, webhook).
   */
  upgradeTarget(from: string, action: string, reason: string): ResolvedTier<A, T> | undefined;
}

/** The action names of a table. */
export type ActionOf<TT> = TT extends TierTable<infer A, string, string> ? A : never;
/** The tier names of a table. */
export type TierOf<TT> = TT extends TierTable<string, infer T, string> ? T : never;
/** The reason codes of a table. */
export type ReasonOf<TT> = TT extends TierTable<string, string, infer R> ? R : never;

const ACTION_NAME = /^[a-z][a-z0-9_]{0,63}$/;
const REASON_CODE = /^[A-Z][A-Z0-9_]{0,63}$/;

function fail(path: string, problem: string): never {
  throw new TiergateError('TIER_TABLE_INVALID', `Invalid tier table at ${path}: ${problem}`, { details: { path } });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkLimit(value: unknown, path: string): number {
  if (value === undefined || value === Infinity) return Infinity;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) fail(path, 'must be a non-negative integer or omitted for unlimited');
  return value;
}

function checkReason(value: unknown, path: string): string {
  if (typeof value !== 'string' || !REASON_CODE.test(value)) fail(path, 'must be an UPPER_SNAKE reason code');
  return value;
}

function render(description: Description, context: DescriptionContext, path: string): string {
  const text = typeof description === 'function' ? description(context) : description;
  if (typeof text !== 'string' || text.length === 0) fail(path, 'must be a non-empty string or a function returning one');
  return text;
}

function capitalise(name: string): string {
  return name.replace(/_/g, ' ').replace(/^./, (c) => c.toUpperCase());
}

/**
 * Validates and compiles a tier table. A malformed table throws
 * `TIER_TABLE_INVALID` at startup, naming the bad entry (for example
 * `tiers.developer.grants.sned_messages: unknown action`).
 *
 * @example
 * const tiers = defineTiers({
 *   actions: {
 *     read_docs: { description: 'Read documents' },
 *     export_pdf: { description: 'Export to PDF', reason: 'EXPORT_REQUIRES_PRO', quota: { reason: 'EXPORT_LIMIT_EXCEEDED' } },
 *   },
 *   tiers: {
 *     free: { grants: { read_docs: true } },
 *     pro: { grants: { read_docs: true, export_pdf: { limits: { day: 50 } } } },
 *   },
 * });
 */
export function defineTiers<
  const Acts extends { readonly [name: string]: ActionDefinition },
  const T extends string,
  const SR extends string = never,
  const WR extends string = never,
>(definition: {
  readonly actions: Acts;
  readonly tiers: { readonly [K in T]: TierDefinition<NoInfer<keyof Acts & string>> };
  readonly statuses?: { readonly [status: string]: StatusRule<NoInfer<keyof Acts & string>, SR> };
  readonly webhookHealth?: { readonly reason: WR; readonly blocks: readonly NoInfer<keyof Acts & string>[] };
}): TierTable<keyof Acts & string, T, ActionReasons<Acts> | SR | WR> {
  return compileTierTable(definition) as unknown as TierTable<keyof Acts & string, T, ActionReasons<Acts> | SR | WR>;
}

/** The reason codes the actions of a table can produce (explicit, defaulted and quota reasons). */
export type ActionReasons<Acts> = {
  [K in keyof Acts & string]:
    | (Acts[K] extends { readonly reason: infer R extends string } ? R : `${Uppercase<K>}_REQUIRES_UPGRADE`)
    | (Acts[K] extends { readonly quota: { readonly reason: infer Q extends string } } ? Q : never);
}[keyof Acts & string];

/**
 * Validates and compiles a table whose shape is only known at run time (JSON
 * from a file, say). Same checks as {@link defineTiers}, without the inference.
 */
export function compileTierTable(definition: unknown): TierTable {
  if (!isRecord(definition)) fail('(root)', 'must be an object with actions and tiers');
  const { actions: actionDefs, tiers: tierDefs, statuses: statusDefs, webhookHealth: webhookDef } = definition;
  if (!isRecord(actionDefs) || Object.keys(actionDefs).length === 0) fail('actions', 'must define at least one action');
  if (!isRecord(tierDefs) || Object.keys(tierDefs).length === 0) fail('tiers', 'must define at least one tier');

  const reasons = new Map<string, ReasonKind>();
  const addReason = (code: string, kind: ReasonKind, path: string): void => {
    const existing = reasons.get(code);
    if (existing !== undefined && existing !== kind) fail(path, `reason ${code} is already used as a ${existing} reason`);
    reasons.set(code, kind);
  };

  const actions: ResolvedAction[] = [];
  const actionByName = new Map<string, ResolvedAction>();
  const descriptions = new Map<string, Description>();
  for (const [name, raw] of Object.entries(actionDefs)) {
    const path = `actions.${name}`;
    if (!ACTION_NAME.test(name)) fail(path, 'action names are lower_snake_case');
    if (!isRecord(raw)) fail(path, 'must be an object with a description');
    if (typeof raw.description !== 'string' && typeof raw.description !== 'function') fail(`${path}.description`, 'is required');
    const tierReason = raw.reason === undefined ? `${name.toUpperCase()}_REQUIRES_UPGRADE` : checkReason(raw.reason, `${path}.reason`);
    addReason(tierReason, 'tier', `${path}.reason`);
    let quotaReason: string | undefined;
    if (raw.quota !== undefined) {
      if (!isRecord(raw.quota)) fail(`${path}.quota`, 'must be { reason }');
      quotaReason = checkReason(raw.quota.reason, `${path}.quota.reason`);
      addReason(quotaReason, 'quota', `${path}.quota.reason`);
    }
    const action: ResolvedAction = { name, index: actions.length, tierReason, quotaReason };
    actions.push(action);
    actionByName.set(name, action);
    descriptions.set(name, raw.description as Description);
  }

  const tiers: ResolvedTier[] = [];
  const tierByName = new Map<string, ResolvedTier>();
  for (const [name, raw] of Object.entries(tierDefs)) {
    const path = `tiers.${name}`;
    if (!ACTION_NAME.test(name)) fail(path, 'tier names are lower_snake_case');
    if (!isRecord(raw) || !isRecord(raw.grants)) fail(`${path}.grants`, 'must be an object of actions');
    if (raw.label !== undefined && (typeof raw.label !== 'string' || raw.label.length === 0)) fail(`${path}.label`, 'must be a non-empty string');
    const grants = new Map<string, ResolvedGrant>();
    for (const [actionName, grantRaw] of Object.entries(raw.grants)) {
      const grantPath = `${path}.grants.${actionName}`;
      const action = actionByName.get(actionName);
      if (action === undefined) fail(grantPath, 'unknown action');
      if (grantRaw === undefined || grantRaw === false) continue;
      if (grantRaw !== true && !isRecord(grantRaw)) fail(grantPath, 'must be true or { description?, limits?, max? }');
      const grant: Record<string, unknown> = grantRaw === true ? {} : grantRaw;
      let limits = { day: Infinity, month: Infinity };
      if (grant.limits !== undefined) {
        if (!isRecord(grant.limits)) fail(`${grantPath}.limits`, 'must be { day?, month? }');
        if (action.quotaReason === undefined) fail(`${grantPath}.limits`, `action ${actionName} has no quota; add quota: { reason } to it`);
        for (const key of Object.keys(grant.limits)) if (key !== 'day' && key !== 'month') fail(`${grantPath}.limits.${key}`, 'only day and month windows exist');
        limits = { day: checkLimit(grant.limits.day, `${grantPath}.limits.day`), month: checkLimit(grant.limits.month, `${grantPath}.limits.month`) };
      }
      const max = checkLimit(grant.max, `${grantPath}.max`);
      const description = (grant.description ?? descriptions.get(actionName)) as Description;
      const text = render(description, { tier: name, limits, max }, `${grantPath}.description`);
      grants.set(actionName, Object.freeze({ description: text, limits: Object.freeze(limits), max }));
    }
    const tier: ResolvedTier = Object.freeze({ name, label: (raw.label as string | undefined) ?? capitalise(name), rank: tiers.length, grants });
    tiers.push(tier);
    tierByName.set(name, tier);
  }

  const statuses = new Map<string, { reason: string; blocks: ReadonlySet<string> | 'all' }>();
  if (statusDefs !== undefined) {
    if (!isRecord(statusDefs)) fail('statuses', 'must be an object of status rules');
    for (const [status, raw] of Object.entries(statusDefs)) {
      const path = `statuses.${status}`;
      if (status === 'active') fail(path, '"active" is the unrestricted status and cannot block actions');
      if (!isRecord(raw)) fail(path, 'must be { reason, blocks }');
      const reason = checkReason(raw.reason, `${path}.reason`);
      addReason(reason, 'status', `${path}.reason`);
      statuses.set(status, { reason, blocks: resolveBlocks(raw.blocks, actionByName, `${path}.blocks`, true) as ReadonlySet<string> | 'all' });
    }
  }

  let webhookHealth: { reason: string; blocks: ReadonlySet<string> } | undefined;
  if (webhookDef !== undefined) {
    if (!isRecord(webhookDef)) fail('webhookHealth', 'must be { reason, blocks }');
    const reason = checkReason(webhookDef.reason, 'webhookHealth.reason');
    addReason(reason, 'webhook', 'webhookHealth.reason');
    webhookHealth = { reason, blocks: resolveBlocks(webhookDef.blocks, actionByName, 'webhookHealth.blocks', false) as ReadonlySet<string> };
  }

  const metered = actions.filter((a) => a.quotaReason !== undefined);
  const upgradeCache = new Map<string, ResolvedTier | undefined>();

  return Object.freeze({
    actions: Object.freeze(actions.map((a) => Object.freeze(a))),
    tiers: Object.freeze(tiers),
    reasons,
    statuses,
    webhookHealth,
    metered: Object.freeze(metered),
    tier: (name: string) => tierByName.get(name),
    action: (name: string) => actionByName.get(name),
    upgradeTarget(from: string, actionName: string, reason: string): ResolvedTier | undefined {
      const key = `${from}\u0000${actionName}\u0000${reason}`;
      if (upgradeCache.has(key)) return upgradeCache.get(key);
      const target = findUpgrade(tiers, tierByName.get(from), actionByName.get(actionName), reasons.get(reason), reason);
      upgradeCache.set(key, target);
      return target;
    },
  });
}

function resolveBlocks(raw: unknown, actions: Map<string, ResolvedAction>, path: string, allowAll: boolean): ReadonlySet<string> | 'all' {
  if (allowAll && raw === 'all') return 'all';
  if (!Array.isArray(raw)) fail(path, allowAll ? "must be 'all' or an array of actions" : 'must be an array of actions');
  const set = new Set<string>();
  raw.forEach((name, i) => {
    if (typeof name !== 'string' || !actions.has(name)) fail(`${path}[${i}]`, 'unknown action');
    set.add(name);
  });
  return set;
}

function findUpgrade(
  tiers: readonly ResolvedTier[],
  from: ResolvedTier | undefined,
  action: ResolvedAction | undefined,
  kind: ReasonKind | undefined,
  reason: string,
): ResolvedTier | undefined {
  if (from === undefined || action === undefined) return undefined;
  const current = from.grants.get(action.name);
  for (const tier of tiers.slice(from.rank + 1)) {
    const grant = tier.grants.get(action.name);
    if (grant === undefined) continue;
    if (kind === 'tier' && reason === action.tierReason) return tier;
    if (kind === 'quota' && reason === action.quotaReason) {
      if (current === undefined || grant.limits.day > current.limits.day || grant.limits.month > current.limits.month) return tier;
    }
  }
  return undefined;
}

const count = (n: number): string => n.toLocaleString('en-US');

/**
 * The seed's table (the `capabilities` reference): nine actions and four
 * tiers. Send limits: developer 100/day and 3,000/month (seed); growth
 * 1,000/day and 30,000/month; enterprise 10,000/day and 300,000/month (ours:
 * each step is ten times the previous, so an upgrade always lifts a limit).
 * Custom domains: developer 1, growth 5, enterprise unlimited.
 * `under_review` blocks sending, SMTP and custom domains; an unhealthy webhook
 * endpoint blocks `create_webhooks` until a delivery succeeds.
 */
export const defaultTiers = defineTiers({
  actions: {
    receive_messages: { description: 'Receive unlimited inbound emails' },
    send_messages: {
      description: ({ limits }) =>
        limits.day === Infinity && limits.month === Infinity
          ? 'Send unlimited emails'
          : `Send up to ${[limits.day === Infinity ? undefined : `${count(limits.day)} emails/day`, limits.month === Infinity ? undefined : `${count(limits.month)}/month`].filter(Boolean).join(', ')}`,
      reason: 'SEND_REQUIRES_PAID',
      quota: { reason: 'SEND_LIMIT_EXCEEDED' },
    },
    create_inboxes: { description: 'Create unlimited inboxes' },
    use_custom_domains: {
      description: ({ max }) => (max === Infinity ? 'Connect unlimited custom domains' : `Connect ${count(max)} custom domain${max === 1 ? '' : 's'}`),
      reason: 'DOMAIN_REQUIRES_PAID',
    },
    use_smtp: { description: 'SMTP access for direct email sending', reason: 'SMTP_REQUIRES_PAID' },
    create_webhooks: { description: 'Register webhooks for real-time events' },
    use_reply_extraction: { description: 'Automatic reply body extraction with TalonJS' },
    use_link_extraction: { description: 'Automatic CTA and verification link detection' },
    use_threading: { description: 'Automatic email threading based on headers' },
  },
  tiers: {
    free: {
      grants: {
        receive_messages: true,
        create_inboxes: { description: 'Create unlimited inboxes with @daimon.email addresses' },
        create_webhooks: true,
        use_reply_extraction: true,
        use_link_extraction: true,
        use_threading: true,
      },
    },
    developer: {
      grants: {
        receive_messages: true,
        send_messages: { limits: { day: 100, month: 3_000 } },
        create_inboxes: true,
        use_custom_domains: { max: 1 },
        use_smtp: true,
        create_webhooks: true,
        use_reply_extraction: true,
        use_link_extraction: true,
        use_threading: true,
      },
    },
    growth: {
      grants: {
        receive_messages: true,
        send_messages: { limits: { day: 1_000, month: 30_000 } },
        create_inboxes: true,
        use_custom_domains: { max: 5 },
        use_smtp: true,
        create_webhooks: true,
        use_reply_extraction: true,
        use_link_extraction: true,
        use_threading: true,
      },
    },
    enterprise: {
      grants: {
        receive_messages: true,
        send_messages: { limits: { day: 10_000, month: 300_000 } },
        create_inboxes: true,
        use_custom_domains: true,
        use_smtp: true,
        create_webhooks: true,
        use_reply_extraction: true,
        use_link_extraction: true,
        use_threading: true,
      },
    },
  },
  statuses: {
    under_review: { reason: 'ACCOUNT_UNDER_REVIEW', blocks: ['send_messages', 'use_smtp', 'use_custom_domains'] },
  },
  webhookHealth: { reason: 'WEBHOOK_ENDPOINT_UNHEALTHY', blocks: ['create_webhooks'] },
});

/** The default table's type. */
export type DefaultTierTable = typeof defaultTiers;
