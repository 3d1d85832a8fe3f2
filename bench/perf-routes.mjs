#!/usr/bin/env node
// Where a route's server CPU goes, by symbol, against another route of the same server: Linux `perf`
// samples the server's main thread (cpu-clock, 2 kHz) while autocannon loads one route at a time, in
// rounds alternating the routes; each symbol's sampled time is divided by the requests answered. JIT
// code is named through V8's perf map (the server runs with --perf-basic-prof). Prints, per route, the
// sampled µs per request of the symbols that differ most between the last route and the first (the
// mean over the rounds). Not part of `npm run bench`; how fix 41 and the notes of 1 December were found.
//   node bench/perf-routes.mjs fastify 'contract floor;POST /v1/notify-operator' [seconds=4] [rounds=2] [rows=30]
//   BENCH_STORE=redis node bench/perf-routes.mjs fastify 'contract floor;POST /v1/notify-operator'
// Route names are part 2's (bench/parts/http.mjs). BENCH_STORE: memory (default), redis (REDIS_URL,
// database BENCH_REDIS_DB, a fresh key prefix) or postgres (DATABASE_URL, a fresh schema); removed
// afterwards. Needs `perf` (Debian's linux-perf) and permission to sample (root, or
// kernel.perf_event_paranoid ≤ 1).
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { appRoutes, pickRoutes } from './parts/http.mjs';
import { placeFor } from './parts/stores.mjs';
import { loadOnce } from './lib/load.mjs';
import { startServer } from './lib/server-process.mjs';
import { fmt } from './lib/stats.mjs';

const run = promisify(execFile);
const [framework = 'fastify', names = 'contract floor;POST /v1/notify-operator', seconds = '4', rounds = '2', rows = '30'] = process.argv.slice(2);

try {
  await run('perf', ['--version']);
} catch {
  console.error('perf-routes: needs Linux perf on the PATH (Debian: apt-get install linux-perf)');
  process.exit(2);
}

/**
 * A symbol's name without what changes between runs: JIT code's source position, and the directory of
 * the file it came from (`JS:*notifyInternal file:///…/core/dist/index.js:3018:32` → `JS:*notifyInternal
 * core/dist/index.js`).
 */
function symbolName(sym, dso) {
  if (sym === '' || sym === '[unknown]') return `[unknown] (${path.basename(dso)})`;
  return sym.replace(/:\d+:\d+$/, '').replace(/(?:file:\/\/)?\/\S*\/((?:[^/\s]+\/){2}[^/\s]+)$/, '$1');
}

/** Sampled µs per request by symbol in one `perf record` file. */
async function bySymbol(file, requests) {
  const { stdout } = await run('perf', ['script', '-i', file, '-F', 'period,ip,sym,dso'], { maxBuffer: 1 << 30 });
  const totals = new Map();
  for (const line of stdout.split('\n')) {
    // "<period> <ip> <symbol…> (<dso>)"
    const match = /^\s*(\d+)\s+[0-9a-f]+\s+(.*?)\s*\(([^()]*)\)\s*$/.exec(line);
    if (match === null) continue;
    const name = symbolName(match[2].replace(/\+0x[0-9a-f]+$/, ''), match[3]);
    totals.set(name, (totals.get(name) ?? 0) + Number(match[1]));
  }
  const perRequest = new Map();
  for (const [name, ns] of totals) perRequest.set(name, ns / 1000 / requests);
  return perRequest;
}

