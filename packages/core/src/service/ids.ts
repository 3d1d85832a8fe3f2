import { randomId } from '../tokens/random-id.js';

/** A random, URL-safe id with a prefix: `not_…`, `apr_…`, `msg_…` (96 bits). */
export function newId(prefix: 'not_' | 'apr_' | 'msg_'): string {
  return `${prefix}${randomId(12)}`;
}
