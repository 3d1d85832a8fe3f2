/**
 * The notifier port: how an operator message leaves tiergate. A notifier is
 * an async function; it resolves when the message is handed over and rejects
 * to have it retried (same outbox, same backoff as callbacks, same message id).
 * `@tiergate/notifiers` ships SMTP, Slack and Discord notifiers.
 */
import type { OperatorMessage } from './message.js';

/** Delivers one message. Reject to retry; throw {@link PermanentNotifierError} to give up at once. */
export type Notifier = (message: OperatorMessage) => Promise<void>;

/** A failure that retrying cannot fix (no recipient configured, 4xx from a chat webhook). */
export class PermanentNotifierError extends Error {
  readonly permanent = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PermanentNotifierError';
  }
}

/** Notifier configuration of `createTiergate`. */
export interface NotifierOptions {
  /** Channels by name, e.g. `{ email: smtpNotifier(...), slack: slackNotifier(...) }`. */
  readonly channels: Readonly<Record<string, Notifier>>;
  /**
   * Which channels reach an account's operator (default: every channel).
   * Called when the notification is created.
   */
  readonly route?: (account: { readonly id: string; readonly operatorEmail: string | null }) => readonly string[] | Promise<readonly string[]>;
  /** Send a reminder this many seconds before a pending approval expires (off when omitted). */
  readonly remindBeforeSeconds?: number;
}
