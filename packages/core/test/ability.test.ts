import fc from 'fast-check';
import { ForbiddenError } from '@casl/ability';
import { describe, expect, it } from 'vitest';
import { abilityFor, compileTierTable, computeCapabilities, defaultTiers, type AccountState, type TierTable } from '@tiergate/core';

const NOW = Date.parse('2026-03-10T15:30:00.000Z');

describe('CASL ability', () => {
  it('carries the reason via because()', () => {
    const ability = abilityFor(defaultTiers, { tier: 'free' }, NOW);
    expect(ability.can('receive_messages')).toBe(true);
    expect(ability.can('send_messages')).toBe(false);
    expect(ability.relevantRuleFor('send_messages')?.reason).toBe('SEND_REQUIRES_PAID');
    expect(() => ForbiddenError.from(ability).throwUnlessCan('use_smtp')).toThrow(expect.objectContaining({ message: 'SMTP_REQUIRES_PAID' }));
  });

  it('denies actions the table does not know', () => {
    expect(abilityFor(defaultTiers, { tier: 'enterprise' }, NOW).can('launch_rockets' as 'send_messages')).toBe(false);
  });

  it('is built once per state, not per call', () => {
    expect(abilityFor(defaultTiers, { tier: 'developer' }, NOW)).toBe(abilityFor(defaultTiers, { tier: 'developer' }, NOW + 5));
  });
});

// Generated tables: random actions (some metered), tiers granting random
// subsets with random limits, a blocking status and a webhook rule.
const tableArb = fc
  .record({
    actionCount: fc.integer({ min: 1, max: 6 }),
    meteredMask: fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }),
    tiers: fc.array(
      fc.array(fc.option(fc.record({ day: fc.option(fc.integer({ min: 0, max: 20 }), { nil: undefined }), month: fc.option(fc.integer({ min: 0, max: 50 }), { nil: undefined }) }), { nil: null }), { minLength: 6, maxLength: 6 }),
      { minLength: 1, maxLength: 4 },
    ),
    statusBlocks: fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }),
    webhookBlocks: fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }),
  })
  .map(({ actionCount, meteredMask, tiers, statusBlocks, webhookBlocks }) => {
    const names = Array.from({ length: actionCount }, (_, i) => `act_${i}`);
    const actions = Object.fromEntries(
      names.map((n, i) => [n, { description: `Do ${n}`, reason: `ACT_${i}_NEEDS_TIER`, ...(meteredMask[i] ? { quota: { reason: `ACT_${i}_LIMIT` } } : {}) }]),
    );
    const tierDefs = Object.fromEntries(
      tiers.map((grants, t) => [
        `tier_${t}`,
        {
          grants: Object.fromEntries(
            names.flatMap((n, i) => {
              const g = grants[i];
              if (g === null || g === undefined) return [];
              const limits = Object.fromEntries(Object.entries(g).filter(([, v]) => v !== undefined));
              return [[n, meteredMask[i] ? { limits } : true]];
            }),
          ),
        },
      ]),
    );
    return compileTierTable({
      actions,
      tiers: tierDefs,
      statuses: { frozen: { reason: 'FROZEN', blocks: names.filter((_, i) => statusBlocks[i]) } },
      webhookHealth: { reason: 'HOOK_DOWN', blocks: names.filter((_, i) => webhookBlocks[i]) },
    });
  });

const accountArb = (table: TierTable) =>
  fc.record({
    tier: fc.constantFrom(...table.tiers.map((t) => t.name)),
    status: fc.constantFrom('active', 'frozen', 'other'),
    webhookHealthy: fc.boolean(),
    usage: fc.dictionary(fc.constantFrom(...table.actions.map((a) => a.name)), fc.record({ day: fc.integer({ min: 0, max: 25 }), month: fc.integer({ min: 0, max: 60 }) })),
  }) as fc.Arbitrary<AccountState>;

/** An independent, deliberately plain statement of the documented precedence. */
function oracle(table: TierTable, account: AccountState, action: string): string | undefined {
  const i = Number(action.slice('act_'.length));
  const statusRule = table.statuses.get(account.status ?? 'active');
  if (statusRule !== undefined && statusRule.blocks !== 'all' && statusRule.blocks.has(action)) return 'FROZEN';
  const grant = table.tier(account.tier)?.grants.get(action);
  if (grant === undefined) return `ACT_${i}_NEEDS_TIER`;
  const metered = table.action(action)?.quotaReason !== undefined;
  const used = account.usage?.[action];
  if (metered && ((used?.day ?? 0) >= grant.limits.day || (used?.month ?? 0) >= grant.limits.month)) return `ACT_${i}_LIMIT`;
  if (account.webhookHealthy === false && table.webhookHealth?.blocks.has(action)) return 'HOOK_DOWN';
  return undefined;
}

describe('property: computeCapabilities follows the precedence, and the ability never disagrees with it', () => {
  it('for generated tables, accounts and instants', () => {
    fc.assert(
      fc.property(
        tableArb.chain((table) => fc.tuple(fc.constant(table), accountArb(table), fc.integer({ min: Date.parse('2020-01-01'), max: Date.parse('2030-12-31') }))),
        ([table, account, now]) => {
          const caps = computeCapabilities(table, account, now);
          const ability = abilityFor(table, account, now);
          // Every action is in exactly one list, in table order.
          expect([...caps.can, ...caps.cannot].map((e) => e.action).sort()).toEqual(table.actions.map((a) => a.name).sort());
          for (const { name } of table.actions) {
            const denied = caps.cannot.find((c) => c.action === name);
            expect(denied?.reason).toBe(oracle(table, account, name));
            expect(ability.can(name)).toBe(denied === undefined);
            expect(ability.relevantRuleFor(name)?.reason).toBe(denied?.reason);
          }
        },
      ),
      { numRuns: 400 },
    );
  });
});
