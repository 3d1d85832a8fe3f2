/**
 * JSON values that can never change: frozen all the way down and marked, so that
 * what is rendered from one (the operator page's escaped `<pre>` of a context) can be
 * remembered with it. A value is marked only by {@link freezeJson}, which has frozen every
 * object and array in it; an object that merely looks frozen (a host's `Object.freeze` of
 * the top level) is not marked, so nothing rendered from it is ever reused.
 * @internal
 */

const marked = new WeakSet<object>();

/**
 * Freezes a JSON value (the result of `JSON.parse`: plain objects, arrays and
 * primitives, no cycles) all the way down and marks it as unchangeable. Returns the same value.
 * @internal
 */
export function freezeJson<T>(value: T): T {
  if (typeof value !== 'object' || value === null) return value;
  freezeAll(value);
  marked.add(value);
  return value;
}

function freezeAll(value: object): void {
  for (const key of Object.keys(value)) {
    const child = (value as Record<string, unknown>)[key];
    if (typeof child === 'object' && child !== null) freezeAll(child);
  }
  Object.freeze(value);
}

/**
 * Whether `value` was frozen all the way down by {@link freezeJson} (so it cannot change).
 * @internal
 */
export function isFrozenJson(value: unknown): value is object {
  return typeof value === 'object' && value !== null && marked.has(value);
}
