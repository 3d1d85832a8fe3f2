import { describe, expect, it } from 'vitest';
import { checkAction, computeCapabilities, defaultTiers, isTiergateError, quotaWindows } from '@tiergate/core';

const NOW = Date.parse('2026-03-10T15:30:00.000Z');

// The two example responses of seeds/capabilities.txt, URLs aside.
const SEED_FREE = {
  tier: 'free',
  can: [
    { action: 'receive_messages', description: 'Receive unlimited inbound emails' },
    { action: 'create_inboxes', description: 'Create unlimited inboxes with @daimon.email addresses' },
    { action: 'create_webhooks', description: 'Register webhooks for real-time events' },
    { action: 'use_reply_extraction', description: 'Automatic reply body extraction with TalonJS' },
    { action: 'use_link_extraction', description: 'Automatic CTA and verification link detection' },
    { action: 'use_threading', description: 'Automatic email threading based on headers' },
  ],
  cannot: [
    { action: 'send_messages', reason: 'SEND_REQUIRES_PAID' },
    { action: 'use_custom_domains', reason: 'DOMAIN_REQUIRES_PAID' },
    { action: 'use_smtp', reason: 'SMTP_REQUIRES_PAID' },
  ],
};
const SEED_DEVELOPER = {
  tier: 'developer',
  can: [
    { action: 'receive_messages', description: 'Receive unlimited inbound emails' },
    { action: 'send_messages', description: 'Send up to 100 emails/day, 3,000/month' },
    { action: 'create_inboxes', description: 'Create unlimited inboxes' },
    { action: 'use_custom_domains', description: 'Connect 1 custom domain' },
    { action: 'use_smtp', description: 'SMTP access for direct email sending' },
    { action: 'create_webhooks', description: 'Register webhooks for real-time events' },
    { action: 'use_reply_extraction', description: 'Automatic reply body extraction with TalonJS' },
    { action: 'use_link_extraction', description: 'Automatic CTA and verification link detection' },
    { action: 'use_threading', description: 'Automatic email threading based on headers' },
  ],
  cannot: [],
};

const reasonOf = (caps: ReturnType<typeof computeCapabilities>, action: string) => caps.cannot.find((c) => c.action === action);

describe('computeCapabilities reproduces the seed responses', () => {
  it('free tier, field for field', () => {
    expect(computeCapabilities(defaultTiers, { tier: 'free' }, NOW)).toEqual(SEED_FREE);
  });
  it('developer tier, field for field', () => {
    expect(computeCapabilities(defaultTiers, { tier: 'developer' }, NOW)).toEqual(SEED_DEVELOPER);
  });
  it('growth and enterprise allow everything', () => {
    for (const tier of ['growth', 'enterprise']) {
      const caps = computeCapabilities(defaultTiers, { tier }, NOW);
      expect(caps.cannot).toEqual([]);
      expect(caps.can).toHaveLength(9);
    }
  });
});

