/**
 * The batch form of the approval compare-and-set: its precondition, shared by
 * every {@link Store} implementation of `transitionApprovals`, and the
 * fallback for a store without one.
 */
import { TiergateError } from '../errors.js';
import type { ApprovalTransitionInput, Store, TransitionResult } from './store.js';

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

/**
 * Runs a batch through `store.transitionApprovals` when the store has it,
 * otherwise as one `transitionApproval` per element, in order (the same
 * results, one round trip each). The service's expiry sweep calls this.
 *
 * @param store - any {@link Store}
 * @param inputs - distinct approval ids (a repeated id rejects with `INTERNAL_ERROR`, nothing written)
 */
export async function transitionEach(store: Store, inputs: readonly ApprovalTransitionInput[]): Promise<readonly TransitionResult[]> {
  if (store.transitionApprovals !== undefined) return store.transitionApprovals(inputs);
  checkTransitionBatch(inputs, store.kind);
  const results: TransitionResult[] = [];
  for (const input of inputs) results.push(await store.transitionApproval(input));
  return results;
}