const kind = process.env.BENCH_STORE ?? 'memory';
if (!['memory', 'redis', 'postgres'].includes(kind)) throw new Error(`BENCH_STORE must be memory, redis or postgres, not ${kind}`);
const store = placeFor(kind, { redis: { emptyDb: false } });
const dir = await mkdtemp(path.join(os.tmpdir(), 'tiergate-perf-'));
const server = await startServer(
  { framework, mode: 'app', store: store.spec, pages: store.spec.kind === 'memory' ? 64 : 0 },
  // V8 writes a log beside the perf map while it names code: into the temporary directory, not the caller's.
  { execArgv: ['--perf-basic-prof', '--no-logfile-per-isolate', `--logfile=${path.join(dir, 'v8.log')}`] },
);
try {
  const chosen = pickRoutes(appRoutes(server), names);
  // Warm-up: the JIT has compiled every route before the first sample.
  for (const [, route] of chosen) await loadOnce(server, route, { seconds: 2 });
  const samples = new Map(chosen.map(([name]) => [name, []]));
  for (let round = 0; round < Number(rounds); round++) {
    for (const [i, [name, route]] of chosen.entries()) {
      const file = path.join(dir, `${round}-${i}.data`);
      const perf = spawn('perf', ['record', '-q', '-e', 'cpu-clock', '-F', '2000', '-t', String(server.pid), '-o', file], { stdio: ['ignore', 'ignore', 'pipe'] });
      let perfErrors = '';
      perf.stderr.on('data', (chunk) => (perfErrors += chunk));
      const exited = new Promise((resolve) => perf.once('exit', resolve));
      await new Promise((resolve) => setTimeout(resolve, 300)); // perf attached
      if (perf.exitCode !== null) throw new Error(`perf record exited at once (${perf.exitCode}): ${perfErrors.trim()}`);
      const m = await loadOnce(server, route, { seconds: Number(seconds) });
      perf.kill('SIGINT');
      await exited;
      samples.get(name).push({ m, symbols: await bySymbol(file, m.requests) });
    }
  }
  // Mean over the rounds, per route.
  const means = chosen.map(([name]) => {
    const runs = samples.get(name);
    const mean = new Map();
    for (const { symbols } of runs) for (const [sym, us] of symbols) mean.set(sym, (mean.get(sym) ?? 0) + us / runs.length);
    const cpu = runs.reduce((sum, { m }) => sum + m.cpuPerRequestUs, 0) / runs.length;
    const rps = runs.reduce((sum, { m }) => sum + m.rps, 0) / runs.length;
    return { name, mean, cpu, rps };
  });
  const first = means[0].mean;
  const last = means[means.length - 1].mean;
  const symbols = [...new Set(means.flatMap(({ mean }) => [...mean.keys()]))];
  const diff = (sym) => (last.get(sym) ?? 0) - (first.get(sym) ?? 0);
  symbols.sort((a, b) => Math.abs(diff(b)) - Math.abs(diff(a)));
  const total = (mean) => [...mean.values()].reduce((a, b) => a + b, 0);
  console.log(`${framework}, ${store.spec.kind} store, ${rounds} rounds of ${seconds} s per route; sampled µs per request of the server's main thread\n`);
  console.log(`| symbol | ${means.map(({ name }) => name).join(' | ')} | last − first |`);
  console.log(`|---|${means.map(() => '--:|').join('')}--:|`);
  console.log(`| **req/s** | ${means.map(({ rps }) => fmt(rps, 0)).join(' | ')} | |`);
  console.log(`| **server CPU (all threads)** | ${means.map(({ cpu }) => fmt(cpu, 1)).join(' | ')} | ${fmt(means[means.length - 1].cpu - means[0].cpu, 1)} |`);
  console.log(`| **sampled, main thread** | ${means.map(({ mean }) => fmt(total(mean), 1)).join(' | ')} | ${fmt(total(last) - total(first), 1)} |`);
  for (const sym of symbols.slice(0, Number(rows))) {
    console.log(`| \`${sym.replaceAll('|', '\\|').replaceAll('`', "'")}\` | ${means.map(({ mean }) => fmt(mean.get(sym) ?? 0, 2)).join(' | ')} | ${fmt(diff(sym), 2)} |`);
  }
} finally {
  await server.close();
  await store.cleanup();
  await rm(dir, { recursive: true, force: true });
  await rm(path.join(os.tmpdir(), `perf-${server.pid}.map`), { force: true }); // V8's perf map of the server
}
