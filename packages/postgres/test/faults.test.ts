import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { apiKeyAuthenticator, createTiergate, type Account, type ApprovalRecord, type NotificationRecord, type OutboxMessage } from '@tiergate/core';
import { FAR, T0, approvalRecord, auditFor, createFakeClock, createdEntry, decision, notificationRecord, outboxMessage, outcomeOf, uid } from '@tiergate/testing';
import { postgresStore, type PostgresStore } from '@tiergate/postgres';
import { databaseUrl, openStore, reportMissingDatabase, unreachableStore } from './test-database.js';
import { startTcpProxy } from './tcp-proxy.js';

reportMissingDatabase('faults.test.ts');


const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

/** A notification with its pending approval and a notifier message due at {@link T0}. */
function records(): { notification: NotificationRecord; approval: ApprovalRecord; message: OutboxMessage } {
  const notification = notificationRecord({ accountId: 'acc_faults', approvalId: uid('apr_') });
  const approval = approvalRecord(notification, { callbackUrl: null, sealedSecret: null });
  const message = outboxMessage(notification.id, { accountId: 'acc_faults', topic: 'notifier', type: 'operator.notification', target: 'email', nextAttemptAt: T0 });
  return { notification, approval, message };
}

const create = (store: PostgresStore, r: ReturnType<typeof records>) =>
  store.createNotification({ notification: r.notification, approval: r.approval, audit: createdEntry(r.approval.id), outbox: [r.message] });

const approval = (approvalId: string, messageId: string) => {
  const patch = decision('approved', T0 + 1, 'ops@example.com');
  return { id: approvalId, patch, audit: auditFor(approvalId, patch), outbox: [outboxMessage(approvalId, { id: messageId })] };
};
const approve = (store: PostgresStore, approvalId: string, messageId: string) => store.transitionApproval(approval(approvalId, messageId));

