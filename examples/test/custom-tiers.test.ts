/**
 * How a host unit-tests its own tier table (`examples/src/custom-tiers.ts`):
 * pure policy with `computeCapabilities` / `abilityFor` and the
 * `toAllow`/`toDeny` matchers, then the quota window boundary through the
 * real service on a fake clock — no server, no sleeping.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { compileTierTable, computeCapabilities, isTiergateError } from '@tiergate/core';
import { createFakeClock, createTestTiergate, setupTiergateMatchers } from '@tiergate/testing';
import { exportAllowance, inkwellAbility, inkwellMessages, inkwellTiers } from '../src/custom-tiers.js';

setupTiergateMatchers();

const NOON = Date.parse('2026-03-10T12:00:00.000Z');
const MIDNIGHT = Date.parse('2026-03-11T00:00:00.000Z');

describe('the Inkwell tier table', () => {
  it('hobby reads, but needs Pro to export and Team for the API', () => {
    const hobby = computeCapabilities(inkwellTiers, { tier: 'hobby' }, NOON);
    expect(hobby).toAllow('read_docs');
    expect(hobby).toDeny('export_pdf', 'EXPORT_REQUIRES_PRO');
    expect(hobby).toDeny('use_api', 'API_REQUIRES_TEAM');
  });

  it('pro exports up to its daily limit; team has everything', () => {
    const pro = computeCapabilities(inkwellTiers, { tier: 'pro' }, NOON);
    expect(pro).toAllow('export_pdf');
    expect(pro).toDeny('use_api', 'API_REQUIRES_TEAM');
    expect(pro.can.find((c) => c.action === 'export_pdf')?.description).toContain('20');
    const team = computeCapabilities(inkwellTiers, { tier: 'team' }, NOON);
    for (const action of ['read_docs', 'export_pdf', 'use_api'] as const) expect(team).toAllow(action);
    expect(team.cannot).toEqual([]);
  });

  it('the daily quota denies with resets_at at the next UTC midnight', () => {
    const full = computeCapabilities(inkwellTiers, { tier: 'pro', usage: { export_pdf: { day: 20 } } }, NOON);
    expect(full).toDeny('export_pdf', 'EXPORT_LIMIT_EXCEEDED');
    expect(full.cannot).toContainEqual({ action: 'export_pdf', reason: 'EXPORT_LIMIT_EXCEEDED', resets_at: new Date(MIDNIGHT).toISOString() });
    expect(exportAllowance({ tier: 'pro', usage: { export_pdf: { day: 20 } } }, NOON)).toEqual({ reason: 'EXPORT_LIMIT_EXCEEDED', resetsAt: MIDNIGHT });
    expect(exportAllowance({ tier: 'pro', usage: { export_pdf: { day: 19 } } }, NOON)).toEqual({ remaining: 1 });
    expect(exportAllowance({ tier: 'hobby' }, NOON)).toEqual({ reason: 'EXPORT_REQUIRES_PRO' });
  });

  it('an overdue payment pauses exports and the API whatever the tier, and wins over the quota', () => {
    const overdue = computeCapabilities(inkwellTiers, { tier: 'team', status: 'payment_overdue', usage: { export_pdf: { day: 200 } } }, NOON);
    expect(overdue).toAllow('read_docs');
    expect(overdue).toDeny('export_pdf', 'PAYMENT_OVERDUE');
    expect(overdue).toDeny('use_api', 'PAYMENT_OVERDUE');
  });

  it('upgrades lead to the lowest tier that lifts the reason; a status reason has none', () => {
    expect(inkwellTiers.upgradeTarget('hobby', 'export_pdf', 'EXPORT_REQUIRES_PRO')?.name).toBe('pro');
    expect(inkwellTiers.upgradeTarget('pro', 'export_pdf', 'EXPORT_LIMIT_EXCEEDED')?.name).toBe('team');
    expect(inkwellTiers.upgradeTarget('hobby', 'use_api', 'API_REQUIRES_TEAM')?.name).toBe('team');
    expect(inkwellTiers.upgradeTarget('team', 'export_pdf', 'PAYMENT_OVERDUE')).toBeUndefined();
    expect([...inkwellTiers.reasons.entries()]).toEqual([
      ['READ_DOCS_REQUIRES_UPGRADE', 'tier'],
      ['EXPORT_REQUIRES_PRO', 'tier'],
      ['EXPORT_LIMIT_EXCEEDED', 'quota'],
      ['API_REQUIRES_TEAM', 'tier'],
      ['PAYMENT_OVERDUE', 'status'],
    ]);
  });

  it('the CASL ability agrees, with the reason code on the rule', () => {
    const hobby = inkwellAbility({ tier: 'hobby' }, NOON);
    expect(hobby.can('read_docs')).toBe(true);
    expect(hobby.can('export_pdf')).toBe(false);
    expect(hobby.relevantRuleFor('export_pdf')?.reason).toBe('EXPORT_REQUIRES_PRO');
    expect(inkwellAbility({ tier: 'pro' }, NOON).can('export_pdf')).toBe(true);
  });

  it('a typo in a table is caught at startup with TIER_TABLE_INVALID', () => {
    const typo = { actions: { export_pdf: { description: 'Export' } }, tiers: { pro: { grants: { exprot_pdf: true } } } };
    let code = 'OK';
    try {
      compileTierTable(typo);
    } catch (err) {
      code = isTiergateError(err) ? err.code : 'other';
    }
    expect(code).toBe('TIER_TABLE_INVALID');
  });
});

describe('the quota window through the service, on a fake clock', () => {
  const started: { stop(): Promise<void> }[] = [];
  afterEach(async () => {
    while (started.length > 0) await started.pop()?.stop();
  });

  it('the 21st export of the day is refused until 00:00 UTC, then allowed again', async () => {
    const clock = createFakeClock('2026-03-10T23:00:00.000Z');
    const t = createTestTiergate({ tiers: inkwellTiers, messages: inkwellMessages, clock, accounts: [{ id: 'acc_pro', tier: 'pro' }] });
    started.push(t);
    for (let i = 0; i < 20; i += 1) expect((await t.check('acc_pro', 'export_pdf', { consume: 1 })).allowed).toBe(true);

    const refused = await t.check('acc_pro', 'export_pdf', { consume: 1 });
    expect(refused).toMatchObject({ allowed: false, reason: 'EXPORT_LIMIT_EXCEEDED', kind: 'quota', resetsAt: MIDNIGHT });
    // The guard's deny tells the agent how to ask for more: the host's own label, an upgrade link to Team.
    if (!refused.allowed) expect(refused.upgradeContext.operator_action_label).toBe(inkwellMessages.reasons?.EXPORT_LIMIT_EXCEEDED?.actionLabel);
    expect(await t.capabilities('acc_pro')).toDeny('export_pdf', 'EXPORT_LIMIT_EXCEEDED');

    clock.set(MIDNIGHT - 1);
    expect((await t.check('acc_pro', 'export_pdf', { consume: 1 })).allowed).toBe(false);
    clock.advance('1ms');
    expect(await t.capabilities('acc_pro')).toAllow('export_pdf');
    expect((await t.check('acc_pro', 'export_pdf', { consume: 1 })).allowed).toBe(true);
  });
});
