/**
 * `notifiersFromEnv`: the example server's notifier configuration from
 * environment variables, run against a real SMTP server and a real HTTP
 * receiver standing in for Slack and Discord.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTiergate, type Account } from '@tiergate/core';
import { createFakeClock } from '@tiergate/testing';
import { startChatReceiver, type ChatReceiver } from '../../packages/notifiers/test/chat-receiver.js';
import { parseMail } from '../../packages/notifiers/test/mime-reader.js';
import { startSmtpReceiver, type SmtpReceiver } from '../../packages/notifiers/test/smtp-receiver.js';
import { DEFAULT_SMTP_FROM, notifiersFromEnv } from '../src/notifiers-from-env.js';

const OPS: Account = { id: 'acct_env', tier: 'developer', operatorEmail: 'ops@example.com' };
const NO_EMAIL: Account = { id: 'acct_env_quiet', tier: 'developer' };

let smtp: SmtpReceiver;
let chat: ChatReceiver;

beforeAll(async () => {
  [smtp, chat] = await Promise.all([startSmtpReceiver(), startChatReceiver()]);
});
afterAll(async () => {
  await Promise.all([smtp.close(), chat.close()]);
});
beforeEach(() => {
  smtp.mails.length = 0;
  chat.requests.length = 0;
});

async function channelsFor(env: Record<string, string | undefined>, account: Account): Promise<readonly string[]> {
  const options = notifiersFromEnv(env, { write: () => undefined });
  return options.route === undefined ? Object.keys(options.channels) : options.route({ id: account.id, operatorEmail: account.operatorEmail ?? null });
}

describe('notifiersFromEnv', () => {
  it('prints to the console when nothing is configured', async () => {
    const options = notifiersFromEnv({});
    expect(Object.keys(options.channels)).toEqual(['console']);
    expect(await channelsFor({}, OPS)).toEqual(['console']);
  });

  it('has no channel at all with TIERGATE_CONSOLE_NOTIFIER=0 and nothing else', () => {
    expect(Object.keys(notifiersFromEnv({ TIERGATE_CONSOLE_NOTIFIER: '0' }).channels)).toEqual([]);
  });

  it('adds e-mail, Slack and Discord for their variables, and e-mails only accounts that have an operator e-mail', async () => {
    const env = {
      TIERGATE_SMTP_URL: smtp.url,
      TIERGATE_SLACK_WEBHOOK_URL: `${chat.url}/slack`,
      TIERGATE_DISCORD_WEBHOOK_URL: `${chat.url}/discord`,
    };
    expect(Object.keys(notifiersFromEnv(env).channels).sort()).toEqual(['console', 'discord', 'email', 'slack']);
    expect([...(await channelsFor(env, OPS))].sort()).toEqual(['console', 'discord', 'email', 'slack']);
    expect([...(await channelsFor(env, NO_EMAIL))].sort()).toEqual(['console', 'discord', 'slack']);
  });

  it('delivers through every configured channel from a real tiergate', async () => {
    const printed: string[] = [];
    const notifiers = notifiersFromEnv(
      {
        TIERGATE_SMTP_URL: smtp.url,
        TIERGATE_SMTP_FROM: 'Example Agents <agents@example.com>',
        TIERGATE_SLACK_WEBHOOK_URL: `${chat.url}/slack`,
        TIERGATE_DISCORD_WEBHOOK_URL: `${chat.url}/discord`,
      },
      { write: (line) => printed.push(line) },
    );
    const tiergate = createTiergate({
      authenticate: () => null,
      secret: 'notifiers-from-env-test-secret-0123456789',
      publicUrl: 'https://api.example.com',
      clock: createFakeClock(),
      notifiers,
    });
    const result = await tiergate.notifyOperator(OPS, { type: 'approval_request', action: 'bulk_send', reason: 'Sending to 500 recipients exceeds safety threshold', context: { recipient_count: 500 } });
    await tiergate.deliver();
    await tiergate.stop();

    const outbox = await tiergate.approvals.deliveries(result.request_id as string);
    expect(outbox.map((m) => [m.target, m.state]).sort()).toEqual([
      ['console', 'delivered'],
      ['discord', 'delivered'],
      ['email', 'delivered'],
      ['slack', 'delivered'],
    ]);
    const [mail] = smtp.accepted();
    expect(mail?.user).toBe('tester');
    expect(mail?.mailFrom).toBe('agents@example.com');
    expect(mail?.rcptTo).toEqual(['ops@example.com']);
    expect(parseMail(mail!.raw).headers.get('subject')).toBe('Agent Approval Required: Bulk Send');
    expect(chat.to('/slack')).toHaveLength(1);
    expect(chat.to('/discord')).toHaveLength(1);
    expect(printed).toHaveLength(1);
    expect(printed[0]).toContain('https://api.example.com/operator/action?token=');
  });

  it('uses a default sender when TIERGATE_SMTP_FROM is unset', async () => {
    const { channels } = notifiersFromEnv({ TIERGATE_SMTP_URL: smtp.url, TIERGATE_CONSOLE_NOTIFIER: '0' });
    const tiergate = createTiergate({ authenticate: () => null, secret: 'notifiers-from-env-test-secret-0123456789', publicUrl: 'https://api.example.com', notifiers: { channels } });
    await tiergate.notifyOperator(OPS, { issue: 'Webhook endpoint has been unhealthy for 2 hours' });
    await tiergate.deliver();
    await tiergate.stop();
    expect(smtp.accepted().map((m) => m.mailFrom)).toEqual([/<(.+)>/.exec(DEFAULT_SMTP_FROM)?.[1]]);
  });

  it('refuses a malformed URL, naming the variable but not echoing its value', () => {
    const cases: Record<string, string> = {
      TIERGATE_SMTP_URL: 'http://user:hunter2-secret@mail.example',
      TIERGATE_SLACK_WEBHOOK_URL: 'hooks.slack.com/services/hunter2-secret',
      TIERGATE_DISCORD_WEBHOOK_URL: 'ftp://discord.example/hunter2-secret',
    };
    for (const [name, value] of Object.entries(cases)) {
      let error: unknown;
      try {
        notifiersFromEnv({ [name]: value });
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).toContain(name);
      expect((error as Error).message).not.toContain('hunter2-secret');
    }
  });
});
