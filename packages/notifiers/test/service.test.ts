/**
 * The notifiers through the service, end to end: `notifyOperator` writes the
 * messages to the outbox, `deliver()` hands them to a real SMTP server and a
 * real HTTP receiver standing in for Slack, and the links in what arrives
 * open the real operator page — without deciding anything.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { apiKeyAuthenticator, createTiergate, memoryStore, type Account, type NotifierOptions, type OutboxMessage, type Store, type Tiergate } from '@tiergate/core';
import { slackNotifier, smtpNotifier, type SlackPayload } from '@tiergate/notifiers';
import { closedPort, createFakeClock, type FakeClock } from '@tiergate/testing';
import { startChatReceiver, type ChatReceiver } from './chat-receiver.js';
import { parseMail } from './mime-reader.js';
import { startOperatorServer, type OperatorServer } from './operator-server.js';
import { startSilentServer } from './silent-server.js';
import { startSmtpReceiver, type SmtpReceiver } from './smtp-receiver.js';

const SECRET = 'notifiers-service-test-secret-0123456789';
const FROM = 'Agent Desk <agents@example.com>';
const OPS: Account = { id: 'acct_ops', tier: 'developer', operatorEmail: 'ops@example.com' };
const NO_EMAIL: Account = { id: 'acct_quiet', tier: 'developer' };
const API_KEY = 'tg_test_notifiers_key';

const BULK_SEND = {
  type: 'approval_request',
  action: 'bulk_send',
  context: { recipient_count: 500, subject: 'Product Update', preview: 'We are excited to announce...' },
  reason: 'Sending to 500 recipients exceeds safety threshold',
  urgency: 'medium',
  expires_in: 3600,
} as const;

let smtp: SmtpReceiver;
let chat: ChatReceiver;
let operator: OperatorServer;
const running: Tiergate[] = [];

beforeAll(async () => {
  [smtp, chat, operator] = await Promise.all([startSmtpReceiver(), startChatReceiver(), startOperatorServer()]);
});
afterAll(async () => {
  await Promise.all([smtp.close(), chat.close(), operator.close()]);
});
beforeEach(() => {
  smtp.mails.length = 0;
  smtp.behaviour = {};
  chat.requests.length = 0;
  chat.replies.length = 0;
  chat.defaultStatus = 200;
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((t) => t.stop()));
});

function channels(smtpTransport: string = smtp.url): NotifierOptions['channels'] {
  return {
    email: smtpNotifier({ transport: smtpTransport, from: FROM }),
    slack: slackNotifier({ webhookUrl: `${chat.url}/slack` }),
  };
}

function build(options: { channels?: NotifierOptions['channels']; store?: Store; clock?: FakeClock } = {}): { tiergate: Tiergate; clock: FakeClock } {
  const clock = options.clock ?? createFakeClock();
  const tiergate = createTiergate({
    authenticate: apiKeyAuthenticator([{ apiKey: API_KEY, account: OPS }]),
    secret: SECRET,
    publicUrl: () => operator.url,
    clock,
    notifyRateLimit: false,
    ...(options.store === undefined ? {} : { store: options.store }),
    notifiers: { channels: options.channels ?? channels() },
  });
  operator.attach(tiergate);
  running.push(tiergate);
  return { tiergate, clock };
}

const byTarget = (messages: readonly OutboxMessage[], target: string): OutboxMessage => {
  const found = messages.find((m) => m.target === target && m.type === 'operator.notification');
  if (found === undefined) throw new Error(`no outbox message for ${target}`);
  return found;
};

/** The href targets of an HTML part, entity-decoded. */
const hrefs = (html: string): string[] => [...html.matchAll(/href="([^"]*)"/g)].map((m) => (m[1] ?? '').replace(/&amp;/g, '&').replace(/&#39;/g, "'"));
const urlsIn = (text: string): string[] => [...text.matchAll(/https?:\/\/\S+/g)].map((m) => m[0]);

