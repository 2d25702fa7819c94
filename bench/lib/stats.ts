// Summaries of repeated measurements: the median with its spread, and percentiles.

export interface Summary {
  median: number;
  min: number;
  max: number;
  n: number;
  /** Every round's value, in the order measured. */
  rounds: number[];
}

/** Nearest-rank percentile (p in 0..100) of the values; NaN when there are none. */
export function percentile(values: readonly number[], p: number): number {
  if (!values.length) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const rank = Math.min(s.length, Math.max(1, Math.ceil((p / 100) * s.length)));
  return s[rank - 1]!;
}

/** Median (the mean of the two middle values for an even count), min and max. */
export function summarize(values: readonly number[], digits = 3): Summary {
  const s = [...values].sort((a, b) => a - b);
  const n = s.length;
  const mid = n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
  const r = (v: number) => +v.toFixed(digits);
  return { median: n ? r(mid) : NaN, min: n ? r(s[0]!) : NaN, max: n ? r(s[n - 1]!) : NaN, n, rounds: values.map(r) };
}
