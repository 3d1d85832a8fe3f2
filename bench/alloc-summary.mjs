#!/usr/bin/env node
// Bytes allocated per request by function, from a sampled allocation profile written by
// `BENCH_ALLOC_PROF=<file> node bench/kernel-in-process.mjs <mode> <N>` (the Fastify modes); with two
// files, both side by side and the difference, largest first.
// Usage: node bench/alloc-summary.mjs <a.json> [b.json] [top=30]
import fs from 'node:fs';

const files = process.argv.slice(2).filter((a) => a.endsWith('.json'));
const top = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 30);
if (files.length === 0 || files.length > 2) {
  console.error('usage: node bench/alloc-summary.mjs <a.json> [b.json] [top]');
  process.exit(2);
}

/** Self bytes per request by `function file:line`. */
function load(file) {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8'));
  const byFunction = new Map();
  const walk = (node) => {
    const frame = node.callFrame;
    const where = frame.url.replace(/^.*\/(packages|node_modules|bench)\//, '$1/');
    const key = `${frame.functionName || '(anonymous)'}  ${where}:${frame.lineNumber + 1}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + node.selfSize / profile.requests);
    for (const child of node.children) walk(child);
  };
  walk(profile.head);
  return byFunction;
}

const sets = files.map(load);
const totals = sets.map((s) => [...s.values()].reduce((a, b) => a + b, 0));
console.log(`bytes allocated per request (sampled): ${totals.map((t, i) => `${files[i]} ${Math.round(t)}`).join(', ')}`);
const [a, b = new Map()] = sets;
const rows = [...new Set([...a.keys(), ...b.keys()])].map((k) => [k, a.get(k) ?? 0, b.get(k) ?? 0]);
rows.sort((x, y) => (sets.length === 2 ? Math.abs(y[2] - y[1]) - Math.abs(x[2] - x[1]) : y[1] - x[1]));
for (const [name, x, y] of rows.slice(0, top)) {
  const cells = sets.length === 2 ? [x, y, y - x] : [x];
  console.log(`${cells.map((c) => Math.round(c).toString().padStart(7)).join(' ')}  ${name}`);
}
