/**
 * The Store conformance suite: one vitest suite that checks every guarantee
 * written in the TSDoc of the `Store` port (`@tiergate/core`), so memory,
 * PostgreSQL and Redis stores are held to the same contract.
 *
 * The suite shares one store across its tests (one `makeStore()` call), so
 * every test uses its own random ids and keys. Tests that scan by time
 * (`dueApprovals`, `claimOutbox`, `purge`) each get a private time slot below
 * every earlier slot, and all other records carry far-future deadlines, so
 * leftovers of one test never show up in another. Times are passed in; the
 * suite never sleeps to let time pass.
 */
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { transitionEach, type ApprovalRecord, type ClaimedMessage, type OutboxMessage, type QuotaWindowInput, type Store } from '@tiergate/core';
import { DAY, FAR, HOUR, MINUTE, T0, approvalRecord, auditFor, createdEntry, decision, notificationRecord, outboxMessage, outcomeOf, range, uid } from './records.js';

/** A store built for the suite, and how to dispose of it. */
export interface StoreUnderTest {
  readonly store: Store;
  /** Releases connections and drops whatever the store created (schema, keys). */
  cleanup(): Promise<void>;
}

/** Extra checks a backend can opt into. */
export interface StoreConformanceOptions {
  /**
   * Builds a store whose backend cannot be reached (e.g. a client pointed at
   * a closed port). When given, the suite checks that every method rejects
   * with `STORE_UNAVAILABLE` and that `waitForApproval` still resolves.
   */
  readonly unreachable?: () => Promise<StoreUnderTest>;
}

/** Lets pending callbacks run (a few event-loop turns), without waiting for time. */
async function turns(n = 5): Promise<void> {
  for (let i = 0; i < n; i += 1) await new Promise<void>((resolve) => setImmediate(resolve));
}

/**
 * Registers a vitest suite named `Store conformance: <name>` that checks
 * every guarantee of the `Store` port on the store `makeStore()` builds.
 * Call it at the top level of a test file; build a fresh, isolated store
 * (own schema or key prefix) in `makeStore`, and drop it in `cleanup`.
 */
