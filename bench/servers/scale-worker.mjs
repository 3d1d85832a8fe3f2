// Part 4b, run as a child process (its own heap; 1M records of the memory store
// need a few GB): how the expiry sweep and the outbox scan cost grow with the
// number of stored approvals, on one store.
//
// Config (JSON in BENCH_SCALE): { kind: 'memory' | 'postgres' | 'redis', url?, schema?, prefix?, db?, levels: [n…], samples }
// Writes one JSON line with the results to stdout.
//
// A second store of the same kind (schema `<schema>_ref`, key prefix `<prefix>ref:`) stays at the first level
// for the whole run, and every sample times both stores back to back (in alternating order): the growth is
// also given as the median of the per-sample ratios, which a drift of the machine between levels (the fill
// of 1M records takes minutes) does not move.
import { memoryStore, planTransition } from '@tiergate/core';

const config = JSON.parse(process.env.BENCH_SCALE ?? '{}');
const DAY = 86_400_000;
const NOW = Math.floor(Date.now() / 1000) * 1000;
const DUE = 20; // approvals due and outbox messages due at every measurement
const clock = { now: () => NOW };

const ms = (start) => Number(process.hrtime.bigint() - start) / 1e6;
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** One stored approval with its notification, audit entry and one outbox message; half pending (not due), half decided. */
function bulkRecord(i) {
  const pending = i % 2 === 0;
  const accountId = `acc_${i % 1000}`;
  const notificationId = `not_b${i}`;
  const approvalId = `apr_b${i}`;
  const createdAt = NOW - 3_600_000;
  const expiresAt = NOW + 3_600_000 + (i % 604_800) * 1000;
  const purgeAt = NOW + 40 * DAY;
  const callbackUrl = 'https://agent.example.com/tiergate/callback';
  return {
    notification: {
      id: notificationId,
      accountId,
      issue: `Send the weekly onboarding batch #${i}`,
      actionLabel: 'Review Request',
      sealedContext: null,
      approvalId,
      linkId: `lnk_b${i}`,
      account: { tier: 'developer', status: 'active', operatorEmail: null, customDomains: null },
      createdAt,
      expiresAt,
      purgeAt,
    },
    approval: {
      id: approvalId,
      accountId,
      notificationId,
      action: 'send_messages',
      reason: 'Weekly onboarding batch',
      urgency: 'medium',
      callbackUrl,
      sealedSecret: null,
      status: pending ? 'pending' : 'approved',
      createdAt,
      expiresAt,
      decidedAt: pending ? null : NOW - 1000,
      decidedBy: pending ? null : 'ops@example.com',
      denialReason: null,
      purgeAt,
    },
    audit: { approvalId, at: createdAt, event: 'created', actor: 'agent', ip: null, userAgent: null },
    outbox: [
      {
        id: `msg_b${i}`,
        accountId,
        topic: pending ? 'notifier' : 'callback',
        type: pending ? 'operator.notification' : 'approval.granted',
        subjectId: pending ? notificationId : approvalId,
        target: pending ? 'email' : callbackUrl,
        // One in ten still owed (a retry scheduled later), the rest delivered.
        state: i % 10 === 0 ? 'pending' : 'delivered',
        attempts: 1,
        nextAttemptAt: i % 10 === 0 ? NOW + 3_600_000 + (i % 86_400) * 1000 : NOW - 1000,
        createdAt,
        lastError: null,
        purgeAt,
      },
    ],
  };
}

let callbacks = 0;
/** The approval.expired callback the service's sweep enqueues for an approval with a callback URL. */
function expiredCallback(approval) {
  callbacks += 1;
  return {
    id: `msg_exp${callbacks}_${approval.id}`,
    accountId: approval.accountId,
    topic: 'callback',
    type: 'approval.expired',
    subjectId: approval.id,
    target: approval.callbackUrl,
    state: 'pending',
    attempts: 0,
    nextAttemptAt: NOW + 365 * DAY, // not due during the run, so the outbox claim measured below stays at DUE messages
    createdAt: NOW,
    lastError: null,
    purgeAt: NOW + 40 * DAY,
  };
}

