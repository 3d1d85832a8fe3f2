#!/usr/bin/env node
// `npm run bench`: runs the benchmarks (not tests: nothing here runs in CI),
// prints markdown tables and target verdicts, and writes bench/RESULTS.md.
//
//   BENCH_QUICK=1                 shorter runs (scale test up to 100k), ~5 minutes
//   BENCH_ONLY=core,http,guard,stores,memory   run only these parts
//   BENCH_WRITE=1                 also write RESULTS.md for a quick or partial run
//   BENCH_STRICT=1                exit 1 when a target is missed
//   BENCH_CPU_PROF=<dir>          servers under test write V8 CPU profiles there
//   DATABASE_URL, REDIS_URL       services for part 4 (defaults: the local test services;
//                                 the bench never starts one, and skips a store it cannot reach)
//
// Servers under test run as child processes; autocannon runs in this process.
// Everything started here is stopped here; PostgreSQL schemas and Redis keys
// created for the run are removed at the end of each part.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCore } from './parts/core.mjs';
import { runGuard } from './parts/guard.mjs';
import { runHttp } from './parts/http.mjs';
import { runMemory } from './parts/memory.mjs';
import { runStores } from './parts/stores.mjs';
import { undoAll } from './lib/cleanup.mjs';
import { partMarkdown, targetsMarkdown } from './lib/report.mjs';
import { probePostgres, probeRedis } from './lib/services.mjs';
import { systemInfo } from './lib/system.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const ALL = ['core', 'http', 'guard', 'stores', 'memory'];
const quick = process.env.BENCH_QUICK === '1';
const only = (process.env.BENCH_ONLY ?? '')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);
const unknown = only.filter((p) => !ALL.includes(p));
if (unknown.length > 0) {
  console.error(`BENCH_ONLY: unknown part(s) ${unknown.join(', ')}; choose from ${ALL.join(', ')}`);
  process.exit(2);
}
const parts = only.length === 0 ? ALL : ALL.filter((p) => only.includes(p));
const partial = parts.length !== ALL.length;
const load = quick ? { warmupSeconds: 1, seconds: 2, reps: 3 } : { warmupSeconds: 2, seconds: 3, reps: 5 };
const ALL_FRAMEWORKS = ['fastify', 'koa', 'express'];
const frameworks = (process.env.BENCH_FRAMEWORKS ?? ALL_FRAMEWORKS.join(','))
  .split(',')
  .map((s) => s.trim())
  .filter((s) => ALL_FRAMEWORKS.includes(s));

const started = new Date();
const loadBefore = os.loadavg();
const system = systemInfo();
const services = parts.includes('stores') ? { postgres: await probePostgres(), redis: await probeRedis() } : undefined;

function log(message) {
  process.stderr.write(`[bench ${((Date.now() - started.getTime()) / 1000).toFixed(0).padStart(4)} s] ${message}\n`);
}

// Ctrl-C (or a kill): the servers under test get the signal too; remove the schemas and key prefixes left.
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    log(`${signal}: removing what this run created…`);
    undoAll().finally(() => process.exit(130));
  });
}

const runners = {
  core: () => runCore({ quick }),
  http: () => runHttp({ load, frameworks }),
  guard: () => runGuard({ load, frameworks }),
  stores: () => runStores({ load, quick, services }),
  memory: () => runMemory({ quick }),
};

const results = [];
for (const part of parts) {
  log(`${part}…`);
  try {
    results.push(await runners[part]());
  } catch (err) {
    log(`${part} failed: ${err instanceof Error ? err.stack : String(err)}`);
    results.push({ title: part, skipped: `the part failed: ${err instanceof Error ? err.message : String(err)}`, targets: [] });
  }
}
const finished = new Date();
const loadAfter = os.loadavg();
const targets = results.flatMap((r) => r.targets ?? []);
const failed = targets.filter((t) => t.pass === false);

const env = [quick ? 'BENCH_QUICK=1' : '', partial ? `BENCH_ONLY=${parts.join(',')}` : ''].filter(Boolean).join(' ');
const header = [
  '# Benchmark results',
  '',
  `Written by \`npm run bench\` (bench/run.mjs); do not edit by hand — the notes at the end come from \`bench/NOTES.md\`.`,
  '',
  `- Date: ${started.toISOString()} (took ${((finished - started) / 60_000).toFixed(1)} min)`,
  `- Command: \`${env ? `${env} ` : ''}npm run bench\``,
  `- Machine: ${system.cpu}, ${system.cores} cores, ${system.memoryGiB.toFixed(1)} GiB memory`,
  `- OS: ${system.os}; Node ${system.node}`,
  `- Load average (1/5/15 min) at start ${loadBefore.map((l) => l.toFixed(2)).join(' / ')}, at end ${loadAfter.map((l) => l.toFixed(2)).join(' / ')} (the bench itself keeps about 2 busy; more is other work on the machine)`,
  services === undefined
    ? undefined
    : `- Services: PostgreSQL ${services.postgres.ok ? services.postgres.version : `not reachable (${services.postgres.reason})`}; Redis ${services.redis.ok ? services.redis.version : `not reachable (${services.redis.reason})`}`,
  `- Packages: ${Object.entries(system.packages)
    .map(([name, version]) => `${name} ${version}`)
    .join(', ')}`,
  `- Method: everything is measured side by side in one run and compared as a ratio. HTTP: autocannon (library) in the runner, 50 connections over loopback, the server in a child process; per route a ${load.warmupSeconds} s warm-up, then ${load.reps} rounds, each running every route of the same server for ${load.seconds} s, back to back; medians over the rounds, and each ratio the median of its per-round ratios.`,
  '',
].filter((line) => line !== undefined);

const body = [
  '## Targets',
  '',
  targetsMarkdown(targets),
  `${targets.length - failed.length} of ${targets.length} targets hold${failed.length > 0 ? `; missed: ${failed.map((t) => t.name).join('; ')}` : ''}.`,
  '',
  ...results.map(partMarkdown),
];
const output = [...header, ...body].join('\n');
process.stdout.write(`${output}\n`);

const notesFile = path.join(here, 'NOTES.md');
const notes = fs.existsSync(notesFile) ? fs.readFileSync(notesFile, 'utf8') : '';
if ((!quick && !partial) || process.env.BENCH_WRITE === '1') {
  fs.writeFileSync(path.join(here, 'RESULTS.md'), `${output}\n${notes ? `\n${notes.trim()}\n` : ''}`);
  log('wrote bench/RESULTS.md');
} else {
  log('quick or partial run: bench/RESULTS.md left as it was (BENCH_WRITE=1 writes it)');
}
if (process.env.BENCH_STRICT === '1' && failed.length > 0) process.exitCode = 1;
