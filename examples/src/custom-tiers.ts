/**
 * A host's own tier table: "Inkwell", a document-processing SaaS, replaces the
 * seed's e-mail tiers with its own actions, tiers and reason codes. The table
 * is plain data checked at startup (`defineTiers` throws `TIER_TABLE_INVALID`
 * naming a bad entry), so everything that depends on it — capabilities, the
 * CASL ability, the guard, the operator pages — can be unit-tested without a
 * server: see `examples/test/custom-tiers.test.ts`.
 *
 * | action       | hobby | pro        | team        |
 * |--------------|-------|------------|-------------|
 * | `read_docs`  | ✓     | ✓          | ✓           |
 * | `export_pdf` | –     | 20 per day | 200 per day |
 * | `use_api`    | –     | –          | ✓           |
 *
 * An account whose payment is overdue keeps reading but cannot export or use
 * the API (`PAYMENT_OVERDUE`, a status reason an upgrade does not lift).
 */
import { abilityFor, checkAction, defineTiers, type AccountState, type ActionOf, type PartialCatalog, type TiergateAbility } from '@tiergate/core';

/** Inkwell's tier table. Tier order is the upgrade path: hobby → pro → team. */
export const inkwellTiers = defineTiers({
  actions: {
    read_docs: { description: 'Read and search your documents' },
    export_pdf: {
      // Computed from the tier's grant, so the description can never disagree with the limit.
      description: ({ limits }) => (limits.day === Infinity ? 'Export unlimited PDFs' : `Export up to ${limits.day} PDFs per day`),
      reason: 'EXPORT_REQUIRES_PRO',
      quota: { reason: 'EXPORT_LIMIT_EXCEEDED' },
    },
    use_api: { description: 'Programmatic access through the REST API', reason: 'API_REQUIRES_TEAM' },
  },
  tiers: {
    hobby: { grants: { read_docs: true } },
    pro: { grants: { read_docs: true, export_pdf: { limits: { day: 20 } } } },
    team: { grants: { read_docs: true, export_pdf: { limits: { day: 200 } }, use_api: true } },
  },
  statuses: {
    payment_overdue: { reason: 'PAYMENT_OVERDUE', blocks: ['export_pdf', 'use_api'] },
  },
});

/** Inkwell's action names: `'read_docs' | 'export_pdf' | 'use_api'`. */
export type InkwellAction = ActionOf<typeof inkwellTiers>;

/**
 * What agents and operators read for Inkwell's own reason codes (pass as
 * `createTiergate({ tiers: inkwellTiers, messages: inkwellMessages })`).
 */
export const inkwellMessages: PartialCatalog = {
  reasons: {
    EXPORT_REQUIRES_PRO: { summary: 'PDF export requires the Pro tier', need: 'I need PDF export', actionLabel: 'Upgrade to Pro', suggest: 'upgrade' },
    EXPORT_LIMIT_EXCEEDED: { summary: 'The daily PDF export limit is reached', need: 'I have reached the daily PDF export limit', actionLabel: 'Upgrade for more exports', suggest: 'upgrade' },
    API_REQUIRES_TEAM: { summary: 'API access requires the Team tier', need: 'I need API access', actionLabel: 'Upgrade to Team', suggest: 'upgrade' },
    PAYMENT_OVERDUE: { summary: 'A payment is overdue; exports and the API are paused', need: 'Our payment is overdue and exports are paused', actionLabel: 'Update billing details', suggest: 'support' },
  },
};

/**
 * The host's own check before rendering a PDF: the CASL ability of the
 * account at `now` (pure, cached per account state). A deny carries the
 * reason code as CASL's rule reason.
 */
export function inkwellAbility(account: AccountState, now: number): TiergateAbility<InkwellAction> {
  return abilityFor(inkwellTiers, account, now);
}

/**
 * How many more PDFs the account may export today, or why none: what
 * Inkwell's UI shows next to the Export button.
 */
export function exportAllowance(account: AccountState, now: number): { readonly remaining: number } | { readonly reason: string; readonly resetsAt?: number } {
  const decision = checkAction(inkwellTiers, account, 'export_pdf', now);
  if (!decision.allowed) return decision.resetsAt === undefined ? { reason: decision.reason } : { reason: decision.reason, resetsAt: decision.resetsAt };
  const limit = inkwellTiers.tier(account.tier)?.grants.get('export_pdf')?.limits.day ?? 0;
  return { remaining: limit - (account.usage?.export_pdf?.day ?? 0) };
}
