/**
 * Order statistics over samples, and the ratios printed beside them.
 */

/**
 * The `p`-th percentile (0–100) of `samples` by the nearest-rank method:
 * the smallest sample with at least p% of samples at or below it.
 * NaN for no samples.
 */
export function percentile (samples: ArrayLike<number>, p: number): number {
  if (samples.length === 0) return NaN
  const sorted = Float64Array.from(samples).sort()
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]
}

/** The middle value (the mean of the two middle values for an even count); NaN for none. Ignores NaN samples. */
export function median (samples: readonly number[]): number {
  const sorted = samples.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b)
  if (sorted.length === 0) return NaN
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/** `value / reference`, or NaN when either is missing or the reference is zero. */
export function ratio (value: number, reference: number): number {
  if (!Number.isFinite(value) || !Number.isFinite(reference) || reference === 0) return NaN
  return value / reference
}
