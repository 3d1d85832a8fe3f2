#!/usr/bin/env node
// Instructions per request of tiergate's own work (the kernel in process, bench/kernel-in-process.mjs),
// counted by valgrind's callgrind, with the functions they are spent in. A count, not a time: the same
// code gives the same count (to a few per cent) on a busy or an idle machine, and it needs no hardware
// counters (the bench machine has none). Not part of `npm run bench`.
//
//   node bench/instructions.mjs caps [functions=25]     # GET /v1/capabilities; also: guard, page, notify
//   (notify-bytes, notify-floor: the kernel with the body as bytes, and the contract's floor; notify-fastify,
//   notify-floor-fastify, notify-floor-headers-fastify: the same through Fastify's app.inject(); caps-fastify,
//   caps-bytes-fastify, page-fastify, page-bytes-fastify: a route through Fastify against its bytes and headers;
//   send-bare-fastify, send-guard-fastify, send-floor-fastify, send-rate-limit-fastify: part 3's routes, each alone;
//   caps-koa, caps-floor-koa, notify-koa, notify-floor-koa: capabilities and notify-operator through Koa against their
//   floors, laid out as the bench server has them)
//   BENCH_CACHE_SIM=1 node bench/instructions.mjs notify-fastify   # also simulated L1 cache misses and
//                                                                  # mispredicted branches per request
//
// The mode runs twice under callgrind, with N₁ and N₂ requests after the same warm-up; the difference
// divided by N₂ − N₁ is what one request costs, start-up and warm-up cancel out. V8 compiles on the main
// thread (--no-concurrent-recompilation), because under valgrind the threads take turns and a background
// compile can finish at a different request in each run; --perf-basic-prof names the JIT's code.
// Needs valgrind (Debian's package) and `npm run build` first.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
// Requests per run (N₁, N₂) by mode: the slower a request, the fewer.
const SLOW = [5_000, 25_000];
const COUNTS = {
  caps: [20_000, 120_000],
  guard: [20_000, 120_000],
  page: [10_000, 60_000],
  ...Object.fromEntries(
    ['notify', 'notify-bytes', 'notify-floor', 'notify-fastify', 'notify-floor-fastify', 'notify-floor-headers-fastify', 'caps-fastify', 'caps-bytes-fastify', 'page-fastify', 'page-bytes-fastify', 'caps-koa', 'caps-floor-koa', 'notify-koa', 'notify-floor-koa'].map((m) => [m, SLOW]),
  ),
  // Part 3's routes through Fastify's app.inject(), one at a time.
  ...Object.fromEntries(
    ['send-bare-fastify', 'send-guard-fastify', 'send-floor-fastify', 'send-rate-limit-fastify'].map((m) => [m, [5_000, 30_000]]),
  ),
};
const [mode = 'caps', topArg = '25'] = process.argv.slice(2);
if (COUNTS[mode] === undefined) throw new Error(`unknown mode ${mode}; one of ${Object.keys(COUNTS).join(', ')}`);
const top = Number(topArg);
const CACHE_SIM = process.env.BENCH_CACHE_SIM === '1';

/** JIT code ranges of a process, from the map --perf-basic-prof wrote. */
async function jitMap(pid) {
  const file = `/tmp/perf-${pid}.map`;
  const ranges = (await readFile(file, 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [start, size, ...name] = line.split(' ');
      return { start: parseInt(start, 16), end: parseInt(start, 16) + parseInt(size, 16), name: name.join(' ') };
    })
    .sort((a, b) => a.start - b.start);
  await rm(file, { force: true });
  return (address) => {
    let lo = 0;
    let hi = ranges.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (ranges[mid].start <= address) lo = mid + 1;
      else hi = mid - 1;
    }
    const hit = ranges[hi];
    if (hit === undefined || address >= hit.end) return 'JIT code (unnamed)';
    // `JS:*name file:line` (* optimised, ^ baseline, ~ interpreted): keep the tier, shorten the path.
    return `JS ${hit.name.replace(/^JS:/, '').replace(/file:\/\/\/\S*?\/(packages|node_modules|bench)\//, '$1/')}`;
  };
}

