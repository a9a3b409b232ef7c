/** Small numeric helpers shared by the load client and the report. */

/** The q-quantile (0..1) of an already sorted sample, nearest-rank; NaN when empty. */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const rank = Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1));
  return sorted[rank] ?? Number.NaN;
}

/** Median of a list of numbers, ignoring NaN; NaN when nothing is left. */
export function median(values: readonly number[]): number {
  const xs = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  const n = xs.length;
  if (n === 0) return Number.NaN;
  const mid = n >> 1;
  return n % 2 === 1 ? (xs[mid] ?? Number.NaN) : ((xs[mid - 1] ?? 0) + (xs[mid] ?? 0)) / 2;
}

/** Latency summary in milliseconds. */
export interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Summarises `count` microsecond samples from the front of `us` (sorts that prefix in place). */
export function summarizeMicros(us: Float64Array, count: number): LatencySummary {
  const s = us.subarray(0, count).sort();
  const ms = (v: number): number => Math.round(v) / 1000;
  return {
    p50: ms(quantileSorted(s, 0.5)),
    p90: ms(quantileSorted(s, 0.9)),
    p99: ms(quantileSorted(s, 0.99)),
    max: ms(count === 0 ? Number.NaN : (s[count - 1] ?? Number.NaN)),
  };
}
