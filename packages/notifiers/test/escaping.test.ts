/**
 * Whatever an agent writes (issue, reason, context keys and values) reaches
 * the operator as text: escaped in the e-mail's HTML, and unable to mention,
 * link or format in Slack and Discord. Run through the service, so it covers
 * what the outbox really sends.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTiergate, type Account } from '@tiergate/core';
import { discordNotifier, escapeDiscordMarkdown, escapeSlackText, slackNotifier, smtpNotifier, type DiscordPayload, type SlackPayload, type SlackText } from '@tiergate/notifiers';
import { createFakeClock } from '@tiergate/testing';
import { startChatReceiver, type ChatReceiver } from './chat-receiver.js';
import { parseMail } from './mime-reader.js';
import { startOperatorServer, type OperatorServer } from './operator-server.js';
import { startSmtpReceiver, type SmtpReceiver } from './smtp-receiver.js';

const HOSTILE = '<script>alert(1)</script> <img src=x onerror=alert(2)> <!channel> <@U123> <#C1> @everyone @here [x](https://evil.example/a) <https://evil.example/b|click> **bold** # big <t:0:R> `code`';
const OPS: Account = { id: 'acct_hostile', tier: 'developer', operatorEmail: 'ops@example.com' };

let smtp: SmtpReceiver;
let chat: ChatReceiver;
let operator: OperatorServer;

beforeAll(async () => {
  [smtp, chat, operator] = await Promise.all([startSmtpReceiver(), startChatReceiver(), startOperatorServer()]);
});
afterAll(async () => {
  await Promise.all([smtp.close(), chat.close(), operator.close()]);
});

/** Every text object of a Slack payload with the block it came from. */
function slackTexts(payload: SlackPayload): SlackText[] {
  const out: SlackText[] = [];
  for (const block of payload.blocks) {
    if (block.type === 'header') out.push(block.text);
    if (block.type === 'section') out.push(...(block.text === undefined ? [] : [block.text]), ...(block.fields ?? []));
    if (block.type === 'context') out.push(...block.elements);
  }
  return out;
}

/** Unescaped Discord masked links `[label](url)` → their URLs. */
const maskedLinkUrls = (text: string): string[] => [...text.matchAll(/(?<!\\)\[(?:\\.|[^\]\\])*(?<!\\)\]\(([^)\s]+)\)/g)].map((m) => m[1] ?? '');

