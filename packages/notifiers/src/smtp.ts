/**
 * `smtpNotifier`: sends the operator message as an e-mail (subject, plain
 * text and HTML alternatives) through nodemailer.
 *
 * nodemailer is an optional peer dependency: it is loaded only when you pass
 * transport *options* (an `smtp://` URL or an options object), so hosts that
 * use only Slack or Discord never install it, and hosts that already have a
 * transporter (or another mailer with a `sendMail` method) pass their own.
 *
 * Retries are de-duplicable: the `Message-ID` and `X-Entity-Ref-ID` headers
 * derive from the outbox message id, which is the same on every attempt.
 */
import { PermanentNotifierError, type Notifier, type OperatorMessage } from '@tiergate/core';

/** The e-mail handed to the transport (a subset of nodemailer's `SendMailOptions`). */
export interface OutgoingMail {
  from: string;
  /** Comma-separated recipients. */
  to: string;
  subject: string;
  text: string;
  html: string;
  /** `<id@domain>`, the same on every retry. */
  messageId: string;
  headers: Record<string, string>;
  priority: 'high' | 'normal' | 'low';
}

/**
 * Anything with nodemailer's `sendMail(mail): Promise` — a nodemailer
 * transporter, or your own mailer. Its rejections are classified like
 * nodemailer's (`responseCode`, `code`).
 */
export interface MailTransport {
  sendMail(mail: OutgoingMail): Promise<unknown>;
}

/** Recipient(s) of a message; `null` / `undefined` / empty means "nobody". */
export type MailRecipients = string | readonly string[] | null | undefined;

/** Options of {@link smtpNotifier}. */
export interface SmtpNotifierOptions {
  /**
   * A transporter (`nodemailer.createTransport(...)`, or anything with
   * `sendMail`), or nodemailer transport options: a connection URL such as
   * `smtp://user:pass@smtp.example.com:587` or an options object. Options
   * need the `nodemailer` package.
   */
  readonly transport: MailTransport | string | { readonly [option: string]: unknown };
  /** Sender, e.g. `"Acme Agents <agents@acme.example>"`. */
  readonly from: string;
  /**
   * Recipients: a fixed list, or a lookup per message. Default: the
   * account's operator e-mail (`message.operatorEmail`).
   */
  readonly to?: MailRecipients | ((message: OperatorMessage) => MailRecipients | Promise<MailRecipients>);
  /** Domain of the generated `Message-ID` (default: the domain of `from`). */
  readonly messageIdDomain?: string;
}

/**
 * nodemailer error codes that say "the server or our configuration is
 * wrong", not "this message is wrong": even with a 5xx reply (535 bad
 * login, 554 greeting) they are retried, so fixing the configuration and
 * restarting still delivers the queued messages.
 */
