/**
 * The JSON text of the context the wire schema accepted last (it serialises a context to check its
 * size): sealing that context needs the same text. One slot, not a map: the caller reads it right
 * after the parse that filled it, on the same turn, and a WeakMap entry per request costs more than
 * the JSON.stringify it saves. @internal
 */
let lastContext: object | undefined;
let lastJson: string | undefined;

/** @internal Called by the context schema for a context it accepted. */
export function rememberContextJson(context: object, json: string): void {
  lastContext = context;
  lastJson = json;
}

/**
 * @internal `JSON.stringify(context)` when `context` is the one the wire schema accepted last, else
 * `undefined`. Empties the slot (nothing is kept past the request).
 */
export function validatedContextJson(context: object): string | undefined {
  const json = context === lastContext ? lastJson : undefined;
  lastContext = undefined;
  lastJson = undefined;
  return json;
}
