#!/usr/bin/env node
// Heap bytes kept per notification: notify-operator through the kernel on memoryStore(), or the contract's
// floor keeping its record in a Map, 50,000 calls after a warm-up, heap measured after forced GCs.
//   node --expose-gc bench/kept-bytes.mjs tiergate      # or: floor
// Run `npm run build` first.
import { apiKeyAuthenticator, createHandler, createTiergate, defaultTiers, memoryStore } from '@tiergate/core';
import { contractFloor } from './servers/contract-floor.mjs';

const mode = process.argv[2] ?? 'tiergate';
if (mode !== 'tiergate' && mode !== 'floor') throw new Error('mode: tiergate or floor');
if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc');
const N = 50_000;
const entries = [];
for (let i = 0; i < 64; i++) entries.push({ apiKey: `bench-free-${i}-4f9a1c2e8b7d6a5f`, account: { id: `acc_${i}`, tier: 'free', operatorEmail: 'a@example.com' } });
const byId = new Map(entries.map((e) => [e.account.id, e.account]));
const tiergate = createTiergate({
  authenticate: apiKeyAuthenticator(entries),
  findAccount: (id) => byId.get(id) ?? null,
  secret: 'bench-link-secret-0123456789abcdef-0123456789',
  publicUrl: 'http://127.0.0.1:3000',
  store: memoryStore(),
  tiers: defaultTiers,
  notifyRateLimit: { points: 1e9, durationSeconds: 3600 },
  logger: { debug() {}, info() {}, warn() {}, error() {} },
});
const handle = createHandler(tiergate);
// The body of part 2 (bench/parts/http.mjs).
const BODY = Buffer.from(JSON.stringify({ issue: 'I need to send a receipt to a customer, but this account is on the free tier.', action_label: 'Upgrade to send', context: { customer_id: 'cus_123', attempted_action: 'send_messages', recipients: 1, reason: 'SEND_REQUIRES_PAID' } }));
const kept = new Map();
const floor = await contractFloor(memoryStore(), () => 'http://127.0.0.1:3000', entries, (id, record) => void kept.set(id, record));

async function one(i) {
  const authorization = `Bearer ${entries[i % 64].apiKey}`;
  if (mode === 'floor') return floor(authorization, JSON.parse(BODY.toString()));
  const response = await handle({ method: 'POST', path: '/v1/notify-operator', query: '', headers: { authorization, 'content-type': 'application/json', host: '127.0.0.1:3000' }, body: Buffer.from(BODY) });
  if (response.status !== 201) throw new Error(response.body);
}

function heapAfterGc() {
  for (let k = 0; k < 4; k++) globalThis.gc();
  return process.memoryUsage().heapUsed;
}

for (let i = 0; i < 2000; i++) await one(i);
const before = heapAfterGc();
for (let i = 0; i < N; i++) await one(i);
console.log(`${mode}: ${Math.round((heapAfterGc() - before) / N)} bytes kept per notification (${N.toLocaleString('en')} notifications)`);
