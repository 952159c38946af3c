/**
 * How long the page waits before connecting again after losing the relay:
 * exponential backoff with "equal jitter". When a relay process dies, every
 * page it served loses its connection at the same instant; without jitter
 * they would all come back at the same instants too, and hit whichever
 * process takes them over all at once, again and again. Only a person's
 * own signals (the browser back online, the page shown again) skip the
 * wait: those do not come to every page at once.
 */

/**
 * How long a page must have been hidden for its return to be worth an
 * attempt at once, whatever the wait: long enough that the network likely
 * changed meanwhile (a laptop lid, a phone in a pocket), rather than a
 * glance at another tab.
 */
export const longHiddenMs = 30_000

/** The bounds of the backoff. */
export interface Backoff {
  /** Upper end of the wait before the first attempt, in milliseconds. */
  readonly initialDelayMs: number
  /** No wait is longer than this, in milliseconds. */
  readonly maxDelayMs: number
}

/** The editor's backoff: the first wait is at most 0.5 s, no wait exceeds 30 s. */
export const defaultBackoff: Backoff = { initialDelayMs: 500, maxDelayMs: 30_000 }

/**
 * Upper end of the wait before attempt `attempt` (counted from 0 since the
 * last connection that synced): `min(maxDelayMs, initialDelayMs * 2^attempt)`.
 */
export function backoffCeilingMs (attempt: number, backoff: Backoff = defaultBackoff): number {
  return Math.min(backoff.maxDelayMs, backoff.initialDelayMs * 2 ** attempt)
}

/**
 * The wait before attempt `attempt`, in whole milliseconds: uniformly drawn
 * from [ceiling/2, ceiling] with `random` (a source of floats in [0, 1),
 * such as `Math.random`, or a seeded generator in tests). Half the ceiling
 * is guaranteed, so the waits still grow; the other half is spread.
 */
export function jitteredDelayMs (attempt: number, random: () => number, backoff: Backoff = defaultBackoff): number {
  const ceiling = backoffCeilingMs(attempt, backoff)
  return Math.round(ceiling / 2 + random() * (ceiling / 2))
}