describe('reason codes', () => {
  it('SEND_LIMIT_EXCEEDED for the daily limit, resetting at the next UTC midnight', () => {
    const caps = computeCapabilities(defaultTiers, { tier: 'developer', usage: { send_messages: { day: 100, month: 100 } } }, NOW);
    expect(reasonOf(caps, 'send_messages')).toEqual({ action: 'send_messages', reason: 'SEND_LIMIT_EXCEEDED', resets_at: '2026-03-11T00:00:00.000Z' });
  });
  it('SEND_LIMIT_EXCEEDED for the monthly limit, resetting on the 1st', () => {
    const caps = computeCapabilities(defaultTiers, { tier: 'developer', usage: { send_messages: { day: 3, month: 3000 } } }, NOW);
    expect(reasonOf(caps, 'send_messages')).toEqual({ action: 'send_messages', reason: 'SEND_LIMIT_EXCEEDED', resets_at: '2026-04-01T00:00:00.000Z' });
  });
  it('below the limit is allowed', () => {
    const caps = computeCapabilities(defaultTiers, { tier: 'developer', usage: { send_messages: { day: 99, month: 2999 } } }, NOW);
    expect(reasonOf(caps, 'send_messages')).toBeUndefined();
  });
  it('ACCOUNT_UNDER_REVIEW blocks sending, SMTP and domains only', () => {
    const caps = computeCapabilities(defaultTiers, { tier: 'growth', status: 'under_review' }, NOW);
    expect(caps.cannot).toEqual([
      { action: 'send_messages', reason: 'ACCOUNT_UNDER_REVIEW' },
      { action: 'use_custom_domains', reason: 'ACCOUNT_UNDER_REVIEW' },
      { action: 'use_smtp', reason: 'ACCOUNT_UNDER_REVIEW' },
    ]);
  });
  it('WEBHOOK_ENDPOINT_UNHEALTHY blocks create_webhooks', () => {
    const caps = computeCapabilities(defaultTiers, { tier: 'developer', webhookHealthy: false }, NOW);
    expect(caps.cannot).toEqual([{ action: 'create_webhooks', reason: 'WEBHOOK_ENDPOINT_UNHEALTHY' }]);
  });
  it('an unknown status blocks nothing', () => {
    expect(computeCapabilities(defaultTiers, { tier: 'developer', status: 'vip' }, NOW).cannot).toEqual([]);
  });
  it('an unknown tier is a host bug (CONFIG_INVALID)', () => {
    try {
      computeCapabilities(defaultTiers, { tier: 'platinum' }, NOW);
      expect.unreachable();
    } catch (err) {
      expect(isTiergateError(err, 'CONFIG_INVALID')).toBe(true);
    }
  });
});

describe('precedence: status > tier > quota > webhook', () => {
  it('under review wins over requires-paid', () => {
    const caps = computeCapabilities(defaultTiers, { tier: 'free', status: 'under_review', webhookHealthy: false }, NOW);
    expect(reasonOf(caps, 'send_messages')?.reason).toBe('ACCOUNT_UNDER_REVIEW');
    expect(reasonOf(caps, 'create_webhooks')?.reason).toBe('WEBHOOK_ENDPOINT_UNHEALTHY');
  });
  it('under review wins over the limit', () => {
    const caps = computeCapabilities(defaultTiers, { tier: 'developer', status: 'under_review', usage: { send_messages: { day: 100 } } }, NOW);
    expect(reasonOf(caps, 'send_messages')).toEqual({ action: 'send_messages', reason: 'ACCOUNT_UNDER_REVIEW' });
  });
  it('requires-paid wins over the limit (a free tier has no quota)', () => {
    const caps = computeCapabilities(defaultTiers, { tier: 'free', usage: { send_messages: { day: 1000, month: 1000 } } }, NOW);
    expect(reasonOf(caps, 'send_messages')).toEqual({ action: 'send_messages', reason: 'SEND_REQUIRES_PAID' });
  });
  it('when both windows are used up, resets_at is the later reset', () => {
    const caps = computeCapabilities(defaultTiers, { tier: 'developer', usage: { send_messages: { day: 100, month: 3000 } } }, NOW);
    expect(reasonOf(caps, 'send_messages')?.resets_at).toBe('2026-04-01T00:00:00.000Z');
  });
});

