// Part 5: RSS of memoryStore() per 100k notifications, and after they expire.
import { runWorker } from '../lib/worker.mjs';
import { fmt } from '../lib/stats.mjs';

const HEAP_SLACK_MB = 5;

export async function runMemory({ quick }) {
  const count = 100_000;
  const cycles = quick ? 2 : 3;
  const result = await runWorker('memory-worker.mjs', { nodeArgs: ['--expose-gc'], env: { BENCH_MEMORY: JSON.stringify({ count, cycles }) } });
  const { baseline } = result;
  const rows = [['baseline (after warm-up, before the run)', fmt(baseline.rssMB, 1), fmt(baseline.heapMB, 1), '', '']];
  result.cycles.forEach((c, i) => {
    rows.push([`cycle ${i + 1}: ${count.toLocaleString('en-US')} notifications stored`, fmt(c.filled.rssMB, 1), fmt(c.filled.heapMB, 1), fmt(c.filled.rssMB - baseline.rssMB, 1), fmt(c.filled.heapMB - baseline.heapMB, 1)]);
    rows.push([`cycle ${i + 1}: after expiry and purge (${c.left.notifications} left)`, fmt(c.expired.rssMB, 1), fmt(c.expired.heapMB, 1), fmt(c.expired.rssMB - baseline.rssMB, 1), fmt(c.expired.heapMB - baseline.heapMB, 1)]);
  });
  const first = result.cycles[0];
  const last = result.cycles.at(-1);
  const perHundredK = ((first.filled.rssMB - baseline.rssMB) * 100_000) / count;
  const heapBack = last.expired.heapMB - baseline.heapMB;
  const rssGrowth = last.expired.rssMB - first.expired.rssMB;
  const empty = result.cycles.every((c) => c.left.notifications === 0 && c.left.approvals === 0 && c.left.purgeIndex === 0);
  return {
    title: '5. Memory (memoryStore)',
    tables: [
      {
        columns: ['state', 'RSS MB', 'heap used MB', 'RSS − baseline', 'heap − baseline'],
        rows,
        caption: `Each cycle stores ${count.toLocaleString('en-US')} notifications through notifyOperator (context encrypted, link signed), moves the injected clock 40 days on, and runs the sweep until nothing is left to purge; measured after forced GC.`,
      },
    ],
    targets: [
      {
        part: 'memory',
        name: 'no RSS growth after records expire',
        measured: `heap ${heapBack >= 0 ? '+' : ''}${fmt(heapBack, 1)} MB vs baseline; RSS after expiry, last vs first cycle ${rssGrowth >= 0 ? '+' : ''}${fmt(rssGrowth, 1)} MB`,
        required: `heap within +${HEAP_SLACK_MB} MB of baseline, RSS not growing from cycle to cycle (≤ +5%), nothing left`,
        pass: empty && heapBack <= HEAP_SLACK_MB && last.expired.rssMB <= first.expired.rssMB * 1.05,
        note: `RSS per 100k notifications: ${fmt(perHundredK, 0)} MB`,
      },
    ],
    notes: [`RSS per 100k stored notifications: ${fmt(perHundredK, 0)} MB (heap ${fmt(((first.filled.heapMB - baseline.heapMB) * 100_000) / count, 0)} MB).`],
  };
}
