/** A latency distribution in ms; null fields when there were no samples. */
export interface Summary {
  count: number;
  p50: number | null;
  p90: number | null;
  p99: number | null;
  max: number | null;
  mean: number | null;
}

/** The q-quantile (0..1) of a sorted sample, nearest rank; undefined when empty. */
export function quantile(sorted: ArrayLike<number>, q: number): number | undefined {
  const n = sorted.length;
  if (n === 0) return undefined;
  return sorted[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))];
}

/** p50/p90/p99/max/mean of a sample (not modified), rounded to 0.01 ms. */
export function summarize(values: readonly number[]): Summary {
  const sorted = Float64Array.from(values).sort();
  const r = (v: number | undefined): number | null => (v === undefined ? null : Math.round(v * 100) / 100);
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    count: sorted.length,
    p50: r(quantile(sorted, 0.5)),
    p90: r(quantile(sorted, 0.9)),
    p99: r(quantile(sorted, 0.99)),
    max: r(sorted.length === 0 ? undefined : sorted[sorted.length - 1]),
    mean: sorted.length === 0 ? null : r(sum / sorted.length),
  };
}
