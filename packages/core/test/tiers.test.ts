import { describe, expect, expectTypeOf, it } from 'vitest';
import { compileTierTable, defaultTiers, defineTiers, isTiergateError, type ActionOf, type ReasonOf, type TierOf } from '@tiergate/core';

function tableError(run: () => unknown): { code: string; path: unknown } {
  try {
    run();
  } catch (err) {
    if (isTiergateError(err)) return { code: err.code, path: (err.details as { path?: unknown } | undefined)?.path };
    throw err;
  }
  throw new Error('expected a TIER_TABLE_INVALID error');
}

describe('defaultTiers (the seed table)', () => {
  it('has the seed actions in order and the four tiers in upgrade order', () => {
    expect(defaultTiers.actions.map((a) => a.name)).toEqual([
      'receive_messages',
      'send_messages',
      'create_inboxes',
      'use_custom_domains',
      'use_smtp',
      'create_webhooks',
      'use_reply_extraction',
      'use_link_extraction',
      'use_threading',
    ]);
    expect(defaultTiers.tiers.map((t) => [t.name, t.rank])).toEqual([
      ['free', 0],
      ['developer', 1],
      ['growth', 2],
      ['enterprise', 3],
    ]);
  });

  it('matches the seed action matrix', () => {
    const grants = (tier: string) => [...(defaultTiers.tier(tier)?.grants.keys() ?? [])].sort();
    expect(grants('free')).toEqual(['create_inboxes', 'create_webhooks', 'receive_messages', 'use_link_extraction', 'use_reply_extraction', 'use_threading']);
    for (const tier of ['developer', 'growth', 'enterprise']) expect(grants(tier)).toHaveLength(9);
  });

  it('carries the seed limits and documented growth/enterprise limits', () => {
    const limits = (tier: string, action: string) => defaultTiers.tier(tier)?.grants.get(action);
    expect(limits('developer', 'send_messages')?.limits).toEqual({ day: 100, month: 3000 });
    expect(limits('growth', 'send_messages')?.limits).toEqual({ day: 1000, month: 30000 });
    expect(limits('enterprise', 'send_messages')?.limits).toEqual({ day: 10000, month: 300000 });
    expect(limits('developer', 'use_custom_domains')?.max).toBe(1);
    expect(limits('growth', 'use_custom_domains')?.max).toBe(5);
    expect(limits('enterprise', 'use_custom_domains')?.max).toBe(Infinity);
  });

  it('derives descriptions from limits', () => {
    const d = (tier: string, action: string) => defaultTiers.tier(tier)?.grants.get(action)?.description;
    expect(d('developer', 'send_messages')).toBe('Send up to 100 emails/day, 3,000/month');
    expect(d('growth', 'send_messages')).toBe('Send up to 1,000 emails/day, 30,000/month');
    expect(d('developer', 'use_custom_domains')).toBe('Connect 1 custom domain');
    expect(d('growth', 'use_custom_domains')).toBe('Connect 5 custom domains');
    expect(d('enterprise', 'use_custom_domains')).toBe('Connect unlimited custom domains');
  });

  it('registers every seed reason code with its kind', () => {
    expect(Object.fromEntries([...defaultTiers.reasons].filter(([code]) => !code.endsWith('_REQUIRES_UPGRADE')))).toEqual({
      SEND_REQUIRES_PAID: 'tier',
      SEND_LIMIT_EXCEEDED: 'quota',
      DOMAIN_REQUIRES_PAID: 'tier',
      SMTP_REQUIRES_PAID: 'tier',
      ACCOUNT_UNDER_REVIEW: 'status',
      WEBHOOK_ENDPOINT_UNHEALTHY: 'webhook',
    });
  });

  it('finds the lowest tier that lifts a reason', () => {
    expect(defaultTiers.upgradeTarget('free', 'send_messages', 'SEND_REQUIRES_PAID')?.name).toBe('developer');
    expect(defaultTiers.upgradeTarget('developer', 'send_messages', 'SEND_LIMIT_EXCEEDED')?.name).toBe('growth');
    expect(defaultTiers.upgradeTarget('enterprise', 'send_messages', 'SEND_LIMIT_EXCEEDED')).toBeUndefined();
    expect(defaultTiers.upgradeTarget('developer', 'send_messages', 'ACCOUNT_UNDER_REVIEW')).toBeUndefined();
    expect(defaultTiers.upgradeTarget('free', 'create_webhooks', 'WEBHOOK_ENDPOINT_UNHEALTHY')).toBeUndefined();
  });
});

