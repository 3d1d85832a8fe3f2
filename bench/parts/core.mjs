// Part 1: the core, in process. computeCapabilities against JSON.stringify of
// its own result (the yardstick), the CASL ability, link signing and verifying.
import { abilityFor, computeCapabilities, createKeyring, defaultTiers, signLink, verifyLink } from '@tiergate/core';
import { fmt, median, nsPerAsyncOp, nsPerOp } from '../lib/stats.mjs';

const NOW = Date.parse('2026-01-15T12:00:00.000Z');
// Distinct but equal state objects, as each request builds its own: nothing may hit by identity.
function states(make, count = 1024) {
  return Array.from({ length: count }, make);
}

export async function runCore({ quick }) {
  const reps = quick ? 5 : 9;
  const minMs = quick ? 80 : 200;
  const table = defaultTiers;
  const accounts = {
    free: states(() => ({ tier: 'free', webhookHealthy: true })),
    developer: states(() => ({ tier: 'developer', usage: { send_messages: { day: 12, month: 340 } }, customDomains: 1, webhookHealthy: true })),
  };
  const mask = 1023;

  const rows = [];
  const targets = [];
  for (const [name, list] of Object.entries(accounts)) {
    const answer = computeCapabilities(table, list[0], NOW);
    const compute = [];
    const stringify = [];
    for (let r = 0; r < reps; r += 1) {
      compute.push(nsPerOp((i) => computeCapabilities(table, list[i & mask], NOW).can.length, minMs));
      stringify.push(nsPerOp(() => JSON.stringify(answer).length, minMs));
    }
    const c = median(compute);
    const s = median(stringify);
    const ratio = c / s;
    rows.push([`computeCapabilities (${name})`, fmt(c, 0), fmt(s, 0), fmt(ratio, 3)]);
    targets.push({
      part: 'core',
      name: `computeCapabilities ÷ JSON.stringify(result), ${name} account`,
      measured: fmt(ratio, 3),
      required: '≤ 0.10',
      pass: ratio <= 0.1,
      note: `${fmt(c, 0)} ns vs ${fmt(s, 0)} ns`,
    });
  }

  // CASL through our ability: building it per request state (cached per state) and asking it.
  const dev = accounts.developer;
  const held = abilityFor(table, dev[0], NOW);
  const casl = [];
  const caslHeld = [];
  for (let r = 0; r < reps; r += 1) {
    casl.push(nsPerOp((i) => abilityFor(table, dev[i & mask], NOW).can('send_messages'), minMs));
    caslHeld.push(nsPerOp(() => held.can('use_smtp'), minMs));
  }

  // Links: jose HS256 through the keyring, as the service signs and verifies them.
  const keyring = createKeyring({ secrets: ['bench-secret-bench-secret-bench-secret-0001'] });
  await keyring.ready();
  const options = { keyring, issuer: 'http://127.0.0.1:3000', now: NOW };
  const claims = { purpose: 'operator_action', accountId: 'acc_bench', notificationId: 'not_bench0000000000000' };
  const { token } = await signLink(claims, 7 * 86400, options);
  const sign = [];
  const verifyFirst = [];
  const verifyAgain = [];
  for (let r = 0; r < Math.min(reps, 5); r += 1) {
    sign.push(await nsPerAsyncOp(() => signLink(claims, 7 * 86400, options), minMs));
    // First verification of a token (the full jose check) needs a token never seen before.
    const fresh = [];
    for (let i = 0; i < 1000; i += 1) fresh.push((await signLink(claims, 7 * 86400, options)).token);
    const start = process.hrtime.bigint();
    for (const t of fresh) await verifyLink(t, 'operator_action', options);
    verifyFirst.push(Number(process.hrtime.bigint() - start) / fresh.length);
    verifyAgain.push(await nsPerAsyncOp(() => verifyLink(token, 'operator_action', options), minMs));
  }

  const other = [
    ['abilityFor(account).can(action) (developer)', fmt(median(casl), 0)],
    ['ability.can(action) on a held ability', fmt(median(caslHeld), 0)],
    ['signLink (HS256, node:crypto HMAC)', fmt(median(sign), 0)],
    ['verifyLink, first time (jose jwtVerify, pinned)', fmt(median(verifyFirst), 0)],
    ['verifyLink, same token again (remembered; exp/iat rechecked)', fmt(median(verifyAgain), 0)],
  ];

  return {
    title: '1. Core',
    tables: [
      {
        title: 'computeCapabilities against serialising its own answer (same run)',
        columns: ['operation', 'ns/op', 'JSON.stringify(result) ns/op', 'ratio'],
        rows,
        caption: `Median of ${reps} interleaved runs; each call gets a fresh (equal) account-state object, as a request does.`,
      },
      { title: 'Other core operations', columns: ['operation', 'ns/op'], rows: other },
    ],
    targets,
  };
}
