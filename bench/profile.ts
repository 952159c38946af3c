/**
 * Reads a V8 CPU profile (`node --cpu-prof`) and ranks functions by self
 * time: the time samples landed in the function itself, not in its callees.
 *
 * V8 timestamps samples by the wall clock: while the process waits for a
 * core, the time until the next sample is charged to whatever it was
 * running. On a busy machine the busy time of a profile therefore exceeds
 * the CPU time the kernel counted; compare the two before trusting a ranking.
 */
import { readFileSync } from 'node:fs'

/** One function's self time in a profile. */
export interface SelfTime {
  /** `name (file:line)`, with the file relative to the repository where possible. */
  readonly where: string
  readonly selfMs: number
  /** Share of the busy time (everything but `(idle)`) in the window, in percent. */
  readonly percent: number
}

/** A ranking of functions by self time. */
export interface SelfTimeRanking {
  /** Sampled time not spent idle, in the window, in ms. */
  readonly busyMs: number
  readonly top: SelfTime[]
}

/** Which samples and functions `topSelfTime` ranks. */
export interface SelfTimeOptions {
  /** Only functions whose `where` passes; percentages stay relative to all busy time. Default: all. */
  readonly only?: (where: string) => boolean
  /**
   * Only samples taken in this interval, in µs of the monotonic clock (what
   * `process.hrtime` and V8's profile timestamps both count). Default: all.
   */
  readonly window?: { readonly startUs: number, readonly endUs: number }
}

interface ProfileNode {
  readonly id: number
  readonly callFrame: { readonly functionName: string, readonly url: string, readonly lineNumber: number }
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[]
  readonly startTime: number
  readonly samples: readonly number[]
  readonly timeDeltas: readonly number[]
}

/** The `top` functions by self time in the profile at `path`; `root` is stripped from file names. */
export function topSelfTime (path: string, top: number, root: string, options: SelfTimeOptions = {}): SelfTimeRanking {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile
  const { only = () => true, window = { startUs: -Infinity, endUs: Infinity } } = options
  const nodeKey = new Map<number, string>()
  for (const { id, callFrame } of profile.nodes) {
    const file = callFrame.url.replace(/^file:\/\//, '').replace(`${root}/`, '')
    const name = callFrame.functionName || '(anonymous)'
    nodeKey.set(id, file ? `${name} (${file}:${callFrame.lineNumber + 1})` : name)
  }
  const selfUs = new Map<string, number>()
  let at = profile.startTime
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0
    at += delta
    if (at < window.startUs || at > window.endUs) return
    const key = nodeKey.get(id) ?? '(unknown)'
    selfUs.set(key, (selfUs.get(key) ?? 0) + delta)
  })
  const busyUs = [...selfUs].reduce((sum, [key, us]) => key === '(idle)' ? sum : sum + us, 0)
  const ranked = [...selfUs]
    .filter(([key]) => key !== '(idle)' && only(key))
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([where, us]) => ({ where, selfMs: us / 1000, percent: busyUs > 0 ? us / busyUs * 100 : 0 }))
  return { busyMs: busyUs / 1000, top: ranked }
}
