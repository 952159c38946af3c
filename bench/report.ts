/**
 * Turns the runs into medians per server, ratios to the reference server
 * (or the server a scenario names), and Markdown tables.
 */
import { median, ratio } from './stats.js'
import type { ServerKind } from './servers.js'
import type { Figures, Metric, Scenario } from './scenarios/scenario.js'

/** One scenario measured once on one fresh server. */
export interface RunRecord {
  readonly scenario: string
  readonly kind: ServerKind
  readonly rep: number
  /** Null when the run failed. */
  readonly figures: Figures | null
  readonly error: string | null
  /** The measured interval (monotonic µs), where the scenario marked one. */
  readonly window: { readonly startUs: number, readonly endUs: number } | null
  /** File name of the server's CPU profile, when it ran under `--cpu-prof`. */
  readonly profile: string | null
}

/** A metric's value for one server over all its runs. */
export interface Cell {
  /** Median over the runs that measured it; for checks, the share of runs that passed. */
  readonly value: number
  /** Runs that measured it (checks: runs that passed or failed). */
  readonly runs: number
  /** Checks only: runs that passed. */
  readonly passes: number
  /** Outcomes only: every value seen, in run order. */
  readonly values: readonly number[]
}

/** One row of the table. */
export interface Row {
  readonly scenario: string
  readonly metric: Metric
  readonly cells: Partial<Record<ServerKind, Cell>>
}

const kindLabels: Record<ServerKind, string> = {
  'coedit-memory': 'coedit (memory)',
  'coedit-sqlite': 'coedit (SQLite)',
  'coedit-baseline': 'coedit (baseline)',
  reference: 'reference',
  'ws-relay': 'bare ws relay',
  'coedit-cluster-1': '1 coedit process',
  'coedit-cluster-2': '2 coedit processes',
  'coedit-cluster-3': '3 coedit processes'
}

const shortLabels: Record<ServerKind, string> = {
  'coedit-memory': 'coedit',
  'coedit-sqlite': 'SQLite',
  'coedit-baseline': 'baseline',
  reference: 'ref',
  'ws-relay': 'ws',
  'coedit-cluster-1': '×1',
  'coedit-cluster-2': '×2',
  'coedit-cluster-3': '×3'
}

/** Medians (and check tallies) per scenario, metric and server. */
export function summarize (scenarios: readonly Scenario[], runs: readonly RunRecord[]): Row[] {
  const rows: Row[] = []
  for (const scenario of scenarios) {
    for (const metric of scenario.metrics) {
      const cells: Partial<Record<ServerKind, Cell>> = {}
      for (const kind of scenario.kinds) {
        const values = runs
          .filter((r) => r.scenario === scenario.name && r.kind === kind && r.figures)
          .map((r) => (r.figures as Figures)[metric.key])
          .filter((v) => v !== undefined && !Number.isNaN(v))
        if (values.length === 0) continue
        const passes = values.filter((v) => v === 1).length
        cells[kind] = metric.kind === 'check'
          ? { value: passes / values.length, runs: values.length, passes, values: [] }
          : { value: median(values), runs: values.length, passes: 0, values: metric.kind === 'outcome' ? values : [] }
      }
      rows.push({ scenario: scenario.name, metric, cells })
    }
  }
  return rows
}

/** The ratio columns shown: each server other than `ratioTo`, over `ratioTo`. */
function ratioKinds (kinds: readonly ServerKind[], ratioTo: ServerKind): ServerKind[] {
  return kinds.includes(ratioTo) ? kinds.filter((k) => k !== ratioTo) : []
}

/** `kind`'s median over `ratioTo`'s, for numeric rows. */
function rowRatio (row: Row, kind: ServerKind, ratioTo: ServerKind): number {
  if (row.metric.kind !== 'number') return NaN
  return ratio(row.cells[kind]?.value ?? NaN, row.cells[ratioTo]?.value ?? NaN)
}

/** Consecutive scenarios compared against the same server share one table. */
interface TableGroup {
  readonly ratioTo: ServerKind
  readonly scenarios: Scenario[]
}

/**
 * The tables in Markdown, one per run of consecutive scenarios with the same
 * `ratioTo`: a heading row per scenario, then one row per figure. A table's
 * columns are the servers of `kinds` that one of its scenarios applies to.
 */
export function markdownTable (scenarios: readonly Scenario[], rows: readonly Row[], kinds: readonly ServerKind[]): string {
  const groups: TableGroup[] = []
  for (const scenario of scenarios) {
    const ratioTo = scenario.ratioTo ?? 'reference'
    const last = groups.at(-1)
    if (last && last.ratioTo === ratioTo) last.scenarios.push(scenario)
    else groups.push({ ratioTo, scenarios: [scenario] })
  }
  return groups.map((group) => groupTable(group, rows, kinds)).join('\n\n')
}

function groupTable ({ ratioTo, scenarios }: TableGroup, rows: readonly Row[], allKinds: readonly ServerKind[]): string {
  const kinds = allKinds.filter((kind) => scenarios.some((scenario) => scenario.kinds.includes(kind)))
  const ratios = ratioKinds(kinds, ratioTo)
  const header = ['figure', ...kinds.map((k) => kindLabels[k]), ...ratios.map((k) => `${shortLabels[k]}/${shortLabels[ratioTo]}`)]
  const lines = [`| ${header.join(' | ')} |`, `|${header.map((_, i) => i === 0 ? ' --- ' : ' ---: ').join('|')}|`]
  for (const scenario of scenarios) {
    lines.push(`| **${scenario.title}** |${' |'.repeat(header.length - 1)}`)
    for (const row of rows.filter((r) => r.scenario === scenario.name)) {
      const cells = kinds.map((kind) => formatCell(row, kind, scenario.kinds.includes(kind)))
      const ratioCells = ratios.map((kind) => formatRatio(rowRatio(row, kind, ratioTo)))
      lines.push(`| ${row.metric.label} | ${[...cells, ...ratioCells].join(' | ')} |`)
    }
  }
  return lines.join('\n')
}

function formatCell (row: Row, kind: ServerKind, applies: boolean): string {
  const cell = row.cells[kind]
  if (!cell) return applies ? '–' : 'n/a'
  if (row.metric.kind === 'check') return `${cell.passes}/${cell.runs}`
  if (row.metric.kind === 'outcome') return formatOutcome(cell.values, row.metric.labels ?? {})
  return formatNumber(cell.value)
}

/** Each value seen, by name, with its count where the runs did not agree: `accepted`, `4413 ×2, accepted ×1`. */
function formatOutcome (values: readonly number[], labels: Readonly<Record<number, string>>): string {
  const counts = new Map<number, number>()
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1)
  const name = (value: number): string => labels[value] ?? String(value)
  if (counts.size === 1) return name(values[0])
  return [...counts].map(([value, count]) => `${name(value)} ×${count}`).join(', ')
}

/** A figure with as many decimals as its size deserves. */
function formatNumber (value: number): string {
  if (!Number.isFinite(value)) return '–'
  const abs = Math.abs(value)
  if (abs >= 1000 || Number.isInteger(value)) return Math.round(value).toLocaleString('en-US')
  if (abs >= 100) return value.toFixed(0)
  if (abs >= 10) return value.toFixed(1)
  if (abs >= 1) return value.toFixed(2)
  return value.toFixed(3)
}

function formatRatio (value: number): string {
  return Number.isFinite(value) ? `${value.toFixed(2)}×` : ''
}
