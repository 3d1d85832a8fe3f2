#!/usr/bin/env node
// Heap bytes kept per notification: notify-operator through the kernel on memoryStore(), or the contract's
// floor keeping its record in a Map, 50,000 calls after a warm-up, heap measured after forced GCs.
//   node --expose-gc bench/kept-bytes.mjs tiergate      # or: floor
// Run `npm run build` first.
import { createHandler, memoryStore } from '@tiergate/core';
import { NOTIFY_BODY, PUBLIC_URL, inProcessTiergate } from './lib/in-process.mjs';
import { contractFloor } from './servers/contract-floor.mjs';

const mode = process.argv[2] ?? 'tiergate';
if (mode !== 'tiergate' && mode !== 'floor') throw new Error('mode: tiergate or floor');
if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc');
const N = 50_000;
const { entries, tiergate } = inProcessTiergate();
const handle = createHandler(tiergate);
const BODY = Buffer.from(NOTIFY_BODY);
const kept = new Map();
const floor = await contractFloor(memoryStore(), () => PUBLIC_URL, entries, (id, record) => void kept.set(id, record));

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
