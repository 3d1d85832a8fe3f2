import { describe, expect, it } from 'vitest';
import { computeCapabilities, defaultTiers, type CapabilitiesResult } from '@tiergate/core';
import { createTestTiergate, formatCapabilities, setupTiergateMatchers, tiergateMatchers } from '@tiergate/testing';

setupTiergateMatchers();

const NOW = Date.parse('2026-03-10T12:00:00.000Z');
const free = computeCapabilities(defaultTiers, { tier: 'free' }, NOW);
const exhausted = computeCapabilities(defaultTiers, { tier: 'developer', usage: { send_messages: { day: 100, month: 100 } } }, NOW);

/** The message a failing assertion throws. */
function failureMessage(assertion: () => void): string {
  try {
    assertion();
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
  throw new Error('expected the assertion to fail');
}

describe('toAllow / toDeny on core Capabilities', () => {
  it('pass paths', () => {
    expect(free).toAllow('receive_messages');
    expect(free).toDeny('send_messages');
    expect(free).toDeny('send_messages', 'SEND_REQUIRES_PAID');
    expect(free).not.toAllow('send_messages');
    expect(free).not.toDeny('receive_messages');
    expect(free).not.toDeny('send_messages', 'SEND_LIMIT_EXCEEDED');
    expect(exhausted).toDeny('send_messages', 'SEND_LIMIT_EXCEEDED');
    expect(exhausted).toAllow('use_smtp');
  });

  it('a failed toAllow lists the whole can/cannot table', () => {
    const message = failureMessage(() => expect(free).toAllow('send_messages'));
    expect(message).toContain('"free"');
    expect(message).toContain('SEND_REQUIRES_PAID');
    for (const entry of free.can) {
      expect(message).toContain(entry.action);
      expect(message).toContain(entry.description);
    }
    for (const entry of free.cannot) expect(message).toMatch(new RegExp(`✗ ${entry.action}\\s+${entry.reason}`));
    expect(() => expect(free).toAllow('send_messages')).toThrow(/Receive unlimited inbound emails/);
  });

  it('a failed toDeny shows the reason it has, with resets_at for quota reasons', () => {
    const wrongReason = failureMessage(() => expect(exhausted).toDeny('send_messages', 'SEND_REQUIRES_PAID'));
    expect(wrongReason).toContain('SEND_REQUIRES_PAID');
    expect(wrongReason).toContain('SEND_LIMIT_EXCEEDED (resets_at 2026-03-11T00:00:00.000Z)');
    expect(wrongReason).toContain('Connect 1 custom domain');
    const allowed = failureMessage(() => expect(free).toDeny('receive_messages'));
    expect(allowed).toContain('receive_messages');
    expect(allowed).toMatch(/✗ send_messages\s+SEND_REQUIRES_PAID/);
  });

  it('.not failures list the table too', () => {
    expect(() => expect(free).not.toAllow('receive_messages')).toThrow(/✗ use_smtp\s+SMTP_REQUIRES_PAID/);
    expect(() => expect(free).not.toDeny('send_messages', 'SEND_REQUIRES_PAID')).toThrow(/✓ create_webhooks/);
  });

  it('an action the table does not have neither passes toAllow nor toDeny', () => {
    const unknown = 'sned_messages' as 'send_messages';
    expect(() => expect(free).toAllow(unknown)).toThrow(/sned_messages/);
    expect(() => expect(free).toDeny(unknown)).toThrow(/sned_messages/);
  });

  it('something that is not capabilities is a TypeError, even under .not', () => {
    expect(() => expect({ tier: 'free' }).toAllow('send_messages')).toThrow(TypeError);
    expect(() => expect(undefined).not.toDeny('send_messages')).toThrow(TypeError);
    expect(() => expect({ tier: 'free', can: [], cannot: [{ action: 'x' }] } as unknown).not.toAllow('x')).toThrow(TypeError);
  });

  it('is typed by the table: a misspelt action or reason does not compile', () => {
    // Never called: the checks are @ts-expect-error lines that tsc verifies.
    const typeOnly = (): void => {
      // @ts-expect-error not an action of the default table
      expect(free).toAllow('sned_messages');
      // @ts-expect-error not a reason of the default table
      expect(free).toDeny('send_messages', 'SEND_REQUIRES_GOLD');
    };
    expect(typeof typeOnly).toBe('function');
  });
});

describe('on the wire CapabilitiesResult', () => {
  it('reads what the service (and GET /v1/capabilities) returns', async () => {
    const t = createTestTiergate({ start: NOW, accounts: [{ id: 'acc_free', tier: 'free' }, { id: 'acc_dev', tier: 'developer', status: 'under_review' }] });
    const wireFree: CapabilitiesResult = await t.capabilities('acc_free');
    expect(wireFree).toDeny('use_smtp', 'SMTP_REQUIRES_PAID');
    expect(wireFree).toAllow('create_webhooks');
    const underReview = await t.capabilities('acc_dev');
    expect(underReview).toDeny('send_messages', 'ACCOUNT_UNDER_REVIEW');
    expect(underReview).toAllow('create_inboxes');
    const message = failureMessage(() => expect(underReview).toAllow('send_messages'));
    expect(message).toContain('ACCOUNT_UNDER_REVIEW');
    expect(message).toContain('"developer"');
    const response = await t.handle({ method: 'GET', path: '/v1/capabilities', headers: { authorization: `Bearer ${t.account('acc_free').apiKey}` } });
    const parsed = (JSON.parse(response.body) as { result: CapabilitiesResult }).result;
    expect(parsed).toDeny('send_messages', 'SEND_REQUIRES_PAID');
  });
});

describe('exports', () => {
  it('tiergateMatchers works with expect.extend and formatCapabilities prints the table', () => {
    expect.extend(tiergateMatchers);
    expect(free).toAllow('use_threading');
    const table = formatCapabilities({ tier: 'x', can: [], cannot: [] });
    expect(table.split('\n')).toEqual(['tier: x', 'can (0):', '  (nothing)', 'cannot (0):', '  (nothing)']);
  });
});
