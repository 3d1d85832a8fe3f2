/**
 * The JSON text of each context the wire schema validated (it serialises a context to check its
 * size), by the object zod handed out: sealing the context needs the same text. @internal
 */
const texts = new WeakMap<object, string>();

/** @internal Called by the context schema for a context it accepted. */
export function rememberContextJson(context: object, json: string): void {
  texts.set(context, json);
}

/** @internal `JSON.stringify(context)` of a context the wire schema accepted, else `undefined`. */
export function validatedContextJson(context: object): string | undefined {
  return texts.get(context);
}
