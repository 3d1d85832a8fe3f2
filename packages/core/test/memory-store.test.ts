import { memoryStore, type Store } from '@tiergate/core';
import { runStoreConformance } from '@tiergate/testing';

// The reference store must meet the same contract as the PostgreSQL and Redis stores.
runStoreConformance('memory', async () => ({ store: memoryStore(), cleanup: async () => undefined }));

// `transitionApprovals` is optional: a store without it (a third-party store written before it
// existed) gets `transitionEach`'s one-call-per-element fallback, held to the same contract.
runStoreConformance('memory without transitionApprovals', async () => {
  const { transitionApprovals: _batch, ...rest } = memoryStore();
  const store: Store = rest;
  return { store, cleanup: async () => undefined };
});
