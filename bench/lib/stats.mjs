// Small statistics and timing helpers shared by the parts.

/** Median of a list of numbers (NaN for an empty list). */
export function median(values) {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Sink for results of timed loops, so the JIT cannot drop the work being timed. */
export const sink = { value: 0 };

/**
 * Nanoseconds per call of a synchronous `fn(i)`: runs it in batches until
 * `minMs` have passed and returns the time per call of the whole run.
 */
export function nsPerOp(fn, minMs = 200) {
  let calls = 0;
  let batch = 256;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(Math.round(minMs * 1e6));
  let now = start;
  while (now < deadline) {
    let acc = 0;
    for (let i = 0; i < batch; i += 1) acc += fn(calls + i) ? 1 : 0;
    sink.value += acc;
    calls += batch;
    now = process.hrtime.bigint();
    if (batch < 65_536) batch *= 2;
  }
  return Number(now - start) / calls;
}

/** Nanoseconds per call of an async `fn(i)`, awaited one at a time for `minMs`. */
export async function nsPerAsyncOp(fn, minMs = 200) {
  let calls = 0;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(Math.round(minMs * 1e6));
  let now = start;
  while (now < deadline) {
    for (let i = 0; i < 64; i += 1) {
      const result = await fn(calls);
      if (result) sink.value += 1;
      calls += 1;
    }
    now = process.hrtime.bigint();
  }
  return Number(now - start) / calls;
}

/** Milliseconds one `await fn()` takes (a single sample). */
export async function msOnce(fn) {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/** Formats a number with `digits` significant decimals, or `—` when it is not a number. */
export function fmt(value, digits = 2) {
  if (value === undefined || value === null || !Number.isFinite(value)) return '—';
  return value.toFixed(digits);
}

/**
 * A ratio measured against a `≥ threshold` target, to two decimals — three when two would round a
 * miss up to the threshold itself (0.2995 against 0.30 reads 0.300, not a failing "0.30").
 */
export function fmtRatio(value, threshold) {
  const short = fmt(value, 2);
  // Cut, not rounded: a miss never reads as the threshold.
  return value < threshold && short === fmt(threshold, 2) ? fmt(Math.floor(value * 1000) / 1000, 3) : short;
}

/** Formats an integer with thousands separators. */
export function int(value) {
  if (!Number.isFinite(value)) return '—';
  return Math.round(value).toLocaleString('en-US');
}