describe.skipIf(databaseUrl === undefined)('PostgreSQL faults', { timeout: 60_000 }, () => {
  it('rejects migrate() with STORE_UNAVAILABLE when the database cannot be reached', async () => {
    const { store, cleanup } = await unreachableStore();
    cleanups.push(cleanup);
    expect(await outcomeOf(store.migrate())).toBe('STORE_UNAVAILABLE');
  });

  it('survives its connections being killed mid-run: each call succeeds or fails with STORE_UNAVAILABLE, nothing is half-written, and the same store works afterwards', async () => {
    const appName = uid('tg_kill_');
    const { store, cleanup } = await openStore({}, { max: 4, application_name: appName });
    cleanups.push(cleanup);
    const admin = new pg.Client({ connectionString: databaseUrl });
    await admin.connect();
    cleanups.push(() => admin.end());
    const kill = async (): Promise<number> => {
      const { rows } = await admin.query(`SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE application_name = $1`, [appName]);
      return Number(rows[0].n);
    };

    const created: ReturnType<typeof records>[] = [];
    const transitions: { approvalId: string; messageId: string }[] = [];
    const limiter = store.rateLimiter({ keyPrefix: uid('tg-kill-'), points: 1_000, durationSeconds: 3600 });
    const quotaAccount = uid('acc_');
    const windows = [
      { key: 'd2026-01-15', limit: 1_000_000, expiresAt: FAR },
      { key: 'm2026-01', limit: 1_000_000, expiresAt: FAR },
    ];
    const outcomes: string[] = [];
    let killed = 0;
    for (let round = 0; round < 10; round += 1) {
      const undecided = created.filter((r) => !transitions.some((t) => t.approvalId === r.approval.id));
      const batch: Promise<string>[] = [];
      for (let i = 0; i < 36; i += 1) {
        const kind = i % 9;
        if (kind === 0 || kind === 1) {
          const r = records();
          created.push(r);
          batch.push(outcomeOf(create(store, r)));
        } else if (kind === 2) {
          const target = undecided.pop();
          if (target !== undefined) {
            const t = { approvalId: target.approval.id, messageId: uid('msg_') };
            transitions.push(t);
            batch.push(outcomeOf(approve(store, t.approvalId, t.messageId)));
          }
          // and a batch of two (the sweep's form): each element all there or not at all, too
          const pair = [undecided.pop(), undecided.pop()].flatMap((r) => (r === undefined ? [] : [{ approvalId: r.approval.id, messageId: uid('msg_') }]));
          transitions.push(...pair);
          if (pair.length > 0) batch.push(outcomeOf(store.transitionApprovals(pair.map((t) => approval(t.approvalId, t.messageId)))));
        } else if (kind === 3) batch.push(outcomeOf(store.consumeQuota({ accountId: quotaAccount, action: 'send_messages', amount: 1, windows })));
        else if (kind === 4) batch.push(outcomeOf(store.claimOutbox(T0, 4, 60_000)));
        else if (kind === 5) batch.push(outcomeOf(limiter.consume(quotaAccount)));
        else if (kind === 6) batch.push(outcomeOf(store.readAccountState(quotaAccount, ['send_messages'], ['d2026-01-15', 'm2026-01'])));
        else if (kind === 7) batch.push(outcomeOf(store.waitForApproval(created[0]?.approval.id ?? 'apr_none', 20)));
        else batch.push(outcomeOf(store.dueApprovals(T0, 10)));
      }
      // Let the batch get onto the wire, then cut its connections.
      await new Promise<void>((resolve) => setImmediate(resolve));
      killed += await kill();
      outcomes.push(...(await Promise.all(batch)));
    }
    expect(killed).toBeGreaterThan(0);
    expect(outcomes.filter((o) => o !== 'resolved' && o !== 'STORE_UNAVAILABLE')).toEqual([]);
    expect(outcomes.filter((o) => o === 'STORE_UNAVAILABLE').length).toBeGreaterThan(0);

    // The same store, without a restart, works again…
    const fresh = records();
    await create(store, fresh);
    expect(await store.getNotification(fresh.notification.id)).toEqual(fresh.notification);
    const waiting = store.waitForApproval(fresh.approval.id, 600_000);
    expect((await approve(store, fresh.approval.id, uid('msg_'))).ok).toBe(true);
    await waiting;
    expect((await limiter.consume(quotaAccount)).allowed).toBe(true);

    // …and nothing was half-written: each create and each decision is all there or not at all.
    for (const r of created) {
      const parts = [
        (await store.getNotification(r.notification.id)) !== null,
        (await store.getApproval(r.approval.id)) !== null,
        (await store.listAudit(r.approval.id)).some((e) => e.event === 'created'),
        (await store.listOutbox(r.notification.id)).length === 1,
      ];
      expect(new Set(parts).size, `create ${r.notification.id}: ${parts.join(',')}`).toBe(1);
    }
    for (const t of transitions) {
      const parts = [
        (await store.getApproval(t.approvalId))?.status === 'approved',
        (await store.listAudit(t.approvalId)).some((e) => e.event === 'approved'),
        (await store.listOutbox(t.approvalId)).some((m) => m.id === t.messageId),
      ];
      expect(new Set(parts).size, `transition ${t.approvalId}: ${parts.join(',')}`).toBe(1);
    }
    const usage = (await store.readAccountState(quotaAccount, ['send_messages'], ['d2026-01-15', 'm2026-01'])).usage['send_messages'];
    expect(usage?.[0]).toBe(usage?.[1]);
  });

  describe('through the service', () => {
    const account: Account = { id: 'acc_free', tier: 'free' };

    async function setup() {
      const target = new URL(databaseUrl as string);
      const proxy = await startTcpProxy(target.hostname, Number(target.port || 5432));
      cleanups.push(() => proxy.close());
      const viaProxy = new URL(databaseUrl as string);
      viaProxy.hostname = '127.0.0.1';
      viaProxy.port = String(proxy.port);
      const opened = await openStore({}, { connectionString: viaProxy.toString(), max: 4, connectionTimeoutMillis: 2_000 });
      cleanups.push(opened.cleanup);
      const tiergate = createTiergate({
        authenticate: apiKeyAuthenticator([{ apiKey: 'key_free', account }]),
        secret: 'x'.repeat(32),
        publicUrl: 'https://api.example.com/tg',
        clock: createFakeClock(),
        store: opened.store,
      });
      cleanups.push(() => tiergate.stop());
      return { proxy, tiergate, ...opened };
    }

    it('answers STORE_UNAVAILABLE while the pool cannot reach PostgreSQL, and keeps no rate-limit point', async () => {
      const { proxy, tiergate } = await setup();
      proxy.cut();
      for (let i = 0; i < 3; i += 1) expect(await outcomeOf(tiergate.notifyOperator(account, { issue: 'Sending requires a paid tier' }))).toBe('STORE_UNAVAILABLE');
      proxy.heal();
      // The limit is 10 per hour: all 10 are still available, the 11th is refused.
      for (let i = 0; i < 10; i += 1) expect(await outcomeOf(tiergate.notifyOperator(account, { issue: `after recovery ${i}` }))).toBe('resolved');
      expect(await outcomeOf(tiergate.notifyOperator(account, { issue: 'one too many' }))).toBe('RATE_LIMITED');
    });

    it('gives the rate-limit point back when the write fails after the limiter passed', async () => {
      const { tiergate, pool, schema } = await setup();
      // The limiter's table works, the notifications table does not: the limiter consumes, the write fails.
      await pool.query(`ALTER TABLE "${schema}".notifications RENAME TO notifications_away`);
      for (let i = 0; i < 3; i += 1) expect(await outcomeOf(tiergate.notifyOperator(account, { issue: 'Sending requires a paid tier' }))).toBe('STORE_UNAVAILABLE');
      await pool.query(`ALTER TABLE "${schema}".notifications_away RENAME TO notifications`);
      for (let i = 0; i < 10; i += 1) expect(await outcomeOf(tiergate.notifyOperator(account, { issue: `after recovery ${i}` }))).toBe('resolved');
      expect(await outcomeOf(tiergate.notifyOperator(account, { issue: 'one too many' }))).toBe('RATE_LIMITED');
    });
  });
});

// The store is also usable with the pool's own defaults (no schema given → "tiergate").
describe('postgresStore options', () => {
  it('defaults the schema to "tiergate"', () => {
    const pool = new pg.Pool({ max: 1 });
    cleanups.push(() => pool.end());
    expect(postgresStore({ pool }).schema).toBe('tiergate');
  });
});
