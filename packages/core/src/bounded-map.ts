/**
 * Sets `key`, which is not in `map`, in a map that keeps at most `max` entries: when it is full, the
 * entry set longest ago goes first (a Map iterates in insertion order). To move a present key to the
 * back, delete it first. Every in-process memory of tiergate (verified links, opened contexts, form
 * tokens, signed links, capabilities answers, escaped texts) is bounded this way.
 * @internal
 */
export function setBounded<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  if (map.size >= max) {
    const oldest = map.keys().next();
    if (oldest.done !== true) map.delete(oldest.value);
  }
  map.set(key, value);
}
