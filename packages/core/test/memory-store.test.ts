import { memoryStore } from '@tiergate/core';
import { runStoreConformance } from '@tiergate/testing';

// The reference store must meet the same contract as the PostgreSQL and Redis stores.
runStoreConformance('memory', async () => ({ store: memoryStore(), cleanup: async () => undefined }));
