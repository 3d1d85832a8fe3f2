import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseUrl, dropSchema, openStore, reportMissingDatabase } from './test-database.js';

reportMissingDatabase('prepared-statements.test.ts');

describe.skipIf(databaseUrl === undefined)('postgresStore statements', () => {
  let opened: Awaited<ReturnType<typeof openStore>>;
  let other: Awaited<ReturnType<typeof openStore>>;

  beforeAll(async () => {
    // One connection, so what the store prepared is visible to the next query on the pool.
    opened = await openStore({}, { max: 1 });
    // A second store in another schema on the same pool: its statements must not collide.
    other = await openStore({ pool: opened.pool });
  });
  afterAll(async () => {
    await other?.store.close();
    await opened?.cleanup();
    if (other !== undefined) await dropSchema(other.schema);
  });

  it('are prepared once per connection, and stores of two schemas on one pool keep their own', async () => {
    const windows = [{ key: 'd:2026-11-30', limit: 5, expiresAt: Date.now() + 60_000 }];
    const consume = { accountId: 'acc_1', action: 'send_messages', amount: 1, windows };
    for (let i = 0; i < 3; i += 1) expect((await opened.store.consumeQuota(consume)).ok).toBe(true);
    for (let i = 0; i < 2; i += 1) expect((await other.store.consumeQuota(consume)).ok).toBe(true);
    const { rows } = await opened.pool.query<{ name: string; statement: string }>("SELECT name, statement FROM pg_prepared_statements WHERE name LIKE 'tiergate_%'");
    const consumeStatements = rows.filter((r) => r.statement.includes('INSERT') && r.statement.includes('counters'));
    // One statement per schema, reused by every call; each names its own schema.
    expect(consumeStatements).toHaveLength(2);
    expect(consumeStatements.some((r) => r.statement.includes(opened.schema))).toBe(true);
    expect(consumeStatements.some((r) => r.statement.includes(other.schema))).toBe(true);
    // And the counts stayed apart.
    expect((await opened.store.consumeQuota(consume)).used).toEqual([4]);
    expect((await other.store.consumeQuota(consume)).used).toEqual([3]);
  });
});
