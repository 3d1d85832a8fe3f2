import { describe } from 'vitest';
import { runStoreConformance } from '@tiergate/testing';
import { openStore, redisUrl, reportMissingRedis, unreachableStore } from './test-redis.js';

// The shared Store contract, on a real Redis under a random key prefix.
reportMissingRedis('redis conformance');
describe.skipIf(redisUrl === undefined)('redis', () => {
  runStoreConformance('redis', async () => openStore(), { unreachable: () => unreachableStore() });
});
