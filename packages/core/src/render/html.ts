/** HTML escaping for everything user-supplied that reaches a page or an e-mail. */
import { setBounded } from '../bounded-map.js';
import { isFrozenJson } from '../frozen-json.js';

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };
const SPECIAL = /[&<>"'`]/;
/** The replacements by UTF-16 code unit (sparse: `undefined` for every other character). */
const ESCAPE_BY_CODE: (string | undefined)[] = [];
for (const [c, escaped] of Object.entries(ESCAPES)) ESCAPE_BY_CODE[c.charCodeAt(0)] = escaped;

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(value: unknown): string {
  const text = String(value);
  const first = text.search(SPECIAL);
  if (first === -1) return text;
  // One pass with slices: the formatted context is full of quotes, and a replace() callback per
  // match was a tenth of an operator page's time.
  let out = text.slice(0, first);
  let from = first;
  for (let i = first; i < text.length; i += 1) {
    const escaped = ESCAPE_BY_CODE[text.charCodeAt(i)];
    if (escaped === undefined) continue;
    if (from < i) out += text.slice(from, i);
    out += escaped;
    from = i + 1;
  }
  return from < text.length ? out + text.slice(from) : out;
}

/** Pretty JSON of a context, for a `<pre>` (escape the result). */
export function formatJson(value: unknown): string {
  return JSON.stringify(value, null, 2);
}

// Escaped texts of the strings a page shows on every view (catalog labels, the stylesheet path, reused
// links), by the exact text: escaping is a pure function of it. Bounded; the oldest entry goes first.
const keptEscapes = new Map<string, string>();
const MAX_KEPT_ESCAPES = 1024;

/**
 * {@link escapeHtml} of a string that recurs from view to view, remembered by its exact text (the same
 * answer, without scanning it again). For texts from a bounded set only (labels, links that are
 * reused): a text seen once would only push a useful one out.
 * @internal
 */
export function escapeRecurring(text: string): string {
  const known = keptEscapes.get(text);
  if (known !== undefined) return known;
  const escaped = escapeHtml(text);
  setBounded(keptEscapes, text, escaped, MAX_KEPT_ESCAPES);
  return escaped;
}

// Escaped pretty JSON of values that cannot change (see ../frozen-json.ts), by the value itself.
const escapedJsonOf = new WeakMap<object, string>();

/**
 * `escapeHtml(formatJson(value))`, remembered with the value when it was frozen all the way down by
 * `freezeJson` (an operator page's context, shared by every view of its record).
 * @internal
 */
export function escapedJson(value: unknown): string {
  if (!isFrozenJson(value)) return escapeHtml(formatJson(value));
  let html = escapedJsonOf.get(value);
  if (html === undefined) {
    html = escapeHtml(formatJson(value));
    escapedJsonOf.set(value, html);
  }
  return html;
}

/** `recipient_count` → "Recipient count". */
export function humanizeKey(key: string): string {
  const words = key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/[_-]+/g, ' ')
    .trim()
    .toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** The scalar top-level fields of a context as `[label, value]` pairs (at most `max`, values cut at 200 chars). */
export function contextHighlights(context: unknown, max = 10): [string, string][] {
  if (typeof context !== 'object' || context === null || Array.isArray(context)) return [];
  const out: [string, string][] = [];
  for (const [key, value] of Object.entries(context)) {
    if (out.length >= max) break;
    if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) {
      const text = String(value);
      out.push([humanizeKey(key), text.length > 200 ? `${text.slice(0, 197)}...` : text]);
    }
  }
  return out;
}