/** A pending approval already past its deadline (the sweep expires it); half of them have a callback URL. */
function dueApproval(tag, withCallback) {
  const record = bulkRecord(0);
  const id = `apr_due_${tag}`;
  const notificationId = `not_due_${tag}`;
  return {
    notification: { ...record.notification, id: notificationId, approvalId: id, expiresAt: NOW - 1000 },
    approval: { ...record.approval, id, notificationId, callbackUrl: withCallback ? record.approval.callbackUrl : null, status: 'pending', expiresAt: NOW - 1000, decidedAt: null, decidedBy: null },
    audit: { ...record.audit, approvalId: id },
    outbox: [],
  };
}

/** A notification whose notifier message is due now (the outbox claim picks it). */
function dueMessage(tag) {
  const record = bulkRecord(1);
  const notificationId = `not_msg_${tag}`;
  return {
    notification: { ...record.notification, id: notificationId, approvalId: null },
    outbox: [{ ...record.outbox[0], id: `msg_due_${tag}`, topic: 'notifier', type: 'operator.notification', subjectId: notificationId, target: 'email', state: 'pending', attempts: 0, nextAttemptAt: NOW - 1000 }],
  };
}

async function openStore(config) {
  if (config.kind === 'memory') {
    const store = memoryStore();
    return {
      store,
      async fill(from, to) {
        for (let i = from; i < to; i += 1) await store.createNotification(bulkRecord(i));
      },
      close: async () => undefined,
    };
  }
  if (config.kind === 'redis') {
    const { Redis } = await import('ioredis');
    const { redisStore } = await import('@tiergate/redis');
    const client = new Redis(config.url, { db: config.db, maxRetriesPerRequest: 1, enableOfflineQueue: false });
    await new Promise((resolve, reject) => {
      client.once('ready', resolve);
      client.once('error', reject);
    });
    const store = redisStore({ client, keyPrefix: config.prefix, timeoutMs: 30_000 });
    return {
      store,
      // Through the store's own script (the record layout is the store's), many in flight at once.
      async fill(from, to) {
        let next = from;
        const worker = async () => {
          while (next < to) await store.createNotification(bulkRecord(next++));
        };
        await Promise.all(Array.from({ length: 256 }, worker));
      },
      close: async () => {
        await store.close();
        client.disconnect();
      },
    };
  }
  if (config.kind === 'postgres') {
    const { default: pg } = await import('pg');
    const { postgresStore } = await import('@tiergate/postgres');
    const pool = new pg.Pool({ connectionString: config.url, max: 8 });
    const store = postgresStore({ pool, schema: config.schema });
    await store.migrate();
    const s = `"${config.schema}"`;
    return {
      store,
      // Bulk insert with generate_series: the same rows bulkRecord() describes, written by SQL.
      async fill(from, to) {
        const client = await pool.connect();
        try {
          const args = [from, to - 1, NOW];
          await client.query('BEGIN');
          await client.query(
            `INSERT INTO ${s}.notifications (id, account_id, issue, action_label, sealed_context, approval_id, link_id, account, created_at, expires_at, purge_at)
             SELECT 'not_b' || g, 'acc_' || (g % 1000), 'Send the weekly onboarding batch #' || g, 'Review Request', NULL, 'apr_b' || g, 'lnk_b' || g,
                    '{"tier":"developer","status":"active","operatorEmail":null,"customDomains":null}'::jsonb,
                    $3::bigint - 3600000, $3::bigint + 3600000 + (g % 604800) * 1000, $3::bigint + 40 * 86400000::bigint
             FROM generate_series($1::bigint, $2::bigint) g`,
            args,
          );
          await client.query(
            `INSERT INTO ${s}.approvals (id, account_id, notification_id, action, reason, urgency, callback_url, sealed_secret, status, created_at, expires_at, decided_at, decided_by, denial_reason, purge_at)
             SELECT 'apr_b' || g, 'acc_' || (g % 1000), 'not_b' || g, 'send_messages', 'Weekly onboarding batch', 'medium', 'https://agent.example.com/tiergate/callback', NULL,
                    CASE WHEN g % 2 = 0 THEN 'pending' ELSE 'approved' END, $3::bigint - 3600000, $3::bigint + 3600000 + (g % 604800) * 1000,
                    CASE WHEN g % 2 = 0 THEN NULL ELSE $3::bigint - 1000 END, CASE WHEN g % 2 = 0 THEN NULL ELSE 'ops@example.com' END, NULL,
                    $3::bigint + 40 * 86400000::bigint
             FROM generate_series($1::bigint, $2::bigint) g`,
            args,
          );
          await client.query(
            `INSERT INTO ${s}.audit (approval_id, at, event, actor, ip, user_agent)
             SELECT 'apr_b' || g, $3::bigint - 3600000, 'created', 'agent', NULL, NULL FROM generate_series($1::bigint, $2::bigint) g`,
            args,
          );
          await client.query(
            `INSERT INTO ${s}.outbox (id, account_id, topic, type, subject_id, target, state, attempts, next_attempt_at, created_at, last_error, purge_at)
             SELECT 'msg_b' || g, 'acc_' || (g % 1000),
                    CASE WHEN g % 2 = 0 THEN 'notifier' ELSE 'callback' END,
                    CASE WHEN g % 2 = 0 THEN 'operator.notification' ELSE 'approval.granted' END,
                    CASE WHEN g % 2 = 0 THEN 'not_b' || g ELSE 'apr_b' || g END,
                    CASE WHEN g % 2 = 0 THEN 'email' ELSE 'https://agent.example.com/tiergate/callback' END,
                    CASE WHEN g % 10 = 0 THEN 'pending' ELSE 'delivered' END, 1,
                    CASE WHEN g % 10 = 0 THEN $3::bigint + 3600000 + (g % 86400) * 1000 ELSE $3::bigint - 1000 END,
                    $3::bigint - 3600000, NULL, $3::bigint + 40 * 86400000::bigint
             FROM generate_series($1::bigint, $2::bigint) g`,
            args,
          );
          await client.query('COMMIT');
          // Steady state, as autovacuum would leave a long-lived table: hint bits and the visibility map set,
          // statistics fresh (otherwise the first reads after a bulk load write, and autovacuum may start mid-sample).
          await client.query(`VACUUM (ANALYZE) ${s}.notifications, ${s}.approvals, ${s}.audit, ${s}.outbox`);
        } catch (err) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw err;
        } finally {
          client.release();
        }
        // The store must read what SQL wrote as its own records.
        const check = await store.getApproval(`apr_b${from}`);
        if (check === null || check.id !== `apr_b${from}` || check.status !== (from % 2 === 0 ? 'pending' : 'approved')) {
          throw new Error(`bulk rows do not read back as store records: ${JSON.stringify(check)}`);
        }
      },
      close: async () => {
        await store.close();
        await pool.end();
      },
    };
  }
  throw new Error(`unknown store kind ${config.kind}`);
}

