/** HTML escaping for everything user-supplied that reaches a page or an e-mail. */

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"'`]/g, (c) => ESCAPES[c] as string);
}

/** Pretty JSON of a context, for a `<pre>` (escape the result). */
export function formatJson(value: unknown): string {
  return JSON.stringify(value, null, 2);
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
