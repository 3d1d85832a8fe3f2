import { describe } from 'vitest';
import { runStoreConformance } from '@tiergate/testing';
import { databaseUrl, openStore, reportMissingDatabase, unreachableStore } from './test-database.js';

reportMissingDatabase('postgres-store.test.ts');

describe.skipIf(databaseUrl === undefined)('postgresStore', () => {
  runStoreConformance('postgres', () => openStore(), { unreachable: unreachableStore });
});
