/**
 * The editor's wait before reconnecting: exponential, capped, and spread
 * over the upper half of each step so that pages that lost the same relay
 * do not come back all at once.
 */
import { describe, expect, it } from 'vitest'
import { backoffCeilingMs, defaultBackoff, jitteredDelayMs } from '../../editor/collab/backoff.js'
import { seededRandom } from '../helpers/random.js'

const seed = 20261201

describe('reconnect backoff', () => {
  it('doubles its ceiling from 0.5 s with each attempt, up to 30 s', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7, 20, 2000].map((attempt) => backoffCeilingMs(attempt))).toEqual(
      [500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000, 30_000]
    )
    expect(backoffCeilingMs(3, { initialDelayMs: 100, maxDelayMs: 1000 })).toBe(800)
  })

  it('waits between half the ceiling and the ceiling, in whole milliseconds', () => {
    const random = seededRandom(seed)
    for (let attempt = 0; attempt < 12; attempt++) {
      const ceiling = backoffCeilingMs(attempt)
      for (let i = 0; i < 200; i++) {
        const delayMs = jitteredDelayMs(attempt, random.next)
        expect(Number.isInteger(delayMs), `attempt ${attempt}: ${delayMs}`).toBe(true)
        expect(delayMs, `attempt ${attempt}`).toBeGreaterThanOrEqual(ceiling / 2)
        expect(delayMs, `attempt ${attempt}`).toBeLessThanOrEqual(ceiling)
      }
    }
    // The ends of the random source's range map to the ends of the window.
    expect(jitteredDelayMs(2, () => 0)).toBe(1000)
    expect(jitteredDelayMs(2, () => 0.999_999_9)).toBe(2000)
  })

  it('spreads a crowd of pages that lost the relay together across the whole window', () => {
    const random = seededRandom(seed)
    const pages = 1000
    const attempt = 3
    const ceiling = backoffCeilingMs(attempt)
    const delays = Array.from({ length: pages }, () => jitteredDelayMs(attempt, random.next))
    // Ten equal slices of [ceiling/2, ceiling]: each gets some of the pages, none most of them.
    const slices = Array<number>(10).fill(0)
    for (const delayMs of delays) slices[Math.min(9, Math.floor((delayMs - ceiling / 2) / (ceiling / 20)))]!++
    for (const count of slices) {
      expect(count).toBeGreaterThan(pages / 20)
      expect(count).toBeLessThan(pages / 5)
    }
    expect(new Set(delays).size).toBeGreaterThan(pages / 2)
  })

  it('gives the same waits for the same seed', () => {
    const waits = (): number[] => {
      const random = seededRandom(seed)
      return Array.from({ length: 10 }, (_, attempt) => jitteredDelayMs(attempt, random.next, defaultBackoff))
    }
    expect(waits()).toEqual(waits())
  })
})