describe('operator-supplied text in every channel', () => {
  it('is escaped in the e-mail HTML and neutralised in Slack and Discord', async () => {
    const tiergate = createTiergate({
      authenticate: () => null,
      secret: 'escaping-test-secret-0123456789abcdefgh',
      publicUrl: () => operator.url,
      clock: createFakeClock(),
      notifyRateLimit: false,
      notifiers: {
        channels: {
          email: smtpNotifier({ transport: smtp.url, from: 'agents@example.com' }),
          slack: slackNotifier({ webhookUrl: `${chat.url}/slack` }),
          discord: discordNotifier({ webhookUrl: `${chat.url}/discord` }),
        },
      },
    });
    operator.attach(tiergate);
    const approval = await tiergate.notifyOperator(OPS, {
      type: 'approval_request',
      action: 'bulk_send',
      issue: `issue ${HOSTILE}`,
      reason: `reason ${HOSTILE}`,
      context: { note: HOSTILE, '<b onclick=x>key</b> @everyone': 'value' },
    });
    const notification = await tiergate.notifyOperator(OPS, { issue: `plain ${HOSTILE}`, action_label: '[label](https://evil.example/c) <!here>', context: { note: HOSTILE } });
    await tiergate.deliver();
    await tiergate.stop();
    const operatorLink = `${operator.url}/operator/action?token=`;

    // E-mail: the HTML shows the text, never runs or links it; the plain part is plain.
    const mails = smtp.accepted().map((m) => parseMail(m.raw));
    expect(mails).toHaveLength(2);
    // An approval's own issue (different from its reason) reaches the operator too.
    expect(mails.some((m) => m.text?.includes(`issue ${HOSTILE}`))).toBe(true);
    for (const mail of mails) {
      const html = mail.html!;
      const tags = new Set([...html.matchAll(/<\/?([a-z!]+)/gi)].map((m) => m[1]!.toLowerCase()));
      expect([...tags].filter((t) => !['!doctype', 'html', 'head', 'meta', 'title', 'body', 'div', 'p', 'table', 'tr', 'td', 'a'].includes(t))).toEqual([]);
      expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
      for (const [, href] of html.matchAll(/href="([^"]*)"/g)) expect(href!.startsWith(operatorLink)).toBe(true);
      expect(mail.text).toContain('<script>alert(1)</script>');
    }

    // Slack: mrkdwn is entity-escaped and verbatim (no auto-links or mentions); the only URLs are our buttons.
    const slack = chat.to('/slack').map((r) => r.json as SlackPayload);
    expect(slack).toHaveLength(2);
    for (const payload of slack) {
      const texts = slackTexts(payload);
      expect(texts.map((t) => t.text).join('\n')).toContain('&lt;!channel&gt;');
      for (const t of texts) {
        if (t.type !== 'mrkdwn') continue;
        expect(t.verbatim).toBe(true);
        expect(t.text).not.toMatch(/[<>]/);
        expect(t.text).not.toMatch(/&(?!amp;|lt;|gt;)/);
      }
      expect(payload.text).not.toMatch(/[<>]/);
      for (const block of payload.blocks) {
        if (block.type === 'actions') for (const button of block.elements) expect(button.url.startsWith(operatorLink)).toBe(true);
      }
    }

    // Discord: no live mention, masked link, angle token, heading or bare link survives; nobody can be pinged.
    const discord = chat.to('/discord').map((r) => r.json as DiscordPayload);
    expect(discord).toHaveLength(2);
    for (const payload of discord) {
      expect(payload.allowed_mentions).toEqual({ parse: [] });
      const embed = payload.embeds[0]!;
      // The title is one line and never auto-linked: it keeps `:`, `-` and `#`, the rest is escaped like the body.
      expect(maskedLinkUrls(embed.title)).toEqual([]);
      expect(embed.title).not.toMatch(/@(everyone|here)|(?<!\\)<|(?<!\\)\*\*/);
      const texts = [embed.description, ...embed.fields.flatMap((f) => [f.name, f.value])];
      for (const text of texts) {
        for (const url of maskedLinkUrls(text)) expect(url.startsWith(operatorLink)).toBe(true);
        const withoutOurLinks = text.replace(/(?<!\\)\[(?:\\.|[^\]\\])*(?<!\\)\]\(([^)\s]+)\)/g, '');
        expect(withoutOurLinks).not.toMatch(/@(everyone|here)/);
        expect(withoutOurLinks).not.toMatch(/(?<!\\)</);
        expect(withoutOurLinks).not.toMatch(/https?:\/\//);
        expect(withoutOurLinks).not.toMatch(/(?<!\\)\*\*/);
        expect(withoutOurLinks).not.toMatch(/(^|\n)#/);
      }
      expect(embed.url.startsWith(operatorLink)).toBe(true);
      for (const button of payload.components[0]!.components) expect(button.url.startsWith(operatorLink)).toBe(true);
    }
    expect(approval.request_id).toBeDefined();
    expect(notification.notification_id).toBeDefined();
  });
});

describe('the escape functions', () => {
  it('escapeSlackText turns only & < > into entities', () => {
    expect(escapeSlackText('a & <b> <!channel> <@U1|x> *y*')).toBe('a &amp; &lt;b&gt; &lt;!channel&gt; &lt;@U1|x&gt; *y*');
  });

  it('escapeDiscordMarkdown backslash-escapes markdown and breaks @everyone / @here', () => {
    expect(escapeDiscordMarkdown('[x](https://e) <@1> @everyone *b* # h')).toBe('\\[x\\]\\(https\\://e\\) \\<@\u200b1\\> @\u200beveryone \\*b\\* \\# h');
  });
});
