/**
 * What every scenario is: a named measurement run once per server process,
 * returning named figures that the report lines up across servers.
 */
import type { ClientPool } from '../clients.js'
import type { CpuMeter } from '../machine.js'
import type { ServerKind, ServerProcess } from '../servers.js'

/** One figure a scenario reports. */
export interface Metric {
  /** Key in `Figures` and in the JSON output. */
  readonly key: string
  /** Row label in the table, with its unit. */
  readonly label: string
  /**
   * 'number': the table shows the median over repetitions and ratios to the reference.
   * 'context': a median without ratios (what else ran: the load generator, other processes).
   * 'check': 1 for pass, 0 for fail; the table shows passes/runs.
   * 'outcome': a code (a close code, what became of a process); the table
   * shows each value seen, named by `labels` where it has a name, with its count.
   */
  readonly kind: 'number' | 'context' | 'check' | 'outcome'
  /** Names of an outcome's values. */
  readonly labels?: Readonly<Record<number, string>>
}

/** A scenario's figures from one run, by metric key; NaN where not measured. */
export type Figures = Record<string, number>

/** What a scenario run may use besides its server. */
export interface RunContext {
  readonly pool: ClientPool
  readonly meter: CpuMeter
  /** Writes a progress line to stderr. */
  readonly log: (line: string) => void
  /** Names the measured interval (monotonic µs, see `nowUs`), so that CPU profiles can be cut to it. */
  readonly markWindow: (startUs: number, endUs: number) => void
}

/** A benchmark scenario. */
export interface Scenario {
  /** Short name used on the command line (`--scenarios`). */
  readonly name: string
  /** Heading in the report, with the load in words. */
  readonly title: string
  /** The servers it applies to. */
  readonly kinds: readonly ServerKind[]
  /** The server the table's ratios are taken against; the reference server when absent. */
  readonly ratioTo?: ServerKind
  /** Its figures, in table order. */
  readonly metrics: readonly Metric[]
  /** Work done once before the first run (such as replaying a trace), untimed. */
  prepare? (log: (line: string) => void): void
  /** Measures one fresh server. Leaves no peer connected. */
  run (server: ServerProcess, context: RunContext): Promise<Figures>
}

/** Resolves after `ms`. Used to let a server settle between phases, never to wait for a result. */
export function pause (ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Bytes to MiB. */
export function mib (bytes: number): number {
  return bytes / (1024 * 1024)
}
