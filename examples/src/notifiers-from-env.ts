/**
 * Operator notifiers of the example server, from environment variables:
 *
 * | variable | meaning |
 * |---|---|
 * | `TIERGATE_SMTP_URL` | e-mail operators through this SMTP server, e.g. `smtp://user:pass@127.0.0.1:2525` (`smtps://` for implicit TLS) |
 * | `TIERGATE_SMTP_FROM` | sender of those e-mails (default `tiergate <tiergate@localhost>`) |
 * | `TIERGATE_SLACK_WEBHOOK_URL` | post every operator message to this Slack incoming webhook |
 * | `TIERGATE_DISCORD_WEBHOOK_URL` | post every operator message to this Discord webhook |
 * | `TIERGATE_CONSOLE_NOTIFIER` | `0` stops printing operator messages to stdout (printed by default) |
 *
 * E-mail goes only to accounts that have an operator e-mail; the chat
 * channels and the console get every message.
 */
import type { NotifierOptions, Notifier } from '@tiergate/core';
import { consoleNotifier, discordNotifier, slackNotifier, smtpNotifier } from '@tiergate/notifiers';

/** Options of {@link notifiersFromEnv}. */
export interface NotifiersFromEnvOptions {
  /** Where the console notifier prints (default `console.log`). */
  readonly write?: (line: string) => void;
}

/** Default sender when `TIERGATE_SMTP_FROM` is unset. */
export const DEFAULT_SMTP_FROM = 'tiergate <tiergate@localhost>';

/** Reads a URL variable; the error names the variable but never echoes the value (it holds credentials). */
function urlVariable(env: Record<string, string | undefined>, name: string, protocols: readonly string[]): string | undefined {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`${name} is not a valid URL`);
  }
  if (!protocols.includes(url.protocol)) throw new Error(`${name} must start with ${protocols.map((p) => `${p}//`).join(' or ')}`);
  return raw;
}

/**
 * Builds `createTiergate({ notifiers })` from environment variables (see the
 * table above). Throws, naming the variable, when a URL is malformed.
 */
export function notifiersFromEnv(env: Record<string, string | undefined>, options: NotifiersFromEnvOptions = {}): NotifierOptions {
  const channels: Record<string, Notifier> = {};
  const smtpUrl = urlVariable(env, 'TIERGATE_SMTP_URL', ['smtp:', 'smtps:']);
  if (smtpUrl !== undefined) {
    const from = env.TIERGATE_SMTP_FROM?.trim() || DEFAULT_SMTP_FROM;
    channels.email = smtpNotifier({ transport: smtpUrl, from });
  }
  const slackUrl = urlVariable(env, 'TIERGATE_SLACK_WEBHOOK_URL', ['https:', 'http:']);
  if (slackUrl !== undefined) channels.slack = slackNotifier({ webhookUrl: slackUrl });
  const discordUrl = urlVariable(env, 'TIERGATE_DISCORD_WEBHOOK_URL', ['https:', 'http:']);
  if (discordUrl !== undefined) channels.discord = discordNotifier({ webhookUrl: discordUrl, username: 'tiergate' });
  if (env.TIERGATE_CONSOLE_NOTIFIER?.trim() !== '0') {
    channels.console = consoleNotifier(options.write === undefined ? {} : { write: options.write });
  }
  return {
    channels,
    // Without an operator e-mail there is nobody to mail: skip the channel instead of failing the message.
    route: (account) => Object.keys(channels).filter((name) => name !== 'email' || Boolean(account.operatorEmail)),
  };
}
