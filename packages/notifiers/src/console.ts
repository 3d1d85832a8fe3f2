/**
 * `consoleNotifier`: prints the operator message's text form. The example
 * server uses it by default, so a newcomer sees exactly what an operator
 * would receive without configuring a mail server or a chat webhook.
 *
 * The text contains the operator links, which are credentials for that
 * request: use this notifier in development, or where the output really is
 * the operator's channel — not into shared production logs.
 */
import type { Notifier, OperatorMessage } from '@tiergate/core';

/** Options of {@link consoleNotifier}. */
export interface ConsoleNotifierOptions {
  /** Receives one multi-line block per message (default `console.log`). */
  readonly write?: (text: string) => void;
}

/** The block {@link consoleNotifier} prints for a message. */
export function consoleText(message: OperatorMessage): string {
  const to = message.operatorEmail === null ? `account ${message.accountId}` : `${message.operatorEmail} (account ${message.accountId})`;
  const rule = '-'.repeat(72);
  return [rule, `[tiergate] operator message ${message.id} to ${to}`, `Subject: ${message.subject}`, '', message.text, rule].join('\n');
}

/**
 * A notifier that writes the text form of each message (subject, body,
 * links) with `write`. It never fails unless `write` throws.
 *
 * @example
 * createTiergate({ ..., notifiers: { channels: { console: consoleNotifier() } } })
 */
export function consoleNotifier(options: ConsoleNotifierOptions = {}): Notifier {
  const write = options.write ?? ((text: string) => console.log(text));
  return async (message) => {
    write(consoleText(message));
  };
}
