import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApprovalRecord } from '@tiergate/core';
import { T0, approvalRecord, auditFor, createdEntry, decision, notificationRecord, uid } from '@tiergate/testing';
import { approvalChannel, postgresStore, type PostgresStore } from '@tiergate/postgres';
import { databaseUrl, dropSchema, openPool, randomSchema, reportMissingDatabase } from './test-database.js';

reportMissingDatabase('wait-for-approval.test.ts');


async function seedApproval(store: PostgresStore): Promise<ApprovalRecord> {
  const notification = notificationRecord({ accountId: 'acc_wait', approvalId: uid('apr_'), sealedContext: null });
  const approval = approvalRecord(notification, { callbackUrl: null, sealedSecret: null, urgency: 'low' });
  await store.createNotification({ notification, approval, audit: createdEntry(approval.id), outbox: [] });
  return approval;
}

async function approve(store: PostgresStore, id: string): Promise<void> {
  const patch = decision('approved', T0 + 1, 'ops@example.com');
  const result = await store.transitionApproval({ id, patch, audit: auditFor(id, patch), outbox: [] });
  expect(result.ok).toBe(true);
}

/** Connections of `pool` checked out right now (the LISTEN connection is one). */
const checkedOut = (pool: pg.Pool): number => pool.totalCount - pool.idleCount;

/** Polls a condition with a bounded number of event-loop turns. */
async function eventually(condition: () => boolean | Promise<boolean>, turns = 2_000): Promise<boolean> {
  for (let i = 0; i < turns; i += 1) {
    if (await condition()) return true;
    await new Promise<void>((resolve) => setTimeout(resolve, 5));
  }
  return false;
}

describe.skipIf(databaseUrl === undefined)('waitForApproval on PostgreSQL', { timeout: 20_000 }, () => {
  const schema = randomSchema();
  const appName = `tg_wait_${randomBytes(4).toString('hex')}`;
  const pools: pg.Pool[] = [];
  const stores: PostgresStore[] = [];
  const open = (options: { listen?: boolean; pollIntervalMs?: number; listenerIdleMs?: number } = {}) => {
    const pool = openPool({ max: 4, application_name: appName });
    const store = postgresStore({ pool, schema, ...options });
    pools.push(pool);
    stores.push(store);
    return { pool, store };
  };
  let admin: pg.Client;

  beforeAll(async () => {
    await open().store.migrate();
    admin = new pg.Client({ connectionString: databaseUrl });
    await admin.connect();
  });
  afterAll(async () => {
    for (const store of stores) await store.close();
    for (const pool of pools) await pool.end();
    await admin.end();
    await dropSchema(schema);
  });

  it('wakes a waiter in one instance when another instance decides (NOTIFY on commit)', async () => {
    const a = open();
    const b = open();
    const approval = await seedApproval(a.store);
    let woke = false;
    const waiting = a.store.waitForApproval(approval.id, 600_000).then(() => {
      woke = true;
    });
    // The listener is up once a connection of A's pool is held for LISTEN.
    expect(await eventually(() => checkedOut(a.pool) === 1)).toBe(true);
    expect(woke).toBe(false);
    await approve(b.store, approval.id);
    await waiting;
    await a.store.close();
  });

  it('is woken by the notification alone (the approval itself unchanged)', async () => {
    const { store } = open();
    const approval = await seedApproval(store);
    const waiting = store.waitForApproval(approval.id, 600_000);
    // Wait until this instance's LISTEN has completed on the server, so the NOTIFY cannot be missed.
    const listening = async () =>
      (await admin.query(`SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'LISTEN%' AND state = 'idle'`, [appName])).rowCount === 1;
    expect(await eventually(listening)).toBe(true);
    await admin.query('SELECT pg_notify($1, $2)', [approvalChannel(schema), approval.id]);
    await waiting;
    expect((await store.getApproval(approval.id))?.status).toBe('pending');
    await store.close();
  });

  it('polls when LISTEN is turned off, and holds no connection', async () => {
    const { pool, store } = open({ listen: false, pollIntervalMs: 20 });
    const approval = await seedApproval(store);
    const waiting = store.waitForApproval(approval.id, 600_000);
    await approve(open().store, approval.id);
    await waiting;
    expect(checkedOut(pool)).toBe(0);
  });

  it('gives the LISTEN connection back on close(), and after an idle period', async () => {
    const { pool, store } = open({ listenerIdleMs: 50 });
    const approval = await seedApproval(store);
    await store.waitForApproval(approval.id, 100);
    expect(await eventually(() => checkedOut(pool) === 0)).toBe(true);

    const second = open();
    const waiting = second.store.waitForApproval(approval.id, 600_000);
    expect(await eventually(() => checkedOut(second.pool) === 1)).toBe(true);
    await second.store.close();
    await waiting; // close() ends pending waits
    expect(checkedOut(second.pool)).toBe(0);
  });

  it('recovers when the LISTEN connection is killed: waiters re-read, the next wait listens again', async () => {
    const { pool, store } = open();
    const approval = await seedApproval(store);
    const first = store.waitForApproval(approval.id, 600_000);
    expect(await eventually(() => checkedOut(pool) === 1)).toBe(true);
    const killed = await admin.query(
      `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'LISTEN%'`,
      [appName],
    );
    expect(Number(killed.rows[0].n)).toBeGreaterThanOrEqual(1);
    await first; // woken by the loss of the connection, never rejected
    expect((await store.getApproval(approval.id))?.status).toBe('pending');
    const second = store.waitForApproval(approval.id, 600_000);
    expect(await eventually(() => checkedOut(pool) === 1)).toBe(true);
    await approve(store, approval.id);
    await second;
  });
});
