/** A seeded pseudo-random generator (mulberry32): the same seed gives the same sequence. */
export interface Random {
  /** A float in [0, 1). */
  next (): number
  /** An integer in [0, n). */
  int (n: number): number
  /** A string of `length` lowercase letters. */
  word (length: number): string
}

/** Creates a generator for `seed`; tests print the seed so a failure can be replayed. */
export function seededRandom (seed: number): Random {
  let state = seed >>> 0
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (n: number): number => Math.floor(next() * n)
  return {
    next,
    int,
    word: (length) => Array.from({ length }, () => String.fromCharCode(97 + int(26))).join('')
  }
}