const TRANSIENT_CODES = new Set(['EAUTH', 'ENOAUTH', 'EOAUTH2', 'ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'EDNS', 'ETLS', 'EREQUIRETLS', 'EPROXY', 'ECONFIG', 'EPROTOCOL']);

/**
 * Permanent: a 5xx reply about this message or its recipients (550 no such
 * user, 552/554 rejected content), or an address nodemailer refused before
 * sending. 503 (bad sequence) is a protocol hiccup, as nodemailer treats it.
 */
function isPermanentMailError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const { responseCode, code } = err as { responseCode?: unknown; code?: unknown };
  if (typeof code === 'string' && TRANSIENT_CODES.has(code)) return false;
  if (typeof responseCode === 'number') return responseCode >= 500 && responseCode < 600 && responseCode !== 503;
  return code === 'EENVELOPE';
}

function domainOf(from: string): string {
  const match = /@([A-Za-z0-9.-]+)>?\s*$/.exec(from);
  return match?.[1]?.toLowerCase() ?? 'tiergate.invalid';
}

function recipientList(value: MailRecipients): string[] {
  if (value === null || value === undefined) return [];
  const list = typeof value === 'string' ? [value] : [...value];
  return list.map((v) => v.trim()).filter((v) => v !== '');
}

function isTransport(value: SmtpNotifierOptions['transport']): value is MailTransport {
  return typeof value === 'object' && typeof (value as { sendMail?: unknown }).sendMail === 'function';
}

async function nodemailerTransport(options: string | { readonly [option: string]: unknown }): Promise<MailTransport> {
  let nodemailer: typeof import('nodemailer');
  try {
    nodemailer = await import('nodemailer');
  } catch (err) {
    throw new Error('smtpNotifier needs the "nodemailer" package for transport options: npm install nodemailer (or pass a transport with sendMail())', { cause: err });
  }
  // nodemailer ≥ 10 is ESM with named exports; 6–9 are CommonJS, reached through `default` where named exports are not detected.
  const loaded = nodemailer as unknown as { createTransport?: typeof nodemailer.createTransport; default?: { createTransport?: typeof nodemailer.createTransport } };
  const createTransport = loaded.createTransport ?? loaded.default?.createTransport;
  if (createTransport === undefined) throw new Error('the installed "nodemailer" package has no createTransport()');
  return createTransport(options as Parameters<typeof nodemailer.createTransport>[0]) as unknown as MailTransport;
}

/**
 * The e-mail of an operator message, without sending it (exported for
 * hosts that send through another mail API).
 */
export function operatorMail(message: OperatorMessage, from: string, to: readonly string[], messageIdDomain = domainOf(from)): OutgoingMail {
  return {
    from,
    to: to.join(', '),
    subject: message.subject,
    text: message.text,
    html: message.html,
    messageId: `<${message.id}@${messageIdDomain}>`,
    headers: {
      'X-Entity-Ref-ID': message.id,
      // Groups the request and its reminder into one thread.
      References: `<${message.notificationId}@${messageIdDomain}>`,
      // RFC 3834: an automated message; out-of-office replies should not answer it.
      'Auto-Submitted': 'auto-generated',
      'X-Auto-Response-Suppress': 'All',
    },
    priority: message.urgency === 'high' ? 'high' : 'normal',
  };
}

/**
 * A notifier that e-mails the account's operator.
 *
 * - Recipient: `message.operatorEmail`, or the `to` option. None →
 *   {@link PermanentNotifierError} (route such accounts away from e-mail with
 *   `NotifierOptions.route`).
 * - A 5xx reply about the message or recipient → `PermanentNotifierError`;
 *   4xx replies, connection, TLS and login failures → a plain rejection, so
 *   the outbox retries with backoff.
 *
 * @example
 * smtpNotifier({ transport: 'smtp://user:pass@smtp.example.com:587', from: 'Acme <agents@acme.example>' })
 */
export function smtpNotifier(options: SmtpNotifierOptions): Notifier {
  const given = options.transport;
  let transport: Promise<MailTransport> | undefined = isTransport(given) ? Promise.resolve(given) : undefined;
  const getTransport = (): Promise<MailTransport> => {
    if (transport === undefined) {
      const created = nodemailerTransport(given as string | { readonly [option: string]: unknown });
      // A failed load is retried on the next message rather than cached.
      created.catch(() => {
        transport = undefined;
      });
      transport = created;
    }
    return transport;
  };

  return async (message) => {
    const override = options.to;
    const recipients = recipientList(override === undefined ? message.operatorEmail : typeof override === 'function' ? await override(message) : override);
    if (recipients.length === 0) throw new PermanentNotifierError(`no operator e-mail for account ${message.accountId}`);
    const mail = operatorMail(message, options.from, recipients, options.messageIdDomain);
    const mailer = await getTransport();
    try {
      await mailer.sendMail(mail);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      // Always wrap: nodemailer marks its own errors `permanent` by reply code
      // alone (a 535 bad login included), and the dispatcher reads that flag.
      if (isPermanentMailError(err)) throw new PermanentNotifierError(`e-mail rejected: ${reason}`, { cause: err });
      throw new Error(`e-mail not sent: ${reason}`, { cause: err });
    }
  };
}
