/**
 * `smtpNotifier` against a real SMTP server: what the e-mail looks like on
 * the wire, who receives it, and how each SMTP reply is classified
 * (delivered / retried / permanent).
 */
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PermanentNotifierError, type OperatorMessage } from '@tiergate/core';
import { operatorMail, smtpNotifier } from '@tiergate/notifiers';
import { parseMail } from './mime-reader.js';
import { approvalMessage, notificationMessage } from './operator-messages.js';
import { startSmtpReceiver, type SmtpBehaviour, type SmtpReceiver } from './smtp-receiver.js';

let smtp: SmtpReceiver;

beforeAll(async () => {
  smtp = await startSmtpReceiver();
});
afterAll(async () => {
  await smtp.close();
});
beforeEach(() => {
  smtp.mails.length = 0;
  smtp.behaviour = {};
});

async function outcomeOf(send: () => Promise<void>): Promise<'delivered' | 'retry' | 'permanent'> {
  try {
    await send();
    return 'delivered';
  } catch (err) {
    return (err as { permanent?: unknown }).permanent === true ? 'permanent' : 'retry';
  }
}

describe('smtpNotifier', () => {
  it('sends text and HTML alternatives to the operator, with a Message-ID derived from the message id', async () => {
    const message = approvalMessage({ id: 'msg_abc123' });
    await smtpNotifier({ transport: smtp.url, from: 'Agent Desk <agents@Example.com>' })(message);

    const [mail] = smtp.accepted();
    expect(mail?.user).toBe('tester');
    expect(mail?.rcptTo).toEqual(['ops@example.com']);
    const parsed = parseMail(mail!.raw);
    expect(parsed.headers.get('content-type')).toMatch(/^multipart\/alternative/);
    expect(parsed.headers.get('subject')).toBe('Agent Approval Required: Bulk Send');
    expect(parsed.headers.get('from')?.toLowerCase()).toBe('agent desk <agents@example.com>');
    expect(parsed.headers.get('message-id')).toBe('<msg_abc123@example.com>');
    expect(parsed.headers.get('x-entity-ref-id')).toBe('msg_abc123');
    expect(parsed.headers.get('references')).toBe('<not_test1@example.com>');
    expect(parsed.text).toBe(message.text);
    expect(parsed.html).toBe(message.html);
  });

  it('marks high urgency as a high-priority e-mail', async () => {
    await smtpNotifier({ transport: smtp.url, from: 'agents@example.com' })(approvalMessage({ urgency: 'high' }));
    await smtpNotifier({ transport: smtp.url, from: 'agents@example.com' })(approvalMessage({ urgency: 'low' }));
    const [high, low] = smtp.accepted().map((m) => parseMail(m.raw));
    expect(high?.headers.get('x-priority')).toMatch(/^1/);
    expect(low?.headers.get('x-priority')).toBeUndefined();
  });

  it('accepts a nodemailer transporter and a `to` lookup per message', async () => {
    const transporter = nodemailer.createTransport({ host: '127.0.0.1', port: smtp.port, secure: false, ignoreTLS: true });
    const notifier = smtpNotifier({
      transport: transporter,
      from: 'agents@example.com',
      to: (m: OperatorMessage) => [`${m.accountId}@ops.example`, 'oncall@ops.example'],
      messageIdDomain: 'mail.example',
    });
    await notifier(notificationMessage());
    transporter.close();
    const [mail] = smtp.accepted();
    expect(mail?.rcptTo).toEqual(['acct_1@ops.example', 'oncall@ops.example']);
    expect(parseMail(mail!.raw).headers.get('message-id')).toBe('<msg_test2@mail.example>');
  });

  it('fails permanently, without connecting, when there is nobody to send to', async () => {
    const noEmail = approvalMessage({ operatorEmail: null });
    await expect(smtpNotifier({ transport: smtp.url, from: 'agents@example.com' })(noEmail)).rejects.toBeInstanceOf(PermanentNotifierError);
    await expect(smtpNotifier({ transport: smtp.url, from: 'agents@example.com', to: () => [] })(approvalMessage())).rejects.toBeInstanceOf(PermanentNotifierError);
    expect(smtp.mails).toHaveLength(0);
  });

  it('gives up on 5xx replies about the message or recipient, retries 4xx and login failures', async () => {
    const cases: [SmtpBehaviour, 'delivered' | 'retry' | 'permanent'][] = [
      [{}, 'delivered'],
      [{ rcpt: 550 }, 'permanent'],
      [{ rcpt: 553 }, 'permanent'],
      [{ data: 552 }, 'permanent'],
      [{ data: 554 }, 'permanent'],
      [{ rcpt: 450 }, 'retry'],
      [{ data: 451 }, 'retry'],
      [{ data: 421 }, 'retry'],
      // A wrong password is the host's configuration, not this message: fix it, restart, and the queue drains.
      [{ auth: 535 }, 'retry'],
    ];
    const notifier = smtpNotifier({ transport: smtp.url, from: 'agents@example.com' });
    const seen: [SmtpBehaviour, string][] = [];
    for (const [behaviour] of cases) {
      smtp.behaviour = behaviour;
      seen.push([behaviour, await outcomeOf(() => notifier(approvalMessage()))]);
    }
    expect(seen).toEqual(cases);
  });
});

describe('operatorMail', () => {
  it('builds the same e-mail without sending it', () => {
    const message = approvalMessage();
    const mail = operatorMail(message, 'agents@example.com', ['a@example.com', 'b@example.com']);
    expect(mail).toMatchObject({ to: 'a@example.com, b@example.com', subject: message.subject, text: message.text, html: message.html, messageId: '<msg_test1@example.com>' });
  });
});
