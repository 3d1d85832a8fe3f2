/**
 * Shared by every {@link Store} implementation of `transitionApprovals`: the
 * batch's precondition, checked before anything is written.
 */
import { TiergateError } from '../errors.js';
import type { ApprovalTransitionInput } from './store.js';

/**
 * Rejects a `transitionApprovals` batch that names one approval twice (a
 * caller bug: `INTERNAL_ERROR`, nothing written). Store implementations call
 * it first.
 *
 * @param inputs - the batch as given to `transitionApprovals`
 * @param storeKind - the store's `kind`, for the message
 */
export function checkTransitionBatch(inputs: readonly ApprovalTransitionInput[], storeKind: string): void {
  const seen = new Set<string>();
  for (const input of inputs) {
    if (seen.has(input.id)) throw new TiergateError('INTERNAL_ERROR', `${storeKind} store: approval ${input.id} appears twice in one transitionApprovals batch`);
    seen.add(input.id);
  }
}
