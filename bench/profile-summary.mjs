#!/usr/bin/env node
// Summarises a V8 .cpuprofile (from `node --cpu-prof`): self time by function
// and by package, so a profile can be read and quoted without DevTools.
// Usage: node bench/profile-summary.mjs <file.cpuprofile> [top=25]
import fs from 'node:fs';

const [file, topArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: node bench/profile-summary.mjs <file.cpuprofile> [top]');
  process.exit(2);
}
const top = Number(topArg ?? 25);
const profile = JSON.parse(fs.readFileSync(file, 'utf8'));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map();
const dt = profile.timeDeltas;
for (let i = 0; i < profile.samples.length; i += 1) self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + (dt[i] ?? 0));
const total = [...self.values()].reduce((a, b) => a + b, 0);

function where(frame) {
  const url = frame.url || '';
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1];
  const pkg = /packages\/([^/]+)\//.exec(url);
  if (pkg) return `@tiergate/${pkg[1]}`;
  if (url.startsWith('node:')) return process.env.PROFILE_NODE_FILES ? url : 'node';
  if (url === '') return frame.functionName.startsWith('(') ? frame.functionName : 'native';
  return url.split('/').slice(-2).join('/');
}

const fn = new Map();
const pkg = new Map();
for (const [id, t] of self) {
  const frame = byId.get(id).callFrame;
  const key = `${frame.functionName || '(anonymous)'}  ${where(frame)}:${frame.lineNumber + 1}`;
  fn.set(key, (fn.get(key) ?? 0) + t);
  const p = where(frame);
  pkg.set(p, (pkg.get(p) ?? 0) + t);
}
const pct = (t) => `${((100 * t) / total).toFixed(1).padStart(5)}%`;
console.log(`total sampled ${(total / 1000).toFixed(0)} ms\n\nself time by package:`);
for (const [k, t] of [...pkg].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`${pct(t)}  ${k}`);
console.log('\nself time by function:');
for (const [k, t] of [...fn].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(t)}  ${k}`);

// With PROFILE_CALLERS=<function name>: who calls it (self time of the function by caller chain).
if (process.env.PROFILE_CALLERS) {
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const chains = new Map();
  for (const [id, t] of self) {
    if (byId.get(id).callFrame.functionName !== process.env.PROFILE_CALLERS) continue;
    const names = [];
    let p = parent.get(id);
    while (p !== undefined && names.length < 6) {
      const f = byId.get(p).callFrame;
      names.push(`${f.functionName || '(anon)'}@${where(f)}:${f.lineNumber + 1}`);
      p = parent.get(p);
    }
    const key = names.join(' < ');
    chains.set(key, (chains.get(key) ?? 0) + t);
  }
  console.log(`\ncallers of ${process.env.PROFILE_CALLERS}:`);
  for (const [k, t] of [...chains].sort((a, b) => b[1] - a[1]).slice(0, 10)) console.log(`${pct(t)}  ${k}`);
}

// With PROFILE_INCLUSIVE=1: inclusive time (self + callees, synchronous part) by function.
if (process.env.PROFILE_INCLUSIVE) {
  const inclusive = new Map();
  function walk(id, stack) {
    const node = byId.get(id);
    const frame = node.callFrame;
    const key = `${frame.functionName || '(anonymous)'}  ${where(frame)}:${frame.lineNumber + 1}`;
    let t = self.get(id) ?? 0;
    for (const c of node.children ?? []) t += walk(c, stack.concat(key));
    if (!stack.includes(key)) inclusive.set(key, (inclusive.get(key) ?? 0) + t);
    return t;
  }
  walk(profile.nodes[0].id, []);
  console.log('\ninclusive time by function:');
  const filter = process.env.PROFILE_INCLUSIVE === '1' ? '' : process.env.PROFILE_INCLUSIVE;
  for (const [k, t] of [...inclusive].filter(([k]) => k.includes(filter)).sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(t)}  ${k}`);
}