export function runStoreConformance(name: string, makeStore: () => Promise<StoreUnderTest>, options: StoreConformanceOptions = {}): void {
  describe(`Store conformance: ${name}`, () => {
    let subject: StoreUnderTest | undefined;
    const store = (): Store => {
      if (subject === undefined) throw new Error('the store under test was not built');
      return subject.store;
    };

    // Time slots for tests that scan by time: each one lies below every earlier one.
    let slotFloor = T0;
    const slot = (): number => {
      slotFloor -= 2 * DAY;
      return slotFloor;
    };

    beforeAll(async () => {
      subject = await makeStore();
    });
    afterAll(async () => {
      await subject?.cleanup();
    });

    /** Creates a notification with a pending approval and its `created` audit entry. */
    async function seedApproval(overrides: Partial<ApprovalRecord> = {}, outbox: readonly OutboxMessage[] = []) {
      const approvalId = uid('apr_');
      const notification = notificationRecord({ approvalId });
      const approval = approvalRecord(notification, overrides);
      await store().createNotification({ notification, approval, audit: createdEntry(approvalId, approval.createdAt), outbox });
      return { notification, approval };
    }

    it('has a kind', () => {
      expect(typeof store().kind).toBe('string');
      expect(store().kind.length).toBeGreaterThan(0);
    });

    describe('createNotification and reads', () => {
      it('stores a plain notification and reads it back as written', async () => {
        const notification = notificationRecord({ sealedContext: null, account: { tier: 'pro', status: 'under_review', operatorEmail: null, customDomains: 3 } });
        await store().createNotification({ notification, outbox: [] });
        expect(await store().getNotification(notification.id)).toEqual(notification);
      });

      it('stores a notification with its approval, audit entry and outbox messages', async () => {
        const approvalId = uid('apr_');
        const notification = notificationRecord({ approvalId });
        const approval = approvalRecord(notification, { callbackUrl: null, sealedSecret: null, urgency: 'high' });
        const messages = [
          outboxMessage(notification.id, { topic: 'notifier', type: 'operator.notification', target: 'email', createdAt: T0 }),
          outboxMessage(notification.id, { topic: 'notifier', type: 'operator.reminder', target: 'slack', createdAt: T0 + 1 }),
        ];
        await store().createNotification({ notification, approval, audit: createdEntry(approvalId), outbox: messages });
        expect(await store().getNotification(notification.id)).toEqual(notification);
        expect(await store().getApproval(approvalId)).toEqual(approval);
        expect(await store().listAudit(approvalId)).toEqual([createdEntry(approvalId)]);
        expect(await store().listOutbox(notification.id)).toEqual(messages);
      });

      it('reads unknown ids as null or empty', async () => {
        expect(await store().getNotification(uid('not_'))).toBeNull();
        expect(await store().getApproval(uid('apr_'))).toBeNull();
        expect(await store().listAudit(uid('apr_'))).toEqual([]);
        expect(await store().listOutbox(uid('apr_'))).toEqual([]);
      });

      it('rejects a duplicate notification id and writes nothing of the second call', async () => {
        const first = notificationRecord();
        await store().createNotification({ notification: first, outbox: [] });
        const approvalId = uid('apr_');
        const again = notificationRecord({ id: first.id, approvalId, issue: 'second' });
        const approval = approvalRecord(again);
        const message = outboxMessage(approvalId);
        const outcome = await outcomeOf(store().createNotification({ notification: again, approval, audit: createdEntry(approvalId), outbox: [message] }));
        expect(outcome).toBe('INTERNAL_ERROR');
        expect(await store().getNotification(first.id)).toEqual(first);
        expect(await store().getApproval(approvalId)).toBeNull();
        expect(await store().listAudit(approvalId)).toEqual([]);
        expect(await store().listOutbox(approvalId)).toEqual([]);
      });

      it('rejects a duplicate approval id and writes nothing of the second call', async () => {
        const { approval: existing } = await seedApproval();
        const notification = notificationRecord({ approvalId: existing.id });
        const approval = approvalRecord(notification, { reason: 'second' });
        const message = outboxMessage(notification.id);
        const outcome = await outcomeOf(store().createNotification({ notification, approval, audit: createdEntry(existing.id, T0 + 5), outbox: [message] }));
        expect(outcome).toBe('INTERNAL_ERROR');
        expect(await store().getNotification(notification.id)).toBeNull();
        expect(await store().getApproval(existing.id)).toEqual(existing);
        expect(await store().listAudit(existing.id)).toEqual([createdEntry(existing.id)]);
        expect(await store().listOutbox(notification.id)).toEqual([]);
      });

      it('rejects a duplicate outbox id and writes nothing of the second call, approval and audit included', async () => {
        const taken = outboxMessage(uid('not_'));
        await store().createNotification({ notification: notificationRecord({ id: taken.subjectId }), outbox: [taken] });
        const approvalId = uid('apr_');
        const notification = notificationRecord({ approvalId });
        const approval = approvalRecord(notification);
        const fresh = outboxMessage(notification.id);
        const duplicate = outboxMessage(notification.id, { id: taken.id });
        const outcome = await outcomeOf(store().createNotification({ notification, approval, audit: createdEntry(approvalId), outbox: [fresh, duplicate] }));
        expect(outcome).toBe('INTERNAL_ERROR');
        expect(await store().getNotification(notification.id)).toBeNull();
        expect(await store().getApproval(approvalId)).toBeNull();
        expect(await store().listAudit(approvalId)).toEqual([]);
        expect(await store().listOutbox(notification.id)).toEqual([]);
        expect(await store().listOutbox(taken.subjectId)).toEqual([taken]);
      });
    });

    describe('transitionApproval', () => {
      it('applies the patch, appends the audit entry and enqueues the outbox from pending', async () => {
        const { approval } = await seedApproval();
        const patch = decision('denied', T0 + MINUTE, 'ops@example.com');
        const message = outboxMessage(approval.id, { type: 'approval.denied', createdAt: T0 + MINUTE });
        const result = await store().transitionApproval({ id: approval.id, patch, audit: auditFor(approval.id, patch), outbox: [message] });
        const expected = { ...approval, ...patch };
        expect(result).toEqual({ ok: true, approval: expected });
        expect(await store().getApproval(approval.id)).toEqual(expected);
        expect(await store().listAudit(approval.id)).toEqual([createdEntry(approval.id), auditFor(approval.id, patch)]);
        expect(await store().listOutbox(approval.id)).toEqual([message]);
      });

      it('changes nothing once decided and returns the current record', async () => {
        const { approval } = await seedApproval();
        const first = decision('approved', T0 + MINUTE, 'alice@example.com');
        await store().transitionApproval({ id: approval.id, patch: first, audit: auditFor(approval.id, first), outbox: [outboxMessage(approval.id, { createdAt: T0 + 1 })] });
        const second = decision('expired', T0 + 2 * MINUTE, null);
        const late = outboxMessage(approval.id, { type: 'approval.expired', createdAt: T0 + 2 });
        const result = await store().transitionApproval({ id: approval.id, patch: second, audit: auditFor(approval.id, second), outbox: [late] });
        expect(result).toEqual({ ok: false, approval: { ...approval, ...first } });
        expect(await store().getApproval(approval.id)).toEqual({ ...approval, ...first });
        expect(await store().listAudit(approval.id)).toEqual([createdEntry(approval.id), auditFor(approval.id, first)]);
        expect((await store().listOutbox(approval.id)).map((m) => m.id)).not.toContain(late.id);
      });

      it('returns { ok: false, approval: null } for an unknown id and writes nothing', async () => {
        const id = uid('apr_');
        const patch = decision('approved', T0, 'x@example.com');
        const result = await store().transitionApproval({ id, patch, audit: auditFor(id, patch), outbox: [outboxMessage(id)] });
        expect(result).toEqual({ ok: false, approval: null });
        expect(await store().listAudit(id)).toEqual([]);
        expect(await store().listOutbox(id)).toEqual([]);
      });

      it('lets exactly one of 64 concurrent transitions win; only the winner writes audit and outbox', async () => {
        const { approval } = await seedApproval();
        const attempts = range(64).map((i) => {
          const patch = decision(i % 3 === 0 ? 'denied' : i % 3 === 1 ? 'approved' : 'expired', T0 + i + 1, i % 3 === 2 ? null : `op${i}@example.com`);
          return { patch, audit: auditFor(approval.id, patch), message: outboxMessage(approval.id, { id: `${uid('msg_')}_${i}` }) };
        });
        const results = await Promise.all(attempts.map((a) => store().transitionApproval({ id: approval.id, patch: a.patch, audit: a.audit, outbox: [a.message] })));
        const winners = results.flatMap((r, i) => (r.ok ? [i] : []));
        expect(winners).toHaveLength(1);
        const winner = attempts[winners[0] as number] as (typeof attempts)[number];
        const decided = { ...approval, ...winner.patch };
        expect(results[winners[0] as number]).toEqual({ ok: true, approval: decided });
        for (const r of results) if (!r.ok) expect(r.approval).toEqual(decided);
        expect(await store().getApproval(approval.id)).toEqual(decided);
        expect(await store().listAudit(approval.id)).toEqual([createdEntry(approval.id), winner.audit]);
        expect(await store().listOutbox(approval.id)).toEqual([winner.message]);
      });
    });

    describe('transitionApprovals (batch)', () => {
      it('applies each compare-and-set on its own and reports the results in input order', async () => {
        const [a, b, c] = (await Promise.all(range(3).map(async () => (await seedApproval()).approval))) as [ApprovalRecord, ApprovalRecord, ApprovalRecord];
        const decided = (await seedApproval()).approval;
        const first = decision('approved', T0 + 1, 'alice@example.com');
        expect((await store().transitionApproval({ id: decided.id, patch: first, audit: auditFor(decided.id, first), outbox: [] })).ok).toBe(true);
        const unknown = uid('apr_');
        const ids = [a.id, decided.id, b.id, unknown, c.id];
        const inputs = ids.map((id, i) => {
          const patch = decision(i === 2 ? 'denied' : 'expired', T0 + MINUTE + i, i === 2 ? 'ops@example.com' : null);
          return { id, patch, audit: auditFor(id, patch), outbox: [outboxMessage(id, { type: `approval.${patch.status}`, createdAt: T0 + MINUTE + i })] };
        });
        const results = await transitionEach(store(), inputs);
        const [ia, iDecided, ib, iu, ic] = inputs as [(typeof inputs)[number], (typeof inputs)[number], (typeof inputs)[number], (typeof inputs)[number], (typeof inputs)[number]];
        expect(results).toEqual([
          { ok: true, approval: { ...a, ...ia.patch } },
          { ok: false, approval: { ...decided, ...first } },
          { ok: true, approval: { ...b, ...ib.patch } },
          { ok: false, approval: null },
          { ok: true, approval: { ...c, ...ic.patch } },
        ]);
        for (const [record, input] of [[a, ia], [b, ib], [c, ic]] as const) {
          expect(await store().getApproval(record.id)).toEqual({ ...record, ...input.patch });
          expect(await store().listAudit(record.id)).toEqual([createdEntry(record.id), input.audit]);
          expect(await store().listOutbox(record.id)).toEqual(input.outbox);
        }
        // The losers wrote nothing.
        expect(await store().listAudit(decided.id)).toEqual([createdEntry(decided.id), auditFor(decided.id, first)]);
        expect((await store().listOutbox(decided.id)).map((m) => m.id)).not.toContain((iDecided.outbox[0] as OutboxMessage).id);
        expect(await store().listAudit(unknown)).toEqual([]);
        expect(await store().listOutbox(iu.id)).toEqual([]);
      });

      it('returns [] for an empty batch', async () => {
        expect(await transitionEach(store(), [])).toEqual([]);
      });

      it('rejects a batch naming one approval twice with INTERNAL_ERROR and writes nothing', async () => {
        const { approval } = await seedApproval();
        const other = (await seedApproval()).approval;
        const patch = decision('expired', T0 + MINUTE, null);
        const input = (id: string) => ({ id, patch, audit: auditFor(id, patch), outbox: [outboxMessage(id)] });
        expect(await outcomeOf(transitionEach(store(), [input(other.id), input(approval.id), input(approval.id)]))).toBe('INTERNAL_ERROR');
        for (const record of [approval, other]) {
          expect(await store().getApproval(record.id)).toEqual(record);
          expect(await store().listAudit(record.id)).toEqual([createdEntry(record.id)]);
          expect(await store().listOutbox(record.id)).toEqual([]);
        }
      });

      it('lets exactly one transition per approval win across concurrent batches and single calls', { timeout: 30_000 }, async () => {
        const approvals = await Promise.all(range(12).map(async () => (await seedApproval()).approval));
        const attempt = (id: string, i: number) => {
          const patch = decision(i % 2 === 0 ? 'expired' : 'approved', T0 + i + 1, i % 2 === 0 ? null : `op${i}@example.com`);
          return { id, patch, audit: auditFor(id, patch), outbox: [outboxMessage(id, { id: `${uid('msg_')}_${i}` })] };
        };
        // Eight batches over the same approvals, each in its own order (a deadlock would fail the test), and single calls.
        const batches = range(8).map((k) => {
          const order = k % 2 === 0 ? [...approvals] : [...approvals].reverse();
          return order.slice(k % 3).map((a) => attempt(a.id, k));
        });
        const singles = approvals.map((a, i) => attempt(a.id, 100 + i));
        const [batchResults, singleResults] = await Promise.all([
          Promise.all(batches.map((batch) => transitionEach(store(), batch))),
          Promise.all(singles.map((input) => store().transitionApproval(input))),
        ]);
        for (const approval of approvals) {
          const tries = [
            ...batches.flatMap((batch, k) => batch.flatMap((input, j) => (input.id === approval.id ? [{ input, result: (batchResults[k] as readonly { ok: boolean }[])[j] }] : []))),
            ...singles.flatMap((input, i) => (input.id === approval.id ? [{ input, result: singleResults[i] }] : [])),
          ];
          const winners = tries.filter((t) => t.result?.ok === true);
          expect(winners).toHaveLength(1);
          const winner = (winners[0] as (typeof winners)[number]).input;
          const decided = { ...approval, ...winner.patch };
          for (const t of tries) expect(t.result).toEqual(t.input === winner ? { ok: true, approval: decided } : { ok: false, approval: decided });
          expect(await store().getApproval(approval.id)).toEqual(decided);
          expect(await store().listAudit(approval.id)).toEqual([createdEntry(approval.id), winner.audit]);
          expect(await store().listOutbox(approval.id)).toEqual(winner.outbox);
        }
      });

      it('drops the expired approvals from dueApprovals and wakes their waiters', { timeout: 20_000 }, async () => {
        const base = slot();
        const due = await Promise.all(range(3).map(async (i) => (await seedApproval({ expiresAt: base + (i + 1) * MINUTE })).approval));
        expect((await store().dueApprovals(base + HOUR, 10)).map((a) => a.id)).toEqual(due.map((a) => a.id));
        const controller = new AbortController();
        onTestFinished(() => controller.abort());
        const waits = due.map((a) => store().waitForApproval(a.id, 600_000, controller.signal));
        await turns();
        const inputs = due.map((a) => {
          const patch = decision('expired', a.expiresAt, null);
          return { id: a.id, patch, audit: auditFor(a.id, patch), outbox: [] };
        });
        expect((await transitionEach(store(), inputs)).map((r) => r.ok)).toEqual([true, true, true]);
        expect(await store().dueApprovals(base + HOUR, 10)).toEqual([]);
        await Promise.all(waits); // a wait that only ended at its timeout would fail the test by the test timeout
      });
    });

    describe('dueApprovals', () => {
      it('returns only pending approvals due at now, earliest deadline first, at most limit', async () => {
        const base = slot();
        const offsets = [5, 1, 3, 2, 4];
        const created = [];
        for (const h of offsets) created.push((await seedApproval({ expiresAt: base + h * HOUR })).approval);
        const decided = (await seedApproval({ expiresAt: base + 30 * MINUTE })).approval;
        const patch = decision('approved', base, 'ops@example.com');
        expect((await store().transitionApproval({ id: decided.id, patch, audit: auditFor(decided.id, patch), outbox: [] })).ok).toBe(true);
        await seedApproval({ expiresAt: base + 20 * HOUR }); // not yet due

        const now = base + 5 * HOUR; // the 5 h deadline is due at exactly now
        const byDeadline = [...created].sort((a, b) => a.expiresAt - b.expiresAt);
        expect(await store().dueApprovals(now, 100)).toEqual(byDeadline);
        expect(await store().dueApprovals(now, 2)).toEqual(byDeadline.slice(0, 2));
        expect(await store().dueApprovals(base + 90 * MINUTE, 100)).toEqual(byDeadline.slice(0, 1));
        expect(await store().dueApprovals(base, 100)).toEqual([]);
      });

      it('drops an approval once it is expired through transitionApproval', async () => {
        const base = slot();
        const { approval } = await seedApproval({ expiresAt: base + HOUR });
        expect((await store().dueApprovals(base + HOUR, 10)).map((a) => a.id)).toEqual([approval.id]);
        const patch = decision('expired', base + HOUR, null);
        expect((await store().transitionApproval({ id: approval.id, patch, audit: auditFor(approval.id, patch), outbox: [] })).ok).toBe(true);
        expect(await store().dueApprovals(base + HOUR, 10)).toEqual([]);
      });
    });

    describe('claimOutbox and settleOutbox', () => {
      async function seedMessages(times: readonly number[]) {
        const notification = notificationRecord();
        const messages = times.map((t, i) => outboxMessage(notification.id, { nextAttemptAt: t, createdAt: T0 + i }));
        await store().createNotification({ notification, outbox: messages });
        return messages;
      }
      const claimedAs = (m: OutboxMessage) => ({ ...m, lease: expect.any(String) as unknown as string });

      it('claims due pending messages earliest first, at most limit, and leases them', async () => {
        const base = slot();
        const [m3, m1, m2] = (await seedMessages([base + 3 * MINUTE, base + MINUTE, base + 2 * MINUTE, base + 10 * HOUR])) as OutboxMessage[];
        const now = base + 5 * MINUTE;
        const firstTwo = await store().claimOutbox(now, 2, MINUTE);
        expect(firstTwo).toEqual([claimedAs(m1 as OutboxMessage), claimedAs(m2 as OutboxMessage)]);
        const rest = await store().claimOutbox(now, 10, MINUTE);
        expect(rest).toEqual([claimedAs(m3 as OutboxMessage)]);
        // All leased now; the 10 h message is not due yet.
        expect(await store().claimOutbox(now + 1, 10, MINUTE)).toEqual([]);
      });

      it('does not hand out a leased message again until its lease has run out', async () => {
        const base = slot();
        const [message] = (await seedMessages([base])) as OutboxMessage[];
        const [first] = await store().claimOutbox(base, 10, MINUTE);
        expect(first?.id).toBe(message?.id);
        expect(await store().claimOutbox(base + MINUTE - 1, 10, MINUTE)).toEqual([]);
        const [second] = await store().claimOutbox(base + MINUTE, 10, MINUTE);
        expect(second?.id).toBe(message?.id);
        expect(second?.lease).not.toBe(first?.lease);
      });

      it('never gives the same message to two concurrent claimers', async () => {
        const base = slot();
        const messages = await seedMessages(range(40).map((i) => base + i));
        const now = base + HOUR;
        const batches = await Promise.all(range(8).map(() => store().claimOutbox(now, 4, 10 * MINUTE)));
        const claimed = batches.flat().map((m) => m.id);
        expect(new Set(claimed).size).toBe(claimed.length);
        expect(claimed.length).toBeGreaterThan(0);
        expect(claimed.length).toBeLessThanOrEqual(32);
        const remainder = (await store().claimOutbox(now, 100, 10 * MINUTE)).map((m) => m.id);
        expect([...claimed, ...remainder].sort()).toEqual(messages.map((m) => m.id).sort());
      });

      it('settles with a held lease; a retry is claimable again at nextAttemptAt', async () => {
        const base = slot();
        const [message] = (await seedMessages([base])) as OutboxMessage[];
        const [claimed] = (await store().claimOutbox(base, 1, MINUTE)) as ClaimedMessage[];
        const retryAt = base + 5 * MINUTE;
        expect(await store().settleOutbox((claimed as ClaimedMessage).id, (claimed as ClaimedMessage).lease, { state: 'pending', attempts: 1, nextAttemptAt: retryAt, lastError: 'HTTP 502' })).toBe(true);
        const expected = { ...(message as OutboxMessage), attempts: 1, nextAttemptAt: retryAt, lastError: 'HTTP 502' };
        expect(await store().listOutbox((message as OutboxMessage).subjectId)).toEqual([expected]);
        expect(await store().claimOutbox(retryAt - 1, 10, MINUTE)).toEqual([]);
        const [again] = (await store().claimOutbox(retryAt, 10, MINUTE)) as ClaimedMessage[];
        expect(again).toEqual(claimedAs(expected));
        expect(await store().settleOutbox((again as ClaimedMessage).id, (again as ClaimedMessage).lease, { state: 'delivered', attempts: 2 })).toBe(true);
        expect(await store().listOutbox((message as OutboxMessage).subjectId)).toEqual([{ ...expected, state: 'delivered', attempts: 2, lastError: null }]);
        // Settled: the lease is gone and delivered messages are never claimed again.
        expect(await store().settleOutbox((again as ClaimedMessage).id, (again as ClaimedMessage).lease, { state: 'dead', attempts: 3, lastError: 'late' })).toBe(false);
        expect(await store().claimOutbox(retryAt + DAY - 1, 10, MINUTE)).toEqual([]);
      });

      it('records a dead message and never claims it again', async () => {
        const base = slot();
        const [message] = (await seedMessages([base])) as OutboxMessage[];
        const [claimed] = (await store().claimOutbox(base, 1, MINUTE)) as ClaimedMessage[];
        expect(await store().settleOutbox((claimed as ClaimedMessage).id, (claimed as ClaimedMessage).lease, { state: 'dead', attempts: 8, lastError: 'HTTP 500' })).toBe(true);
        expect(await store().listOutbox((message as OutboxMessage).subjectId)).toEqual([{ ...(message as OutboxMessage), state: 'dead', attempts: 8, lastError: 'HTTP 500' }]);
        expect(await store().claimOutbox(base + DAY - 1, 10, MINUTE)).toEqual([]);
      });

      it('returns false and changes nothing when the lease was lost', async () => {
        const base = slot();
        const [message] = (await seedMessages([base])) as OutboxMessage[];
        const [first] = (await store().claimOutbox(base, 1, MINUTE)) as ClaimedMessage[];
        const [second] = (await store().claimOutbox(base + MINUTE, 1, MINUTE)) as ClaimedMessage[];
        expect(second?.id).toBe(message?.id);
        expect(await store().settleOutbox((first as ClaimedMessage).id, (first as ClaimedMessage).lease, { state: 'delivered', attempts: 1 })).toBe(false);
        expect(await store().listOutbox((message as OutboxMessage).subjectId)).toEqual([message]);
        expect(await store().settleOutbox((second as ClaimedMessage).id, (second as ClaimedMessage).lease, { state: 'delivered', attempts: 1 })).toBe(true);
        expect(await store().settleOutbox((message as OutboxMessage).id, 'not-a-lease', { state: 'dead', attempts: 2, lastError: 'x' })).toBe(false);
      });

      it('lists a subject’s messages oldest first, creation and transition alike', async () => {
        const approvalId = uid('apr_');
        const notification = notificationRecord({ approvalId });
        const approval = approvalRecord(notification);
        const early = [outboxMessage(approvalId, { createdAt: T0 }), outboxMessage(approvalId, { createdAt: T0 + 1 })];
        await store().createNotification({ notification, approval, audit: createdEntry(approvalId), outbox: early });
        const patch = decision('approved', T0 + 2, 'ops@example.com');
        const late = outboxMessage(approvalId, { createdAt: T0 + 2 });
        await store().transitionApproval({ id: approvalId, patch, audit: auditFor(approvalId, patch), outbox: [late] });
        expect(await store().listOutbox(approvalId)).toEqual([...early, late]);
      });
    });

    describe('quota counters', () => {
      const windows = (dayLimit: number, monthLimit: number): QuotaWindowInput[] => [
        { key: 'd2026-01-15', limit: dayLimit, expiresAt: FAR },
        { key: 'm2026-01', limit: monthLimit, expiresAt: FAR },
      ];
      const keys = ['d2026-01-15', 'm2026-01'] as const;

      it('reads defaults for an unknown account: zero usage, healthy endpoint', async () => {
        expect(await store().readAccountState(uid('acc_'), ['send_messages', 'create_domain'], keys)).toEqual({
          usage: { send_messages: [0, 0], create_domain: [0, 0] },
          health: { healthy: true, consecutiveFailures: 0, disabledUrls: [] },
        });
      });

      it('adds to every window while all fit and reports the counts', async () => {
        const accountId = uid('acc_');
        expect(await store().consumeQuota({ accountId, action: 'send_messages', amount: 2, windows: windows(5, 10) })).toEqual({ ok: true, used: [2, 2] });
        expect(await store().consumeQuota({ accountId, action: 'send_messages', amount: 3, windows: windows(5, 10) })).toEqual({ ok: true, used: [5, 5] });
        expect(await store().consumeQuota({ accountId, action: 'create_domain', amount: 1, windows: windows(5, 10) })).toEqual({ ok: true, used: [1, 1] });
        expect(await store().readAccountState(accountId, ['send_messages', 'create_domain', 'other'], keys)).toEqual({
          usage: { send_messages: [5, 5], create_domain: [1, 1], other: [0, 0] },
          health: { healthy: true, consecutiveFailures: 0, disabledUrls: [] },
        });
      });

      it('adds nothing when any window would be exceeded and names the first such window', async () => {
        const accountId = uid('acc_');
        for (let i = 0; i < 3; i += 1) expect((await store().consumeQuota({ accountId, action: 'send_messages', amount: 1, windows: windows(10, 3) })).ok).toBe(true);
        // Day has room, month is full.
        expect(await store().consumeQuota({ accountId, action: 'send_messages', amount: 1, windows: windows(10, 3) })).toEqual({ ok: false, used: [3, 3], exceeded: 1 });
        // Both full: the first exceeded window is reported.
        expect(await store().consumeQuota({ accountId, action: 'send_messages', amount: 1, windows: windows(3, 3) })).toEqual({ ok: false, used: [3, 3], exceeded: 0 });
        // More than a fresh window allows.
        expect(await store().consumeQuota({ accountId: uid('acc_'), action: 'send_messages', amount: 6, windows: windows(5, 100) })).toEqual({ ok: false, used: [0, 0], exceeded: 0 });
        expect((await store().readAccountState(accountId, ['send_messages'], keys)).usage).toEqual({ send_messages: [3, 3] });
      });

      it('never overshoots under 50 concurrent consumes (limit 10 → exactly 10 succeed)', async () => {
        const accountId = uid('acc_');
        const results = await Promise.all(range(50).map(() => store().consumeQuota({ accountId, action: 'send_messages', amount: 1, windows: windows(10, 1000) })));
        expect(results.filter((r) => r.ok)).toHaveLength(10);
        for (const r of results) if (!r.ok) expect(r.exceeded).toBe(0);
        expect((await store().readAccountState(accountId, ['send_messages'], keys)).usage).toEqual({ send_messages: [10, 10] });
      });

      it('keeps windows in step under concurrency: a full month adds nothing to the day', async () => {
        const accountId = uid('acc_');
        const results = await Promise.all(range(30).map(() => store().consumeQuota({ accountId, action: 'send_messages', amount: 1, windows: windows(1000, 7) })));
        expect(results.filter((r) => r.ok)).toHaveLength(7);
        for (const r of results) if (!r.ok) expect(r.exceeded).toBe(1);
        expect((await store().readAccountState(accountId, ['send_messages'], keys)).usage).toEqual({ send_messages: [7, 7] });
      });

      it('refunds without going below zero', async () => {
        const accountId = uid('acc_');
        await store().consumeQuota({ accountId, action: 'send_messages', amount: 3, windows: windows(10, 10) });
        await store().refundQuota({ accountId, action: 'send_messages', amount: 2, windowKeys: [...keys] });
        expect((await store().readAccountState(accountId, ['send_messages'], keys)).usage).toEqual({ send_messages: [1, 1] });
        await store().refundQuota({ accountId, action: 'send_messages', amount: 5, windowKeys: ['d2026-01-15'] });
        expect((await store().readAccountState(accountId, ['send_messages'], keys)).usage).toEqual({ send_messages: [0, 1] });
        await store().refundQuota({ accountId: uid('acc_'), action: 'send_messages', amount: 5, windowKeys: [...keys] });
        // The refunded room can be used again.
        expect(await store().consumeQuota({ accountId, action: 'send_messages', amount: 9, windows: windows(9, 10) })).toEqual({ ok: true, used: [9, 10] });
      });
    });

    describe('recordDelivery', () => {
      const url = 'https://agent.example.com/hooks/tiergate';

      it('counts failures, turns unhealthy at the threshold, and resets on success', async () => {
        const accountId = uid('acc_');
        expect(await store().recordDelivery(accountId, 'failure', url, 3)).toEqual({ healthy: true, consecutiveFailures: 1, disabledUrls: [] });
        expect(await store().recordDelivery(accountId, 'failure', url, 3)).toEqual({ healthy: true, consecutiveFailures: 2, disabledUrls: [] });
        expect(await store().recordDelivery(accountId, 'failure', url, 3)).toEqual({ healthy: false, consecutiveFailures: 3, disabledUrls: [] });
        expect((await store().readAccountState(accountId, [], ['d', 'm'])).health).toEqual({ healthy: false, consecutiveFailures: 3, disabledUrls: [] });
        expect(await store().recordDelivery(accountId, 'success', url, 3)).toEqual({ healthy: true, consecutiveFailures: 0, disabledUrls: [] });
        expect((await store().readAccountState(accountId, [], ['d', 'm'])).health).toEqual({ healthy: true, consecutiveFailures: 0, disabledUrls: [] });
      });

      it('disables a gone url at once and keeps it disabled after a success', async () => {
        const accountId = uid('acc_');
        const gone = await store().recordDelivery(accountId, 'gone', url, 5);
        expect(gone.healthy).toBe(false);
        expect(gone.disabledUrls).toEqual([url]);
        const twice = await store().recordDelivery(accountId, 'gone', url, 5);
        expect(twice.disabledUrls).toEqual([url]);
        const other = 'https://agent.example.com/other';
        expect((await store().recordDelivery(accountId, 'gone', other, 5)).disabledUrls).toEqual([url, other]);
        expect(await store().recordDelivery(accountId, 'success', other, 5)).toEqual({ healthy: true, consecutiveFailures: 0, disabledUrls: [url, other] });
        expect((await store().readAccountState(accountId, [], ['d', 'm'])).health.disabledUrls).toEqual([url, other]);
      });

      it('counts concurrent failures atomically', async () => {
        const accountId = uid('acc_');
        await Promise.all(range(20).map(() => store().recordDelivery(accountId, 'failure', url, 100)));
        expect((await store().readAccountState(accountId, [], ['d', 'm'])).health).toEqual({ healthy: true, consecutiveFailures: 20, disabledUrls: [] });
      });
    });

    describe('rateLimiter', () => {
      const limiter = (keyPrefix: string, points = 10) => store().rateLimiter({ keyPrefix, points, durationSeconds: 3600 });

      it('allows exactly `points` of 50 concurrent consumes on a fresh key', async () => {
        const rl = limiter(uid('tg-conf-'));
        const key = uid('acc_');
        const results = await Promise.all(range(50).map(() => rl.consume(key)));
        expect(results.filter((r) => r.allowed)).toHaveLength(10);
        for (const r of results) {
          expect(r.limit).toBe(10);
          if (!r.allowed) {
            expect(r.remaining).toBe(0);
            expect(r.resetMs).toBeGreaterThan(0);
          }
        }
      });

      it('reports remaining points and gives a refunded point back', async () => {
        const rl = limiter(uid('tg-conf-'));
        const key = uid('acc_');
        const first = await rl.consume(key);
        expect(first).toMatchObject({ allowed: true, limit: 10, remaining: 9 });
        for (let i = 1; i < 10; i += 1) expect((await rl.consume(key)).allowed).toBe(true);
        await rl.refund(key);
        expect((await rl.consume(key)).allowed).toBe(true);
        expect((await rl.consume(key)).allowed).toBe(false);
      });

      it('keeps one bucket per key and per prefix, shared by limiters with the same prefix', async () => {
        const prefix = uid('tg-conf-');
        const a = limiter(prefix);
        const b = limiter(prefix);
        const key = uid('acc_');
        for (let i = 0; i < 5; i += 1) {
          expect((await a.consume(key)).allowed).toBe(true);
          expect((await b.consume(key)).allowed).toBe(true);
        }
        expect((await a.consume(key)).allowed).toBe(false);
        expect((await a.consume(uid('acc_'))).allowed).toBe(true);
        expect((await limiter(uid('tg-conf-')).consume(key)).allowed).toBe(true);
      });

      it('takes several points at once', async () => {
        const rl = limiter(uid('tg-conf-'));
        const key = uid('acc_');
        expect(await rl.consume(key, 7)).toMatchObject({ allowed: true, remaining: 3 });
        expect((await rl.consume(key, 4)).allowed).toBe(false);
      });
    });

    describe('waitForApproval', () => {
      /** A wait that cannot end by its own timeout during the test; aborted when the test ends. */
      function longWait(id: string) {
        const controller = new AbortController();
        onTestFinished(() => controller.abort());
        let settled = false;
        const done = store()
          .waitForApproval(id, 600_000, controller.signal)
          .then(() => {
            settled = true;
          });
        return { done, settled: () => settled };
      }

      it('resolves soon after a transition (well before its timeout)', { timeout: 20_000 }, async () => {
        const { approval } = await seedApproval();
        const wait = longWait(approval.id);
        await turns();
        expect(wait.settled()).toBe(false);
        const patch = decision('approved', T0 + 1, 'ops@example.com');
        expect((await store().transitionApproval({ id: approval.id, patch, audit: auditFor(approval.id, patch), outbox: [] })).ok).toBe(true);
        await wait.done; // a wait that only ended at its timeout would fail the test by the test timeout
        expect(wait.settled()).toBe(true);
      });

      it('wakes every waiter of the approval', { timeout: 20_000 }, async () => {
        const { approval } = await seedApproval();
        const waits = range(5).map(() => longWait(approval.id));
        await turns();
        const patch = decision('denied', T0 + 1, 'ops@example.com');
        await store().transitionApproval({ id: approval.id, patch, audit: auditFor(approval.id, patch), outbox: [] });
        await Promise.all(waits.map((w) => w.done));
      });

      it('resolves at once when the approval is already decided', { timeout: 20_000 }, async () => {
        const { approval } = await seedApproval();
        const patch = decision('approved', T0 + 1, 'ops@example.com');
        await store().transitionApproval({ id: approval.id, patch, audit: auditFor(approval.id, patch), outbox: [] });
        await longWait(approval.id).done;
      });

      it('resolves at its timeout when nothing happens, without changing the approval', async () => {
        const { approval } = await seedApproval();
        await store().waitForApproval(approval.id, 150);
        expect((await store().getApproval(approval.id))?.status).toBe('pending');
      });

      it('resolves when its signal aborts', { timeout: 20_000 }, async () => {
        const { approval } = await seedApproval();
        const controller = new AbortController();
        const waiting = store().waitForApproval(approval.id, 600_000, controller.signal);
        await turns();
        controller.abort();
        await waiting;
        const aborted = new AbortController();
        aborted.abort();
        await store().waitForApproval(approval.id, 600_000, aborted.signal);
      });
    });

    describe('purge', () => {
      it('removes records whose purgeAt has passed and keeps every other one', async () => {
        const base = slot();
        const cutoff = base + HOUR;
        const seed = async (purgeAt: number) => {
          const approvalId = uid('apr_');
          const notification = notificationRecord({ createdAt: base, expiresAt: base + 10 * MINUTE, purgeAt, approvalId });
          const approval = approvalRecord(notification, { createdAt: base, expiresAt: base + 10 * MINUTE, purgeAt });
          const message = outboxMessage(notification.id, { nextAttemptAt: base, purgeAt });
          await store().createNotification({ notification, approval, audit: createdEntry(approvalId, base), outbox: [message] });
          const patch = decision('expired', base + 10 * MINUTE, null);
          expect((await store().transitionApproval({ id: approvalId, patch, audit: auditFor(approvalId, patch), outbox: [] })).ok).toBe(true);
          return { notification, approval: { ...approval, ...patch }, message };
        };
        const old = await seed(cutoff);
        const young = await seed(cutoff + 1);
        // Deliver both messages: a message still waiting for delivery may be kept past its purgeAt.
        const claimed = await store().claimOutbox(base, 10, MINUTE);
        expect(claimed.map((m) => m.id).sort()).toEqual([old.message.id, young.message.id].sort());
        for (const m of claimed) expect(await store().settleOutbox(m.id, m.lease, { state: 'delivered', attempts: 1 })).toBe(true);
        // A quota counter whose window ends later survives the purge.
        const accountId = uid('acc_');
        await store().consumeQuota({ accountId, action: 'send_messages', amount: 1, windows: [{ key: 'd-keep', limit: 5, expiresAt: cutoff + 1 }] });

        const removed = await store().purge(cutoff, 1000);
        expect(removed).toBeGreaterThanOrEqual(3);
        expect(await store().getNotification(old.notification.id)).toBeNull();
        expect(await store().getApproval(old.approval.id)).toBeNull();
        expect(await store().listAudit(old.approval.id)).toEqual([]);
        expect(await store().listOutbox(old.notification.id)).toEqual([]);

        expect(await store().getNotification(young.notification.id)).toEqual(young.notification);
        expect(await store().getApproval(young.approval.id)).toEqual(young.approval);
        expect(await store().listAudit(young.approval.id)).toHaveLength(2);
        expect(await store().listOutbox(young.notification.id)).toEqual([{ ...young.message, state: 'delivered', attempts: 1 }]);
        expect((await store().readAccountState(accountId, ['send_messages'], ['d-keep', 'm-none'])).usage).toEqual({ send_messages: [1, 0] });
      });

      it('removes nothing before purgeAt', async () => {
        const base = slot();
        const notification = notificationRecord({ createdAt: base, expiresAt: base + MINUTE, purgeAt: base + HOUR });
        await store().createNotification({ notification, outbox: [] });
        await store().purge(base + HOUR - 1, 1000);
        expect(await store().getNotification(notification.id)).toEqual(notification);
      });
    });

    if (options.unreachable !== undefined) {
      const makeUnreachable = options.unreachable;
      describe('backend unreachable', () => {
        let broken: StoreUnderTest | undefined;
        beforeAll(async () => {
          broken = await makeUnreachable();
        });
        afterAll(async () => {
          await broken?.cleanup();
        });

        it('rejects every method with STORE_UNAVAILABLE', { timeout: 60_000 }, async () => {
          const s = (broken as StoreUnderTest).store;
          const approvalId = uid('apr_');
          const notification = notificationRecord({ approvalId });
          const patch = decision('approved', T0, 'x@example.com');
          const rl = s.rateLimiter({ keyPrefix: uid('tg-conf-'), points: 10, durationSeconds: 60 });
          const calls: Record<string, () => Promise<unknown>> = {
            createNotification: () => s.createNotification({ notification, approval: approvalRecord(notification), audit: createdEntry(approvalId), outbox: [outboxMessage(approvalId)] }),
            getNotification: () => s.getNotification(notification.id),
            getApproval: () => s.getApproval(approvalId),
            transitionApproval: () => s.transitionApproval({ id: approvalId, patch, audit: auditFor(approvalId, patch), outbox: [] }),
            transitionApprovals: () => transitionEach(s, [{ id: approvalId, patch, audit: auditFor(approvalId, patch), outbox: [] }]),
            dueApprovals: () => s.dueApprovals(T0, 10),
            listAudit: () => s.listAudit(approvalId),
            claimOutbox: () => s.claimOutbox(T0, 10, MINUTE),
            settleOutbox: () => s.settleOutbox(uid('msg_'), 'lease', { state: 'delivered', attempts: 1 }),
            listOutbox: () => s.listOutbox(approvalId),
            consumeQuota: () => s.consumeQuota({ accountId: 'acc', action: 'send_messages', amount: 1, windows: [{ key: 'd', limit: 5, expiresAt: FAR }] }),
            refundQuota: () => s.refundQuota({ accountId: 'acc', action: 'send_messages', amount: 1, windowKeys: ['d'] }),
            readAccountState: () => s.readAccountState('acc', ['send_messages'], ['d', 'm']),
            recordDelivery: () => s.recordDelivery('acc', 'failure', 'https://agent.example.com/', 5),
            'rateLimiter.consume': () => rl.consume('acc'),
            'rateLimiter.refund': () => rl.refund('acc'),
            purge: () => s.purge(T0, 10),
          };
          const outcomes: Record<string, string> = {};
          for (const [method, call] of Object.entries(calls)) outcomes[method] = await outcomeOf(call());
          expect(outcomes).toEqual(Object.fromEntries(Object.keys(calls).map((method) => [method, 'STORE_UNAVAILABLE'])));
        });

        it('still resolves waitForApproval (never rejects)', { timeout: 20_000 }, async () => {
          await expect((broken as StoreUnderTest).store.waitForApproval(uid('apr_'), 200)).resolves.toBeUndefined();
        });
      });
    }
  });
}
