import { describe, expect, it } from 'vitest';
import { createTiergate, englishDuration, englishMessages, mergeCatalog, reasonMessages, sentence, apiKeyAuthenticator } from '@tiergate/core';

describe('message catalog', () => {
  it('englishDuration rounds to the nearest whole unit', () => {
    expect(englishDuration(7 * 86_400_000 - 1_000)).toBe('7 days');
    expect(englishDuration(86_400_000)).toBe('1 day');
    expect(englishDuration(3_600_000)).toBe('1 hour');
    expect(englishDuration(59 * 60_000)).toBe('59 minutes');
    expect(englishDuration(10_000)).toBe('less than a minute');
  });

  it('agent scripts read like the seeds', () => {
    expect(englishMessages.agentScript.upgrade('I need sending access', 'https://x/u')).toBe("Tell your operator: I need sending access. Here's a direct upgrade link: https://x/u");
    expect(englishMessages.agentScript.action('Unable to send confirmation email - sending requires paid tier', 'https://x/a')).toBe(
      "Tell your operator: Unable to send confirmation email - sending requires paid tier. Here's a direct action link: https://x/a",
    );
    expect(sentence('Done!')).toBe('Done!');
  });

  it('falls back for unknown reason codes', () => {
    expect(reasonMessages(englishMessages, 'EXPORT_REQUIRES_PRO', 'export_pdf', 'tier').suggest).toBe('upgrade');
    expect(reasonMessages(englishMessages, 'EXPORT_LIMIT', 'export_pdf', 'quota').suggest).toBe('upgrade');
    expect(reasonMessages(englishMessages, 'HOOK_DOWN', 'export_pdf', 'webhook').suggest).toBe('webhook_settings');
    expect(reasonMessages(englishMessages, 'KYC_PENDING', 'withdraw', 'status').suggest).toBe('support');
    expect(reasonMessages(englishMessages, 'SEND_REQUIRES_PAID', 'send_messages', 'tier').actionLabel).toBe('Upgrade to enable sending');
  });

  it('a second language replaces what it names and keeps English elsewhere', async () => {
    const german = mergeCatalog({
      locale: 'de',
      reasons: { SEND_REQUIRES_PAID: { summary: 'Senden erfordert einen bezahlten Tarif', need: 'Ich brauche Sendezugriff', actionLabel: 'Upgrade zum Senden', suggest: 'upgrade' } },
      agentScript: { upgrade: (need, url) => `Sag deinem Operator: ${need}. Hier ist ein direkter Upgrade-Link: ${url}`, action: (issue, url) => `Sag deinem Operator: ${issue}. Link: ${url}` },
      nextSteps: { capabilitiesBlocked: ['Nutze can[] für erlaubte Aktionen'] },
    });
    expect(german.locale).toBe('de');
    expect(german.reasons.SMTP_REQUIRES_PAID?.actionLabel).toBe('Upgrade to enable SMTP');
    expect(german.nextSteps.account).toEqual(englishMessages.nextSteps.account);

    const tiergate = createTiergate({
      authenticate: apiKeyAuthenticator([{ apiKey: 'k', account: { id: 'acc_de', tier: 'free' } }]),
      secret: 's'.repeat(32),
      publicUrl: 'https://api.example.de',
      messages: german,
    });
    const caps = await tiergate.capabilities({ id: 'acc_de', tier: 'free' });
    expect(caps.upgrade_context?.operator_action_label).toBe('Upgrade zum Senden');
    expect(caps.upgrade_context?.agent_script).toMatch(/^Sag deinem Operator: Ich brauche Sendezugriff\. Hier ist ein direkter Upgrade-Link: https:\/\/api\.example\.de\/upgrade\?token=/);
  });
});
