/**
 * Slack and Discord notifiers against a real HTTP receiver: the payload
 * shapes of their documented webhook formats, the limits they enforce, and
 * how each answer is classified (delivered / retried / permanent).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PermanentNotifierError, type Notifier, type OperatorMessage } from '@tiergate/core';
import { DISCORD_COLORS, discordNotifier, slackNotifier, type DiscordPayload, type SlackBlock, type SlackPayload } from '@tiergate/notifiers';
import { closedPort } from '@tiergate/testing';
import { startChatReceiver, type ChatReceiver } from './chat-receiver.js';
import { approvalMessage, notificationMessage } from './operator-messages.js';
import { startSilentServer } from './silent-server.js';

let chat: ChatReceiver;

beforeAll(async () => {
  chat = await startChatReceiver();
});
afterAll(async () => {
  await chat.close();
});
beforeEach(() => {
  chat.requests.length = 0;
  chat.replies.length = 0;
  chat.defaultStatus = 200;
});

type Outcome = 'delivered' | 'retry' | 'permanent';

async function outcomeOf(notifier: Notifier, message: OperatorMessage): Promise<Outcome> {
  try {
    await notifier(message);
    return 'delivered';
  } catch (err) {
    // The dispatcher's rule: `permanent === true` is dead, anything else is retried.
    return (err as { permanent?: unknown }).permanent === true ? 'permanent' : 'retry';
  }
}

const blocksOf = (type: SlackBlock['type'], payload: SlackPayload) => payload.blocks.filter((b) => b.type === type);

describe('slackNotifier', () => {
  it('posts Block Kit: a header, the fields, and Approve (primary) / Deny (danger) URL buttons, with a text fallback', async () => {
    const message = approvalMessage();
    await slackNotifier({ webhookUrl: `${chat.url}/services/T0/B0/x` })(message);

    const [request] = chat.to('/services/T0/B0/x');
    expect(request?.method).toBe('POST');
    expect(request?.headers['content-type']).toContain('application/json');
    const payload = request!.json as SlackPayload;
    expect(payload.text).toBe(message.subject);
    expect(payload.unfurl_links).toBe(false);

    expect(blocksOf('header', payload)).toEqual([{ type: 'header', text: { type: 'plain_text', text: message.subject, emoji: false } }]);
    const sections = blocksOf('section', payload) as Extract<SlackBlock, { type: 'section' }>[];
    const fields = sections.flatMap((s) => s.fields ?? []);
    expect(fields).toHaveLength(message.chat.fields.length);
    for (const field of fields) expect(field).toMatchObject({ type: 'mrkdwn', verbatim: true });
    expect(fields.some((f) => f.text.includes('500'))).toBe(true);

    const [actions] = blocksOf('actions', payload) as Extract<SlackBlock, { type: 'actions' }>[];
    expect(actions?.elements).toEqual([
      { type: 'button', text: { type: 'plain_text', text: 'Approve Action', emoji: false }, url: message.links.approve, action_id: 'tiergate_link_0', style: 'primary' },
      { type: 'button', text: { type: 'plain_text', text: 'Deny Action', emoji: false }, url: message.links.deny, action_id: 'tiergate_link_1', style: 'danger' },
    ]);
    expect(blocksOf('context', payload)).toHaveLength(1);
  });

  it('posts one Review button for a plain notification', async () => {
    const message = notificationMessage();
    await slackNotifier({ webhookUrl: `${chat.url}/slack` })(message);
    const payload = chat.to('/slack')[0]!.json as SlackPayload;
    const [actions] = blocksOf('actions', payload) as Extract<SlackBlock, { type: 'actions' }>[];
    expect(actions?.elements.map((e) => [e.url, e.text.text])).toEqual([[message.links.review, 'Upgrade to Enable Sending']]);
  });

  it('keeps within Block Kit limits: at most 10 fields per section, header ≤ 150 characters', async () => {
    const context = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`key_${i}`, `value ${i}`]));
    const message = approvalMessage({ context });
    await slackNotifier({ webhookUrl: `${chat.url}/slack` })(message);
    const payload = chat.to('/slack')[0]!.json as SlackPayload;
    const sections = blocksOf('section', payload) as Extract<SlackBlock, { type: 'section' }>[];
    const withFields = sections.filter((s) => s.fields !== undefined);
    expect(withFields.length).toBeGreaterThan(1);
    for (const s of withFields) expect(s.fields!.length).toBeLessThanOrEqual(10);
    // action, reason, 10 context highlights (the renderer's cap), urgency
    expect(withFields.flatMap((s) => s.fields!)).toHaveLength(message.chat.fields.length);
    const [header] = blocksOf('header', payload) as Extract<SlackBlock, { type: 'header' }>[];
    expect(header!.text.text.length).toBeLessThanOrEqual(150);
  });

  it('sends each message to the webhook of its account', async () => {
    const hooks: Record<string, string> = { acct_1: `${chat.url}/hooks/one` };
    const notifier = slackNotifier({ webhookUrl: async (m) => hooks[m.accountId] });
    await notifier(approvalMessage());
    expect(chat.to('/hooks/one')).toHaveLength(1);
    delete hooks.acct_1;
    await expect(notifier(approvalMessage())).rejects.toBeInstanceOf(PermanentNotifierError);
    expect(chat.requests).toHaveLength(1);
  });
});

describe('discordNotifier', () => {
  it('posts an embed with fields and the links, link buttons (style 5), and no mentions', async () => {
    const message = approvalMessage({ urgency: 'high' });
    await discordNotifier({ webhookUrl: `${chat.url}/api/webhooks/1/abc`, username: 'tiergate' })(message);

    const [request] = chat.to('/api/webhooks/1/abc');
    expect(request?.query.get('with_components')).toBe('true');
    const payload = request!.json as DiscordPayload;
    expect(payload.username).toBe('tiergate');
    expect(payload.allowed_mentions).toEqual({ parse: [] });

    expect(payload.embeds).toHaveLength(1);
    const embed = payload.embeds[0]!;
    expect(embed.title).toContain('Bulk Send');
    expect(embed.url).toBe(message.links.review);
    expect(embed.color).toBe(DISCORD_COLORS.high);
    expect(embed.fields).toHaveLength(message.chat.fields.length);
    for (const field of embed.fields) {
      expect(Object.keys(field).sort()).toEqual(['inline', 'name', 'value']);
      expect(typeof field.inline).toBe('boolean');
    }
    // Components are dropped by some webhooks: the links are in the embed too.
    expect(embed.description).toContain(`](${message.links.approve})`);
    expect(embed.description).toContain(`](${message.links.deny})`);

    expect(payload.components).toEqual([
      {
        type: 1,
        components: [
          { type: 2, style: 5, label: 'Approve Action', url: message.links.approve },
          { type: 2, style: 5, label: 'Deny Action', url: message.links.deny },
        ],
      },
    ]);
  });

  it('colours by urgency and keeps the query of the webhook URL', async () => {
    const notifier = discordNotifier({ webhookUrl: `${chat.url}/api/webhooks/2/def?thread_id=42` });
    await notifier(approvalMessage({ urgency: 'low' }));
    await notifier(notificationMessage());
    const [low, plain] = chat.to('/api/webhooks/2/def');
    expect(low!.query.get('thread_id')).toBe('42');
    expect((low!.json as DiscordPayload).embeds[0]!.color).toBe(DISCORD_COLORS.low);
    expect((plain!.json as DiscordPayload).embeds[0]!.color).toBe(DISCORD_COLORS.none);
    expect((plain!.json as DiscordPayload).components[0]!.components).toHaveLength(1);
  });

  it('stays within the embed limits for the largest message an agent can send', async () => {
    const long = '<[x](https://e.example)> @everyone '.repeat(40).slice(0, 1000);
    const context = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`field_${i}`, long.slice(0, 200)]));
    await discordNotifier({ webhookUrl: `${chat.url}/discord` })(approvalMessage({ reason: long, context }));
    const embed = (chat.to('/discord')[0]!.json as DiscordPayload).embeds[0]!;
    const total = embed.title.length + embed.description.length + (embed.footer?.text.length ?? 0) + embed.fields.reduce((n, f) => n + f.name.length + f.value.length, 0);
    expect(total).toBeLessThanOrEqual(6000);
    expect(embed.description.length).toBeLessThanOrEqual(4096);
    expect(embed.fields.length).toBeLessThanOrEqual(25);
    for (const f of embed.fields) {
      expect(f.name.length).toBeLessThanOrEqual(256);
      expect(f.value.length).toBeLessThanOrEqual(1024);
    }
  });
});

describe('answers of the chat endpoint', () => {
  const notifiers = {
    slack: () => slackNotifier({ webhookUrl: `${chat.url}/slack` }),
    discord: () => discordNotifier({ webhookUrl: `${chat.url}/discord` }),
  };

  for (const [name, make] of Object.entries(notifiers)) {
    it(`${name}: 2xx delivered; 408/429/5xx retried; other 4xx permanent`, async () => {
      const cases: [number, Outcome][] = [
        [200, 'delivered'],
        [204, 'delivered'],
        [500, 'retry'],
        [502, 'retry'],
        [503, 'retry'],
        [429, 'retry'],
        [408, 'retry'],
        [400, 'permanent'],
        [403, 'permanent'],
        [404, 'permanent'],
        [410, 'permanent'],
        [302, 'retry'],
      ];
      const notifier = make();
      const seen: [number, Outcome][] = [];
      for (const [status] of cases) {
        chat.replies.push(status);
        seen.push([status, await outcomeOf(notifier, approvalMessage())]);
      }
      expect(seen).toEqual(cases);
    });
  }

  it('retries when nothing listens at the webhook URL', async () => {
    const port = await closedPort();
    expect(await outcomeOf(slackNotifier({ webhookUrl: `http://127.0.0.1:${port}/slack` }), approvalMessage())).toBe('retry');
    expect(await outcomeOf(discordNotifier({ webhookUrl: `http://127.0.0.1:${port}/discord` }), approvalMessage())).toBe('retry');
  });

  it('retries when the endpoint does not answer within the timeout', async () => {
    const silent = await startSilentServer();
    try {
      expect(await outcomeOf(slackNotifier({ webhookUrl: `http://127.0.0.1:${silent.port}/slack`, timeoutMs: 50 }), approvalMessage())).toBe('retry');
    } finally {
      await silent.close();
    }
  });

  it('fails permanently, without a request, for a missing or non-http webhook URL — and never echoes the URL', async () => {
    const secretUrl = 'ftp://hooks.example/T000/B000/very-secret-token';
    for (const notifier of [slackNotifier({ webhookUrl: () => undefined }), slackNotifier({ webhookUrl: secretUrl }), discordNotifier({ webhookUrl: 'not a url' })]) {
      const error = await notifier(approvalMessage()).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(error).toBeInstanceOf(PermanentNotifierError);
      expect((error as Error).message).not.toContain('very-secret-token');
    }
    expect(chat.requests).toHaveLength(0);
  });

  it('does not put the webhook URL in a retryable error either', async () => {
    chat.replies.push(500);
    const error = await slackNotifier({ webhookUrl: `${chat.url}/slack/very-secret-token` })(approvalMessage()).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).not.toContain('very-secret-token');
  });
});
