/**
 * `@tiergate/notifiers`: reach the operator of an account by e-mail (SMTP
 * through nodemailer), Slack, Discord or the console. Each factory returns a
 * core `Notifier` — `(message) => Promise<void>` — for
 * `createTiergate({ notifiers: { channels, route } })`; any async function of
 * that shape is a notifier too.
 *
 * @packageDocumentation
 */
export { smtpNotifier, operatorMail, type MailRecipients, type MailTransport, type OutgoingMail, type SmtpNotifierOptions } from './smtp.js';
export {
  escapeSlackText,
  slackNotifier,
  slackPayload,
  type SlackBlock,
  type SlackButton,
  type SlackNotifierOptions,
  type SlackPayload,
  type SlackText,
} from './slack.js';
export {
  DISCORD_COLORS,
  discordNotifier,
  discordPayload,
  escapeDiscordMarkdown,
  type DiscordEmbed,
  type DiscordEmbedField,
  type DiscordLinkButton,
  type DiscordNotifierOptions,
  type DiscordPayload,
} from './discord.js';
export { consoleNotifier, consoleText, type ConsoleNotifierOptions } from './console.js';
export { DEFAULT_CHAT_TIMEOUT_MS, type ChatWebhookOptions, type WebhookUrlOption } from './chat-webhook.js';