async function open(url: string): Promise<{ status: number; body: string; type: string | null }> {
  const response = await fetch(url);
  return { status: response.status, body: await response.text(), type: response.headers.get('content-type') };
}

describe('approval request, end to end', () => {
  it('e-mails the seed message to the operator and posts it to Slack; its links open the operator page without deciding', async () => {
    const { tiergate } = build();
    const result = await tiergate.notifyOperator(OPS, BULK_SEND);
    expect(result.status).toBe('pending');
    const requestId = result.request_id as string;

    await tiergate.deliver();

    const outbox = await tiergate.approvals.deliveries(requestId);
    const emailMessage = byTarget(outbox, 'email');
    expect(emailMessage.state).toBe('delivered');
    expect(byTarget(outbox, 'slack').state).toBe('delivered');

    const mails = smtp.accepted();
    expect(mails).toHaveLength(1);
    const mail = mails[0]!;
    expect(mail.rcptTo).toEqual(['ops@example.com']);
    expect(mail.mailFrom).toBe('agents@example.com');
    const parsed = parseMail(mail.raw);
    expect(parsed.headers.get('subject')).toBe('Agent Approval Required: Bulk Send');
    expect(parsed.headers.get('to')).toContain('ops@example.com');
    expect(parsed.headers.get('message-id')).toBe(`<${emailMessage.id}@example.com>`);
    expect(parsed.headers.get('x-entity-ref-id')).toBe(emailMessage.id);
    expect(parsed.headers.get('auto-submitted')).toBe('auto-generated');
    expect(parsed.text).toBeDefined();
    expect(parsed.html).toBeDefined();
    for (const part of [parsed.text!, parsed.html!]) {
      expect(part).toContain('500');
      expect(part).toContain('Product Update');
    }

    // The HTML buttons and the plain-text part carry the same two links: Approve, then Deny.
    const links = hrefs(parsed.html!);
    expect(links).toHaveLength(2);
    expect(urlsIn(parsed.text!)).toEqual(links);
    const [approve, deny] = links as [string, string];
    expect(new URL(approve).searchParams.get('choice')).toBe('approve');
    expect(new URL(deny).searchParams.get('choice')).toBe('deny');
    expect(approve.startsWith(`${operator.url}/operator/action?token=`)).toBe(true);

    for (const [link, choice] of [[approve, 'approve'], [deny, 'deny']] as const) {
      const page = await open(link);
      expect(page.status).toBe(200);
      expect(page.type).toContain('text/html');
      expect(page.body).toContain('(bulk_send)');
      expect(page.body).toContain(`class="${choice} selected"`);
    }
    // Opening the links (as a mail scanner would) decided nothing.
    expect((await tiergate.approvals.get(requestId))?.status).toBe('pending');
    expect((await tiergate.approvals.audit(requestId)).map((e) => e.event)).toEqual(['created']);

    // Slack got the same request; its buttons open the same page (each delivery signs its own link).
    const posts = chat.to('/slack');
    expect(posts).toHaveLength(1);
    const payload = posts[0]!.json as SlackPayload;
    expect(posts[0]!.headers['content-type']).toContain('application/json');
    expect(payload.blocks.map((b) => b.type)).toEqual(['header', 'section', 'section', 'actions', 'context']);
    const header = payload.blocks[0] as Extract<SlackPayload['blocks'][number], { type: 'header' }>;
    expect(header.text).toMatchObject({ type: 'plain_text', text: 'Agent Approval Required: Bulk Send' });
    const actions = payload.blocks.find((b) => b.type === 'actions') as Extract<SlackPayload['blocks'][number], { type: 'actions' }>;
    expect(actions.elements.map((e) => ({ choice: new URL(e.url).searchParams.get('choice'), style: e.style }))).toEqual([
      { choice: 'approve', style: 'primary' },
      { choice: 'deny', style: 'danger' },
    ]);
    for (const button of actions.elements) {
      const page = await open(button.url);
      expect(page.status).toBe(200);
      expect(page.body).toContain('(bulk_send)');
    }
    expect((await tiergate.approvals.get(requestId))?.status).toBe('pending');
  });

  it('e-mails a plain notification with one Review link that opens the page showing the issue', async () => {
    const { tiergate } = build();
    const issue = 'Unable to send confirmation email - sending requires paid tier';
    const result = await tiergate.notifyOperator(OPS, { issue, context: { blocked_by: 'SEND_REQUIRES_PAID' }, action_label: 'Upgrade to Enable Sending' });

    await tiergate.deliver();

    const [mail] = smtp.accepted();
    expect(mail?.rcptTo).toEqual(['ops@example.com']);
    const parsed = parseMail(mail!.raw);
    expect(parsed.text).toContain(issue);
    expect(parsed.html).toContain('SEND_REQUIRES_PAID');
    const links = hrefs(parsed.html!);
    expect(links).toHaveLength(1);
    expect(new URL(links[0]!).pathname).toBe(new URL(result.operator_action_url).pathname);
    expect(urlsIn(parsed.text!)).toEqual(links);
    const page = await open(links[0]!);
    expect(page.status).toBe(200);
    expect(page.body).toContain(issue);
    expect((await tiergate.store.listOutbox(result.notification_id)).every((m) => m.state === 'delivered')).toBe(true);
  });
});

