/**
 * `slackNotifier`: posts the operator message to a Slack incoming webhook as
 * Block Kit — a header, the intro and issue, the fields, and URL buttons
 * (Approve primary, Deny danger; or one Review button), with a plain `text`
 * fallback for notifications and old clients.
 *
 * Everything the agent wrote (issue, reason, context) is escaped for Slack
 * mrkdwn (`&`, `<`, `>`), so `<!channel>`, `<@U123>` or `<https://evil|click>`
 * show as typed, and sent as `verbatim` text, so Slack does not turn bare
 * URLs, channel names or mentions into links either. The only links in the
 * message are the buttons built here.
 */
import type { Notifier, OperatorMessage } from '@tiergate/core';
import { DEFAULT_CHAT_TIMEOUT_MS, clipEscaped, postChatWebhook, resolveWebhookUrl, type ChatWebhookOptions } from './chat-webhook.js';

/** A Block Kit text object. */
export type SlackText =
  | { readonly type: 'plain_text'; readonly text: string; readonly emoji?: boolean }
  | { readonly type: 'mrkdwn'; readonly text: string; readonly verbatim?: boolean };

/** A URL button of an actions block. */
export interface SlackButton {
  readonly type: 'button';
  readonly text: { readonly type: 'plain_text'; readonly text: string; readonly emoji?: boolean };
  readonly url: string;
  readonly action_id: string;
  readonly style?: 'primary' | 'danger';
}

/** The Block Kit blocks this notifier sends. */
export type SlackBlock =
  | { readonly type: 'header'; readonly text: { readonly type: 'plain_text'; readonly text: string; readonly emoji?: boolean } }
  | { readonly type: 'section'; readonly text?: SlackText; readonly fields?: readonly SlackText[] }
  | { readonly type: 'actions'; readonly elements: readonly SlackButton[] }
  | { readonly type: 'context'; readonly elements: readonly SlackText[] };

/** The JSON body posted to the incoming webhook. */
export interface SlackPayload {
  /** Fallback for notifications and clients without Block Kit (escaped mrkdwn). */
  readonly text: string;
  readonly blocks: readonly SlackBlock[];
  readonly unfurl_links: false;
  readonly unfurl_media: false;
}

/** Options of {@link slackNotifier}. */
export type SlackNotifierOptions = ChatWebhookOptions;

// Block Kit limits (https://docs.slack.dev/reference/block-kit/blocks).
const HEADER_MAX = 150;
const SECTION_TEXT_MAX = 3000;
const FIELD_TEXT_MAX = 2000;
const FIELDS_PER_SECTION = 10;
const BUTTON_TEXT_MAX = 75;
const SLACK_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;' };

/**
 * Escapes text for Slack mrkdwn: `&`, `<` and `>` become entities, so the
 * text cannot open a link, a mention (`<@U…>`, `<!channel>`) or a date
 * token. Use it for anything user-supplied you put in mrkdwn yourself.
 */
export function escapeSlackText(text: string): string {
  return text.replace(/[&<>]/g, (c) => SLACK_ESCAPES[c] as string);
}

const plain = (text: string, max: number): { type: 'plain_text'; text: string; emoji: false } => ({
  type: 'plain_text',
  text: clipEscaped(text, max, (s) => s),
  emoji: false,
});

const mrkdwn = (text: string): SlackText => ({ type: 'mrkdwn', text, verbatim: true });

/** Bold field name over its value; `*` is removed from the name so it cannot end the bold early. */
function fieldText(name: string, value: string): string {
  const label = clipEscaped(name.replace(/\*/g, ''), 200, escapeSlackText);
  return `*${label}*\n${clipEscaped(value, FIELD_TEXT_MAX - label.length - 3, escapeSlackText)}`;
}

/**
 * Builds the Slack payload of an operator message (exported for hosts that
 * post through their own bot with `chat.postMessage`, which takes the same
 * `text` and `blocks`).
 */
export function slackPayload(message: OperatorMessage): SlackPayload {
  const { chat } = message;
  const blocks: SlackBlock[] = [{ type: 'header', text: plain(chat.title, HEADER_MAX) }];
  const lead = chat.body === '' ? chat.intro : `${chat.intro}\n\n${chat.body}`;
  // Slack rejects empty text objects (a translated catalog may leave the intro empty).
  if (lead.trim() !== '') blocks.push({ type: 'section', text: mrkdwn(clipEscaped(lead, SECTION_TEXT_MAX, escapeSlackText)) });
  for (let i = 0; i < chat.fields.length; i += FIELDS_PER_SECTION) {
    blocks.push({ type: 'section', fields: chat.fields.slice(i, i + FIELDS_PER_SECTION).map((f) => mrkdwn(fieldText(f.name, f.value))) });
  }
  blocks.push({
    type: 'actions',
    elements: chat.buttons.map((b, i) => ({
      type: 'button' as const,
      text: plain(b.label, BUTTON_TEXT_MAX),
      url: b.url,
      action_id: `tiergate_link_${i}`,
      ...(b.style === 'default' ? {} : { style: b.style }),
    })),
  });
  if (chat.footer.trim() !== '') blocks.push({ type: 'context', elements: [mrkdwn(clipEscaped(chat.footer, SECTION_TEXT_MAX, escapeSlackText))] });
  return { text: clipEscaped(chat.title, SECTION_TEXT_MAX, escapeSlackText), blocks, unfurl_links: false, unfurl_media: false };
}

/**
 * A notifier that posts to a Slack incoming webhook.
 *
 * - `webhookUrl`: one URL (every account goes to one channel) or a lookup
 *   per message (`(message) => urlOf(message.accountId)`).
 * - 2xx delivered; 400/403/404/410 (bad payload, revoked or archived
 *   channel) fail permanently; 408, 429, 5xx and network errors are retried
 *   by the outbox with the same message id.
 *
 * @example
 * slackNotifier({ webhookUrl: process.env.SLACK_WEBHOOK_URL! })
 */
export function slackNotifier(options: SlackNotifierOptions): Notifier {
  const doFetch = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? DEFAULT_CHAT_TIMEOUT_MS;
  return async (message) => {
    const url = await resolveWebhookUrl(options.webhookUrl, message, 'Slack');
    await postChatWebhook(url, slackPayload(message), { service: 'Slack', timeoutMs, fetch: doFetch });
  };
}
