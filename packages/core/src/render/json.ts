/** JSON text helpers. @internal */

// Printable ASCII but `"` and `\`: the characters JSON.stringify writes as they are.
const JSON_PLAIN = /^[\x20\x21\x23-\x5B\x5D-\x7E]*$/;

/** @internal True when `JSON.stringify(text)` is `text` between quotes: nothing in it is escaped. */
export function isJsonPlain(text: string): boolean {
  return JSON_PLAIN.test(text);
}