/** Exclusive instructions by function of one run. */
async function profile(requests, dir) {
  const out = path.join(dir, `${requests}.cg`);
  const { stderr } = await run(
    'valgrind',
    ['--tool=callgrind', ...(CACHE_SIM ? ['--cache-sim=yes', '--branch-sim=yes'] : []), `--callgrind-out-file=${out}`, process.execPath, '--perf-basic-prof', '--no-concurrent-recompilation', path.join(here, 'kernel-in-process.mjs'), mode, String(requests)],
    { maxBuffer: 64 << 20 },
  );
  const pid = /^==(\d+)==/m.exec(stderr)?.[1];
  if (pid === undefined) throw new Error(`no valgrind output:\n${stderr.slice(0, 2000)}`);
  const nameOf = await jitMap(pid);
  const { stdout } = await run('callgrind_annotate', ['--threshold=100', out], { maxBuffer: 256 << 20 });
  const byFunction = new Map();
  let total = 0;
  let events = [];
  for (const line of stdout.split('\n')) {
    // A count per event (`1,234 (0.5%)`, a bare `0`, or `.` for none), then the function.
    const match = /^((?:\s*(?:[\d,]+\s+\(\s*[\d.]+%\)|0|\.)(?=\s))+)\s+(.*)$/.exec(line);
    if (match === null || !/\d/.test(match[1])) continue;
    const counts = [...match[1].matchAll(/[\d,]+\s+\(\s*[\d.]+%\)|\b0\b|\./g)].map((m) => (m[0] === '.' ? 0 : Number(m[0].split(/\s/)[0].replaceAll(',', ''))));
    const count = counts[0];
    if (match[2].includes('PROGRAM TOTALS')) {
      total = count;
      events = counts;
      continue;
    }
    const jit = /^\?\?\?:0x([0-9a-f]+) \[\?\?\?\]$/.exec(match[2]);
    const name = jit === null ? match[2].replace(/^\?\?\?:/, '').replace(/ \[\/usr\/bin\/node\]$/, '') : nameOf(parseInt(jit[1], 16));
    byFunction.set(name, (byFunction.get(name) ?? 0) + count);
  }
  return { total, events, byFunction };
}

const dir = await mkdtemp(path.join(tmpdir(), 'tiergate-instructions-'));
try {
  const [n1, n2] = COUNTS[mode];
  const a = await profile(n1, dir);
  const b = await profile(n2, dir);
  const per = (x, y) => (y - x) / (n2 - n1);
  const rows = [...new Set([...a.byFunction.keys(), ...b.byFunction.keys()])]
    .map((name) => [name, per(a.byFunction.get(name) ?? 0, b.byFunction.get(name) ?? 0)])
    .sort((x, y) => y[1] - x[1]);
  console.log(`${mode}: ${Math.round(per(a.total, b.total)).toLocaleString('en')} instructions per request (${n1.toLocaleString('en')} and ${n2.toLocaleString('en')} requests under callgrind)`);
  if (CACHE_SIM) {
    // Events in callgrind's order with --cache-sim and --branch-sim: Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw Bc Bcm Bi Bim.
    const e = (i) => Math.round(per(a.events[i] ?? 0, b.events[i] ?? 0)).toLocaleString('en');
    console.log(`  per request (simulated): L1 instruction misses ${e(3)}, L1 data misses ${e(4)} read + ${e(5)} write, mispredicted branches ${e(10)} conditional + ${e(12)} indirect, memory reads ${e(1)}, writes ${e(2)}`);
  }
  for (const [name, count] of rows.slice(0, top)) console.log(`${String(Math.round(count)).padStart(8)}  ${name.slice(0, 150)}`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