describe('failures are retried or dead, never the agent’s problem', () => {
  it('retries a 451 from the mail server and a 500 from the chat endpoint with the same message id', async () => {
    const { tiergate, clock } = build();
    smtp.behaviour = { data: 451 };
    chat.replies.push(500);

    const result = await tiergate.notifyOperator(OPS, BULK_SEND);
    expect(result.status).toBe('pending');
    await tiergate.deliver();

    const first = await tiergate.approvals.deliveries(result.request_id as string);
    for (const target of ['email', 'slack']) expect(byTarget(first, target)).toMatchObject({ state: 'pending', attempts: 1 });
    expect(smtp.accepted()).toHaveLength(0);
    expect(smtp.mails).toHaveLength(1);

    smtp.behaviour = {};
    clock.advance('5s');
    await tiergate.deliver();

    const second = await tiergate.approvals.deliveries(result.request_id as string);
    for (const target of ['email', 'slack']) expect(byTarget(second, target)).toMatchObject({ state: 'delivered', attempts: 2 });
    // Same Message-ID on the refused and the accepted attempt: the receiver can de-duplicate.
    const ids = smtp.mails.map((m) => parseMail(m.raw).headers.get('message-id'));
    expect(ids).toHaveLength(2);
    expect(ids[0]).toBe(`<${byTarget(second, 'email').id}@example.com>`);
    expect(ids[1]).toBe(ids[0]);
    const posts = chat.to('/slack');
    expect(posts.map((p) => p.status)).toEqual([500, 200]);
    // The retry carries the same message (only the freshly signed links differ).
    const withoutLinks = (payload: unknown) => JSON.stringify(payload).replace(/token=[\w.-]+/g, 'token=…');
    expect(withoutLinks(posts[1]!.json)).toBe(withoutLinks(posts[0]!.json));
  });

  it('retries when nothing listens on the SMTP port', async () => {
    const port = await closedPort();

    const { tiergate, clock } = build({ channels: { email: smtpNotifier({ transport: `smtp://127.0.0.1:${port}`, from: FROM }) } });
    const result = await tiergate.notifyOperator(OPS, BULK_SEND);
    await tiergate.deliver();
    expect(byTarget(await tiergate.approvals.deliveries(result.request_id as string), 'email')).toMatchObject({ state: 'pending', attempts: 1 });

    clock.advance('5s');
    await tiergate.deliver();
    expect(byTarget(await tiergate.approvals.deliveries(result.request_id as string), 'email')).toMatchObject({ state: 'pending', attempts: 2 });
  });

  it('gives up at once on a 400 from the chat endpoint and a 550 for the recipient', async () => {
    const { tiergate, clock } = build();
    chat.replies.push(400);
    smtp.behaviour = { rcpt: 550 };

    const result = await tiergate.notifyOperator(OPS, BULK_SEND);
    await tiergate.deliver();
    clock.advance('1h');
    await tiergate.deliver();

    const outbox = await tiergate.approvals.deliveries(result.request_id as string);
    expect(byTarget(outbox, 'slack')).toMatchObject({ state: 'dead', attempts: 1 });
    expect(byTarget(outbox, 'email')).toMatchObject({ state: 'dead', attempts: 1 });
    expect(chat.to('/slack')).toHaveLength(1);
    expect(smtp.mails).toHaveLength(0);
  });

  it('marks the e-mail dead, without connecting, when the account has no operator e-mail', async () => {
    const { tiergate } = build();
    const result = await tiergate.notifyOperator(NO_EMAIL, BULK_SEND);
    await tiergate.deliver();
    const outbox = await tiergate.approvals.deliveries(result.request_id as string);
    expect(byTarget(outbox, 'email')).toMatchObject({ state: 'dead', attempts: 1 });
    expect(byTarget(outbox, 'slack')).toMatchObject({ state: 'delivered' });
    expect(smtp.mails).toHaveLength(0);
  });

  it('answers the agent’s HTTP call while the mail server has not even greeted', async () => {
    const silent = await startSilentServer();
    const { sockets } = silent;
    try {
      const { tiergate } = build({ channels: { email: smtpNotifier({ transport: `smtp://127.0.0.1:${silent.port}`, from: FROM }) } });
      const response = await fetch(`${operator.url}/v1/notify-operator`, {
        method: 'POST',
        headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify(BULK_SEND),
      });
      expect(response.status).toBe(201);
      const { result } = (await response.json()) as { result: { request_id: string; status: string } };
      expect(result.status).toBe('pending');

      // The background delivery is connected and stuck, and that did not hold up the response.
      for (let i = 0; i < 200 && sockets.size === 0; i += 1) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(sockets.size).toBe(1);
      expect(byTarget(await tiergate.approvals.deliveries(result.request_id), 'email').state).toBe('pending');

      // The server goes away: the attempt fails and is scheduled again, not lost.
      for (const socket of sockets) socket.destroy();
      await tiergate.deliver();
      for (let i = 0; i < 200; i += 1) {
        if (byTarget(await tiergate.approvals.deliveries(result.request_id), 'email').attempts > 0) break;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect(byTarget(await tiergate.approvals.deliveries(result.request_id), 'email')).toMatchObject({ state: 'pending', attempts: 1 });
    } finally {
      await silent.close();
    }
  });
});

describe('restart before delivery', () => {
  it('delivers from a new instance on the same store what the old one accepted but never sent', async () => {
    const shared = memoryStore();
    const clock = createFakeClock();
    // The first process answers the agent, then dies before its dispatcher claims anything.
    const dying: Store = { ...shared, claimOutbox: async () => [] };
    const { tiergate: before } = build({ store: dying, clock });
    const result = await before.notifyOperator(OPS, BULK_SEND);
    await before.deliver();
    expect(smtp.mails).toHaveLength(0);
    expect(chat.requests).toHaveLength(0);

    const { tiergate: after } = build({ store: shared, clock });
    await after.deliver();

    const outbox = await after.approvals.deliveries(result.request_id as string);
    expect(byTarget(outbox, 'email')).toMatchObject({ state: 'delivered', attempts: 1 });
    expect(byTarget(outbox, 'slack')).toMatchObject({ state: 'delivered', attempts: 1 });
    const [mail] = smtp.accepted();
    expect(mail?.rcptTo).toEqual(['ops@example.com']);
    expect(chat.to('/slack')).toHaveLength(1);
    // The links in the mail work against the new instance (same secret, same store).
    const [approve] = hrefs(parseMail(mail!.raw).html!);
    const page = await open(approve!);
    expect(page.status).toBe(200);
    expect(page.body).toContain('(bulk_send)');
  });
});