/** The calls one sample times on `store`; `round` names its due approvals. */
async function sample(store, round) {
  // The store calls of \`tiergate.sweep()\`: due approvals from the deadline index, their expiries as one batch of
  // compare-and-sets (each with its audit entry and the approval.expired callback the service enqueues), then
  // the retention purge. (The service's sweep also kicks its dispatcher, which would claim the outbox messages
  // measured below, so the worker makes the same calls itself.)
  async function sweep() {
    let expired = 0;
    for (let pass = 0; pass < 10; pass += 1) {
      const due = await store.dueApprovals(NOW, 100);
      const batch = [];
      for (const approval of due) {
        const plan = planTransition(approval, { to: 'expired' }, NOW, false);
        if (!plan.ok) continue;
        batch.push({
          id: approval.id,
          patch: plan.patch,
          audit: { approvalId: approval.id, at: NOW, event: 'expired', actor: 'system', ip: null, userAgent: null },
          outbox: approval.callbackUrl === null ? [] : [expiredCallback(approval)],
        });
      }
      if (batch.length > 0) for (const result of await store.transitionApprovals(batch)) if (result.ok) expired += 1;
      if (due.length < 100) break;
    }
    const purged = await store.purge(NOW, 1000);
    return { expired, purged };
  }

  // Untimed: DUE approvals past their deadline, among the stored ones that are not.
  for (let i = 0; i < DUE; i += 1) await store.createNotification(dueApproval(`${round}_${i}`, i % 2 === 0));
  let t = process.hrtime.bigint();
  const swept = await sweep();
  const sweepMs = ms(t);
  if (swept.expired !== DUE) throw new Error(`sweep expired ${swept.expired}, expected ${DUE}`);

  t = process.hrtime.bigint();
  const none = await store.dueApprovals(NOW, 100);
  const probeMs = ms(t);
  if (none.length !== 0) throw new Error(`dueApprovals found ${none.length} after the sweep`);

  t = process.hrtime.bigint();
  const claimed = await store.claimOutbox(NOW, 32, 60_000);
  const claimMs = ms(t);
  if (claimed.length !== DUE) throw new Error(`claimOutbox claimed ${claimed.length}, expected ${DUE}`);
  // Untimed: put them back, due again.
  for (const message of claimed) {
    await store.settleOutbox(message.id, message.lease, { state: 'pending', attempts: message.attempts + 1, nextAttemptAt: NOW, lastError: 'bench: try again' });
  }
  return { sweepMs, probeMs, claimMs };
}

