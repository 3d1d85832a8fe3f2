/**
 * The one HTTP step the chat notifiers share: POST a JSON payload to an
 * incoming-webhook URL and turn the answer into the notifier port's contract
 * (resolve = delivered, `PermanentNotifierError` = give up, any other
 * rejection = retry later with the same message id).
 *
 * A webhook URL is a credential (anyone holding it can post to the channel),
 * so it never appears in an error message: the dispatcher logs those.
 */
import { PermanentNotifierError, type OperatorMessage } from '@tiergate/core';

/**
 * Where a chat message goes: one URL for every account, or a lookup per
 * message (e.g. the account's own webhook from your database). Returning
 * `undefined` means "this account has none" and fails the message
 * permanently — route such accounts away from the channel with
 * `NotifierOptions.route` instead.
 */
export type WebhookUrlOption = string | ((message: OperatorMessage) => string | undefined | Promise<string | undefined>);

/** Options every chat notifier accepts. */
export interface ChatWebhookOptions {
  /** The incoming-webhook URL, or a lookup per message. Trusted configuration: never take it from an agent. */
  readonly webhookUrl: WebhookUrlOption;
  /** Per-request timeout, ms (default 10 000; the dispatcher's own timeout still applies). */
  readonly timeoutMs?: number;
  /** The `fetch` to use (default the global one), e.g. one that goes through your egress proxy. */
  readonly fetch?: typeof fetch;
}

/** Default per-request timeout of the chat notifiers, ms. */
export const DEFAULT_CHAT_TIMEOUT_MS = 10_000;

/** Longest piece of a remote error body kept in an error message. */
const ERROR_BODY_CHARS = 200;

/** Resolves the webhook URL of a message, failing permanently when there is none or it is not http(s). */
export async function resolveWebhookUrl(option: WebhookUrlOption, message: OperatorMessage, service: string): Promise<URL> {
  const raw = typeof option === 'string' ? option : await option(message);
  if (raw === undefined || raw === '') throw new PermanentNotifierError(`no ${service} webhook URL for account ${message.accountId}`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new PermanentNotifierError(`the ${service} webhook URL for account ${message.accountId} is not a valid URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new PermanentNotifierError(`the ${service} webhook URL for account ${message.accountId} must be http(s)`);
  }
  return url;
}

function networkReason(err: unknown): string {
  if (err instanceof Error && err.name === 'TimeoutError') return 'timed out';
  const cause = err instanceof Error ? (err.cause as { code?: unknown; message?: unknown } | undefined) : undefined;
  if (typeof cause?.code === 'string') return cause.code;
  return err instanceof Error ? err.message : String(err);
}

async function errorBody(response: Response): Promise<string> {
  try {
    const text = (await response.text()).replace(/\s+/g, ' ').trim();
    return text.length > ERROR_BODY_CHARS ? `${text.slice(0, ERROR_BODY_CHARS)}…` : text;
  } catch {
    return '';
  }
}

/**
 * POSTs `payload` as JSON. 2xx resolves; 408 / 429 / 5xx, redirects and
 * network errors reject (retried); any other 4xx throws
 * {@link PermanentNotifierError} — the payload or the webhook itself is
 * wrong, and sending the same bytes again cannot fix that.
 */
export async function postChatWebhook(url: URL, payload: unknown, options: { readonly service: string; readonly timeoutMs: number; readonly fetch: typeof fetch }): Promise<void> {
  let response: Response;
  try {
    response = await options.fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8', accept: 'application/json, text/plain' },
      body: JSON.stringify(payload),
      // Chat webhooks never redirect; following one could carry the payload somewhere else.
      redirect: 'manual',
      signal: AbortSignal.timeout(options.timeoutMs),
    });
  } catch (err) {
    throw new Error(`${options.service} webhook request failed: ${networkReason(err)}`, { cause: err });
  }
  const status = response.status;
  if (status >= 200 && status < 300) {
    await response.body?.cancel().catch(() => undefined);
    return;
  }
  const detail = await errorBody(response);
  const text = `${options.service} webhook answered HTTP ${status}${detail === '' ? '' : `: ${detail}`}`;
  if (status >= 400 && status < 500 && status !== 408 && status !== 429) throw new PermanentNotifierError(text);
  throw new Error(text);
}

/**
 * Cuts `text` so that its escaped form fits in `max` characters (chat APIs
 * reject over-long fields), ending with "…" when something was cut. Escaping
 * happens per code point, so an entity such as `&amp;` is never split.
 */
export function clipEscaped(text: string, max: number, escape: (piece: string) => string): string {
  const whole = escape(text);
  if (whole.length <= max) return whole;
  let out = '';
  for (const char of text) {
    const piece = escape(char);
    if (out.length + piece.length > max - 1) break;
    out += piece;
  }
  return `${out}…`;
}