describe('defineTiers', () => {
  const docs = defineTiers({
    actions: {
      read_docs: { description: 'Read documents' },
      export_pdf: { description: ({ limits }) => `Export ${limits.day}/day`, reason: 'EXPORT_REQUIRES_PRO', quota: { reason: 'EXPORT_LIMIT_EXCEEDED' } },
    },
    tiers: {
      hobby: { grants: { read_docs: true } },
      pro: { label: 'Professional', grants: { read_docs: true, export_pdf: { limits: { day: 50 } } } },
    },
    statuses: { suspended: { reason: 'ACCOUNT_SUSPENDED', blocks: 'all' } },
  });

  it('infers action, tier and reason names', () => {
    expectTypeOf<ActionOf<typeof docs>>().toEqualTypeOf<'read_docs' | 'export_pdf'>();
    expectTypeOf<TierOf<typeof docs>>().toEqualTypeOf<'hobby' | 'pro'>();
    expectTypeOf<ReasonOf<typeof docs>>().toEqualTypeOf<'READ_DOCS_REQUIRES_UPGRADE' | 'EXPORT_REQUIRES_PRO' | 'EXPORT_LIMIT_EXCEEDED' | 'ACCOUNT_SUSPENDED'>();
  });

  it('rejects a misspelt action at compile time', () => {
    // @ts-expect-error grants only name declared actions
    expect(() => defineTiers({ actions: { a: { description: 'A' } }, tiers: { t: { grants: { b: true } } } })).toThrow();
  });

  it('compiles labels, limits and descriptions', () => {
    expect(docs.tier('pro')?.label).toBe('Professional');
    expect(docs.tier('hobby')?.label).toBe('Hobby');
    expect(docs.tier('pro')?.grants.get('export_pdf')).toEqual({ description: 'Export 50/day', limits: { day: 50, month: Infinity }, max: Infinity });
  });

  it.each([
    ['no actions', { actions: {}, tiers: { a: { grants: {} } } }, 'actions'],
    ['no tiers', { actions: { a: { description: 'A' } }, tiers: {} }, 'tiers'],
    ['unknown action in a grant', { actions: { send: { description: 'S' } }, tiers: { developer: { grants: { sned: true } } } }, 'tiers.developer.grants.sned'],
    ['negative limit', { actions: { send: { description: 'S', quota: { reason: 'SEND_LIMIT' } } }, tiers: { t: { grants: { send: { limits: { day: -1 } } } } } }, 'tiers.t.grants.send.limits.day'],
    ['limits without quota', { actions: { send: { description: 'S' } }, tiers: { t: { grants: { send: { limits: { day: 1 } } } } } }, 'tiers.t.grants.send.limits'],
    ['unknown window', { actions: { send: { description: 'S', quota: { reason: 'X_LIMIT' } } }, tiers: { t: { grants: { send: { limits: { week: 1 } } } } } }, 'tiers.t.grants.send.limits.week'],
    ['lowercase reason', { actions: { send: { description: 'S', reason: 'send_paid' } }, tiers: { t: { grants: {} } } }, 'actions.send.reason'],
    ['bad action name', { actions: { 'Send Mail': { description: 'S' } }, tiers: { t: { grants: {} } } }, 'actions.Send Mail'],
    ['missing description', { actions: { send: {} }, tiers: { t: { grants: {} } } }, 'actions.send.description'],
    ['status blocking an unknown action', { actions: { send: { description: 'S' } }, tiers: { t: { grants: {} } }, statuses: { frozen: { reason: 'FROZEN', blocks: ['nope'] } } }, 'statuses.frozen.blocks[0]'],
    ['"active" as a blocking status', { actions: { send: { description: 'S' } }, tiers: { t: { grants: {} } }, statuses: { active: { reason: 'X', blocks: 'all' } } }, 'statuses.active'],
    ['one reason of two kinds', { actions: { send: { description: 'S', reason: 'NOPE', quota: { reason: 'NOPE' } } }, tiers: { t: { grants: {} } } }, 'actions.send.quota.reason'],
    ['empty description result', { actions: { send: { description: () => '' } }, tiers: { t: { grants: { send: true } } } }, 'tiers.t.grants.send.description'],
  ])('fails at startup on %s, naming the entry', (_name, table, path) => {
    expect(tableError(() => compileTierTable(table))).toEqual({ code: 'TIER_TABLE_INVALID', path });
  });

  it('fails on a table that is not an object', () => {
    expect(tableError(() => compileTierTable(null)).code).toBe('TIER_TABLE_INVALID');
  });
});
