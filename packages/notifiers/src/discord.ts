/**
 * `discordNotifier`: posts the operator message to a Discord webhook as an
 * embed (title linking to the operator page, description, fields, a colour
 * by urgency) plus a row of link buttons.
 *
 * Discord renders components from a plain channel webhook only when asked
 * (`?with_components=true`, added here) and only non-interactive ones — link
 * buttons are — while older setups drop them silently. So the same links are
 * also written into the embed description: the operator always has them.
 *
 * Everything the agent wrote is escaped for Discord markdown (masked links
 * `[text](url)`, `<@id>` / `<#id>` / `<t:…>` tokens, headings, quotes,
 * bare `https:` links) and `@everyone` / `@here` are broken with a
 * zero-width space; `allowed_mentions: { parse: [] }` makes sure nothing
 * pings anyone even so.
 */
import type { Notifier, OperatorMessage } from '@tiergate/core';
import { DEFAULT_CHAT_TIMEOUT_MS, clipEscaped, postChatWebhook, resolveWebhookUrl, type ChatWebhookOptions } from './chat-webhook.js';

/** An embed field. */
export interface DiscordEmbedField {
  readonly name: string;
  readonly value: string;
  readonly inline: boolean;
}

/** The embed this notifier sends. */
export interface DiscordEmbed {
  readonly title: string;
  /** The operator page; makes the title a link. */
  readonly url: string;
  readonly description: string;
  readonly color: number;
  readonly fields: readonly DiscordEmbedField[];
  readonly footer?: { readonly text: string };
}

/** A link button (component type 2, style 5). */
export interface DiscordLinkButton {
  readonly type: 2;
  readonly style: 5;
  readonly label: string;
  readonly url: string;
}

/** The JSON body posted to the webhook. */
export interface DiscordPayload {
  readonly username?: string;
  readonly avatar_url?: string;
  readonly embeds: readonly DiscordEmbed[];
  /** One action row (type 1) of link buttons. */
  readonly components: readonly { readonly type: 1; readonly components: readonly DiscordLinkButton[] }[];
  readonly allowed_mentions: { readonly parse: readonly [] };
}

/** Options of {@link discordNotifier}. */
export interface DiscordNotifierOptions extends ChatWebhookOptions {
  /** Overrides the webhook's display name. */
  readonly username?: string;
  /** Overrides the webhook's avatar. */
  readonly avatarUrl?: string;
}

/** Embed colours: by urgency, blue for plain notifications. */
export const DISCORD_COLORS = Object.freeze({ high: 0xcf222e, medium: 0xd29922, low: 0x2da44e, none: 0x1f6feb });

// Discord limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits).
const TITLE_MAX = 256;
const DESCRIPTION_MAX = 4096;
const FIELD_NAME_MAX = 256;
const FIELD_VALUE_MAX = 1024;
const FIELDS_MAX = 25;
const FOOTER_MAX = 2048;
const EMBED_TOTAL_MAX = 6000;
const BUTTON_LABEL_MAX = 80;
const INLINE_MAX = 40;

/**
 * Escapes text for Discord markdown: backslash before every character that
 * can start formatting, a masked link, a mention or a timestamp token
 * (including `:` so `https://…` is not auto-linked), and a zero-width space
 * after `@` so `@everyone` / `@here` stay text. Use it for anything
 * user-supplied you put in an embed or message yourself.
 */
export function escapeDiscordMarkdown(text: string): string {
  return text.replace(/[\\*_~`|<>[\]()#\-:@]/g, (c) => (c === '@' ? '@\u200b' : `\\${c}`));
}


/**
 * Titles are one line and never auto-link, so `:`, `-` and `#` stay as they
 * are there ("Agent Approval Required: Bulk Send" shows no backslash even
 * where a client does not render markdown in titles).
 */
function escapeDiscordTitle(text: string): string {
  return text.replace(/[\\*_~`|<>[\]()@]/g, (c) => (c === '@' ? '@\u200b' : `\\${c}`));
}

/** A markdown link we build: the label is escaped; the URL is ours (an http(s) operator link). */
function link(label: string, url: string): string {
  return `[${clipEscaped(label, BUTTON_LABEL_MAX, escapeDiscordMarkdown)}](${url})`;
}

/**
 * Builds the Discord payload of an operator message (exported for hosts
 * that post through their own bot, which takes the same `embeds` and
 * `components`).
 */
export function discordPayload(message: OperatorMessage, options: Pick<DiscordNotifierOptions, 'username' | 'avatarUrl'> = {}): DiscordPayload {
  const { chat } = message;
  const title = clipEscaped(chat.title, TITLE_MAX, escapeDiscordTitle);
  const footer = chat.footer.trim() === '' ? undefined : clipEscaped(chat.footer, FOOTER_MAX, (s) => s);
  const links = chat.buttons.map((b) => link(b.label, b.url)).join('  ·  ');
  const lead = chat.body === '' ? chat.intro : `${chat.intro}\n\n${chat.body}`;
  const room = DESCRIPTION_MAX - links.length - 2;
  const description = `${clipEscaped(lead, Math.max(0, room), escapeDiscordMarkdown)}\n\n${links}`;

  // Fields fill what is left of the 6 000-character embed budget, in order.
  let budget = EMBED_TOTAL_MAX - title.length - description.length - (footer?.length ?? 0);
  const fields: DiscordEmbedField[] = [];
  for (const f of chat.fields.slice(0, FIELDS_MAX)) {
    const name = clipEscaped(f.name, FIELD_NAME_MAX, escapeDiscordMarkdown) || '\u200b';
    const valueRoom = Math.min(FIELD_VALUE_MAX, budget - name.length);
    if (valueRoom < 16) break;
    const value = clipEscaped(f.value, valueRoom, escapeDiscordMarkdown) || '\u200b';
    budget -= name.length + value.length;
    fields.push({ name, value, inline: f.value.length <= INLINE_MAX });
  }

  const urgency = message.urgency ?? 'none';
  return {
    ...(options.username === undefined ? {} : { username: options.username }),
    ...(options.avatarUrl === undefined ? {} : { avatar_url: options.avatarUrl }),
    embeds: [
      {
        title,
        url: message.links.review,
        description,
        color: DISCORD_COLORS[urgency],
        fields,
        ...(footer === undefined ? {} : { footer: { text: footer } }),
      },
    ],
    components: [
      { type: 1, components: chat.buttons.slice(0, 5).map((b) => ({ type: 2, style: 5, label: clipEscaped(b.label, BUTTON_LABEL_MAX, (s) => s), url: b.url })) },
    ],
    allowed_mentions: { parse: [] },
  };
}

/**
 * A notifier that posts to a Discord webhook
 * (`https://discord.com/api/webhooks/<id>/<token>`).
 *
 * - `webhookUrl`: one URL, or a lookup per message.
 * - 2xx delivered; other 4xx (bad payload, deleted webhook) fail
 *   permanently; 408, 429, 5xx and network errors are retried by the outbox.
 *
 * @example
 * discordNotifier({ webhookUrl: process.env.DISCORD_WEBHOOK_URL!, username: 'tiergate' })
 */
export function discordNotifier(options: DiscordNotifierOptions): Notifier {
  const doFetch = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? DEFAULT_CHAT_TIMEOUT_MS;
  return async (message) => {
    const url = await resolveWebhookUrl(options.webhookUrl, message, 'Discord');
    url.searchParams.set('with_components', 'true');
    await postChatWebhook(url, discordPayload(message, options), { service: 'Discord', timeoutMs, fetch: doFetch });
  };
}