async function main() {
  const opened = await openStore(config);
  const reference = await openStore({ ...config, schema: `${config.schema}_ref`, prefix: `${config.prefix}ref:` });
  const stores = [opened.store, reference.store];
  // The outbox messages that are due at every measurement (claimed, then put back), in both stores.
  for (const store of stores) for (let i = 0; i < DUE; i += 1) await store.createNotification(dueMessage(i));

  const levels = [];
  let stored = 0;
  let round = 0;
  try {
    await reference.fill(0, config.levels[0]);
    for (const level of config.levels) {
      const fillStart = process.hrtime.bigint();
      await opened.fill(stored, level);
      const fillMs = ms(fillStart);
      stored = level;
      let own = [];
      let ref = [];
      // The first level also warms the code up (samples thrown away).
      const warmup = levels.length === 0 ? 10 : 0;
      for (let n = -warmup; n < config.samples; n += 1) {
        if (n === 0) {
          own = [];
          ref = [];
        }
        // Both stores back to back, the order alternating from sample to sample.
        const first = n % 2 === 0 ? 0 : 1;
        const times = [];
        times[first] = await sample(stores[first], `${round}_${first}`);
        times[1 - first] = await sample(stores[1 - first], `${round}_${1 - first}`);
        round += 1;
        own.push(times[0]);
        ref.push(times[1]);
      }
      const paired = (key) => median(own.map((o, i) => o[key] / ref[i][key]));
      levels.push({
        stored,
        fillMs,
        sweepMs: median(own.map((o) => o.sweepMs)),
        probeMs: median(own.map((o) => o.probeMs)),
        claimMs: median(own.map((o) => o.claimMs)),
        referenceSweepMs: median(ref.map((o) => o.sweepMs)),
        referenceClaimMs: median(ref.map((o) => o.claimMs)),
        sweepVsReference: paired('sweepMs'),
        claimVsReference: paired('claimMs'),
        rssMB: process.memoryUsage.rss() / 2 ** 20,
      });
      process.stderr.write(`  ${config.kind}: ${stored.toLocaleString('en-US')} approvals stored (fill ${(fillMs / 1000).toFixed(1)} s)\n`);
    }
  } finally {
    await opened.close();
    await reference.close();
  }
  process.stdout.write(`${JSON.stringify({ kind: config.kind, reference: config.levels[0], levels })}\n`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