describe('quota windows are calendar-aligned UTC', () => {
  it('23:59:59.999 and 00:00:00.000 are different days', () => {
    const before = quotaWindows(Date.parse('2026-03-10T23:59:59.999Z'));
    const after = quotaWindows(Date.parse('2026-03-11T00:00:00.000Z'));
    expect(before.day.key).toBe('d2026-03-10');
    expect(after.day.key).toBe('d2026-03-11');
    expect(before.day.resetsAt).toBe(Date.parse('2026-03-11T00:00:00.000Z'));
    expect(before.month.key).toBe(after.month.key);
  });
  it('month ends roll into the next month and year', () => {
    expect(quotaWindows(Date.parse('2026-04-30T23:59:59.999Z')).month.resetsAt).toBe(Date.parse('2026-05-01T00:00:00.000Z'));
    const newYear = quotaWindows(Date.parse('2026-12-31T23:59:59.999Z'));
    expect(newYear.day.resetsAt).toBe(Date.parse('2027-01-01T00:00:00.000Z'));
    expect(newYear.month.resetsAt).toBe(Date.parse('2027-01-01T00:00:00.000Z'));
  });
  it('leap day is its own day and February resets on March 1st', () => {
    const leap = quotaWindows(Date.parse('2028-02-29T12:00:00.000Z'));
    expect(leap.day.key).toBe('d2028-02-29');
    expect(leap.day.resetsAt).toBe(Date.parse('2028-03-01T00:00:00.000Z'));
    expect(leap.month.resetsAt).toBe(Date.parse('2028-03-01T00:00:00.000Z'));
    expect(quotaWindows(Date.parse('2027-02-28T23:00:00.000Z')).day.resetsAt).toBe(Date.parse('2027-03-01T00:00:00.000Z'));
  });
  it('a limit hit at 23:59:59 carries the next midnight as resets_at', () => {
    const caps = computeCapabilities(defaultTiers, { tier: 'developer', usage: { send_messages: { day: 100 } } }, Date.parse('2026-03-10T23:59:59.000Z'));
    expect(reasonOf(caps, 'send_messages')?.resets_at).toBe('2026-03-11T00:00:00.000Z');
  });
  it('windows computed after a cached day are still right when time goes backwards', () => {
    quotaWindows(Date.parse('2026-06-01T00:00:00.000Z'));
    expect(quotaWindows(Date.parse('2026-05-31T23:59:59.999Z')).day.key).toBe('d2026-05-31');
  });
});

describe('checkAction', () => {
  it('asks whether `amount` more units fit', () => {
    const account = { tier: 'developer', usage: { send_messages: { day: 95, month: 95 } } };
    expect(checkAction(defaultTiers, account, 'send_messages', NOW, 5).allowed).toBe(true);
    expect(checkAction(defaultTiers, account, 'send_messages', NOW, 6)).toMatchObject({ allowed: false, reason: 'SEND_LIMIT_EXCEEDED', kind: 'quota', resetsAt: Date.parse('2026-03-11T00:00:00.000Z') });
  });
  it('denies with the tier reason', () => {
    expect(checkAction(defaultTiers, { tier: 'free' }, 'use_smtp', NOW)).toEqual({ allowed: false, action: 'use_smtp', reason: 'SMTP_REQUIRES_PAID', kind: 'tier' });
  });
  it("answers one shared frozen decision per allowed action of the table, and keeps none for another", () => {
    const allowed = checkAction(defaultTiers, { tier: 'developer' }, 'send_messages', NOW);
    expect(allowed).toEqual({ allowed: true, action: 'send_messages' });
    expect(Object.isFrozen(allowed)).toBe(true);
    expect(checkAction(defaultTiers, { tier: 'growth' }, 'send_messages', NOW + 86_400_000)).toBe(allowed);
    expect(checkAction(defaultTiers, { tier: 'developer' }, 'use_smtp', NOW)).toEqual({ allowed: true, action: 'use_smtp' });
    // An action the table does not know is not the table's to deny, and is not remembered.
    const unknown = checkAction(defaultTiers, { tier: 'free' }, 'fly' as 'send_messages', NOW);
    expect(unknown).toEqual({ allowed: true, action: 'fly' });
    expect(checkAction(defaultTiers, { tier: 'free' }, 'fly' as 'send_messages', NOW)).not.toBe(unknown);
  });
});

describe('caching', () => {
  it('returns the same frozen object for the same state', () => {
    const a = computeCapabilities(defaultTiers, { tier: 'free' }, NOW);
    const b = computeCapabilities(defaultTiers, { tier: 'free', customDomains: 3 }, NOW + 1000);
    expect(a).toBe(b);
    expect(Object.isFrozen(a)).toBe(true);
    expect(Object.isFrozen(a.cannot[0])).toBe(true);
  });
  it('distinguishes states that differ', () => {
    const a = computeCapabilities(defaultTiers, { tier: 'developer', usage: { send_messages: { day: 100 } } }, NOW);
    const b = computeCapabilities(defaultTiers, { tier: 'developer', usage: { send_messages: { day: 100 } } }, NOW + 86_400_000);
    expect(a).not.toBe(b);
    expect(reasonOf(b, 'send_messages')?.resets_at).toBe('2026-03-12T00:00:00.000Z');
  });
});
