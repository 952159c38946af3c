/**
 * Every setting of the benchmark with its default, and the command line
 * (flags, each also read from a `BENCH_*` environment variable) that changes
 * them. `--quick` shrinks every scenario to a smoke run of about a minute.
 */
import { parseArgs } from 'node:util'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { serverKinds, type ServerKind } from './servers.js'
import type { EditLoadSettings } from './scenarios/edit-load.js'
import type { ColdLoadSettings } from './scenarios/cold-load.js'
import type { ScaleSettings } from './scenarios/scale.js'
import { hostileClasses, type HostileSettings } from './scenarios/hostile.js'

/** Scenario names, in the order they run. `hostile` is one scenario per class of hostile message. */
export const scenarioNames = ['fanout', 'many-rooms', 'cold-load', 'scale', 'hostile', 'cluster'] as const
export type ScenarioName = typeof scenarioNames[number]

/** Everything a benchmark run needs to know. */
export interface BenchOptions {
  /** Fresh-server runs per scenario and server; the table shows medians. */
  readonly reps: number
  /** Worker threads of the load generator. */
  readonly workers: number
  /** Peers that share one loopback source address (coedit allows 200 connections per address). */
  readonly peersPerAddress: number
  readonly scenarios: readonly ScenarioName[]
  readonly servers: readonly ServerKind[]
  readonly fanout: EditLoadSettings
  readonly manyRooms: EditLoadSettings
  readonly coldLoad: ColdLoadSettings
  readonly scale: ScaleSettings
  readonly hostile: HostileSettings
  /** The cluster scenario's load: fan-out's. */
  readonly cluster: EditLoadSettings
  /** PostgreSQL connection string of the database the cluster scenario's processes share (their tables are dropped after each run). */
  readonly databaseUrl: string
  /** Where the servers' CPU profiles go (`--cpu-prof DIR`); null runs without profiling. */
  readonly cpuProfileDir: string | null
  /** Another coedit checkout, built, measured as `coedit-baseline` (`--baseline DIR`); null leaves it out. */
  readonly baselineRoot: string | null
  /** The JSON results file. */
  readonly jsonPath: string
  readonly quick: boolean
}

const usage = `Usage: npm run bench -- [options]   (each option also as BENCH_<NAME>, e.g. BENCH_REPS=5)
  --quick               smoke run of about two minutes (1 repetition, short and small loads)
  --reps N              fresh-server runs per scenario and server (default 3)
  --duration S          seconds of editing in fan-out and many-rooms (default 10)
  --scenarios LIST      comma-separated: ${scenarioNames.join(', ')} (default all)
  --servers LIST        comma-separated: ${serverKinds.join(', ')} (default all; coedit-baseline only with --baseline; the cluster scenario runs coedit-cluster-1..3 only)
  --database-url URL    PostgreSQL shared by the cluster scenario's processes (default $DATABASE_URL, else postgres://postgres@127.0.0.1:5432/test); it also needs /usr/bin/redis-server
  --workers N           load-generator worker threads (default 2)
  --scale-max N         most connections in the scale scenario (default 20000, capped by the open-file limit)
  --scale-time S        time budget of the scale ramp in seconds (default 120)
  --cold-peers N        fresh peers timed per cold-load run (default 10)
  --hostile LIST        hostile message classes, comma-separated: ${hostileClasses.join(', ')} (default all)
  --trace FILE          gzipped editing trace (default bench/data/automerge-paper.json.gz)
  --baseline DIR        also measure the coedit checkout in DIR (built with npm run build:server), in memory
  --cpu-prof DIR        run the servers under --cpu-prof, write profiles to DIR and print their top functions
  --json FILE           results file (default bench/results/latest.json)
  -h, --help            show this help
`

const flags = {
  quick: { type: 'boolean' },
  reps: { type: 'string' },
  duration: { type: 'string' },
  scenarios: { type: 'string' },
  servers: { type: 'string' },
  workers: { type: 'string' },
  'scale-max': { type: 'string' },
  'scale-time': { type: 'string' },
  'cold-peers': { type: 'string' },
  hostile: { type: 'string' },
  trace: { type: 'string' },
  'cpu-prof': { type: 'string' },
  baseline: { type: 'string' },
  'database-url': { type: 'string' },
  json: { type: 'string' },
  help: { type: 'boolean', short: 'h' }
} as const

/** Thrown for options that cannot be used; printed with the usage. */
export class UsageError extends Error {}

/** The usage text. */
export function usageText (): string {
  return usage
}

/**
 * Reads options from `argv` and `env` (flags win). Returns null for `--help`.
 * `root` is the repository root, against which default paths resolve.
 */
export function readOptions (argv: string[], env: NodeJS.ProcessEnv, root: string): BenchOptions | null {
  let values: Record<string, string | boolean | undefined>
  try {
    values = parseArgs({ args: argv, options: flags, strict: true }).values
  } catch (err) {
    throw new UsageError((err as Error).message.split('\n')[0])
  }
  if (values.help) return null
  const pick = (flag: string): string | undefined => {
    const value = values[flag] ?? env[`BENCH_${flag.toUpperCase().replace(/-/g, '_')}`]
    return typeof value === 'string' && value !== '' ? value : undefined
  }
  const quick = values.quick === true || pick('quick') === '1'
  const count = (flag: string, fallback: number): number => {
    const text = pick(flag)
    if (text === undefined) return fallback
    const n = Number(text)
    if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--${flag} must be a positive number, got "${text}"`)
    return n
  }
  const list = <T extends string>(flag: string, all: readonly T[]): T[] => {
    const text = pick(flag)
    if (text === undefined) return [...all]
    const chosen = text.split(',').map((s) => s.trim()).filter(Boolean)
    for (const name of chosen) if (!all.includes(name as T)) throw new UsageError(`--${flag}: unknown "${name}" (choose from ${all.join(', ')})`)
    return all.filter((name) => chosen.includes(name))
  }

  const durationMs = count('duration', quick ? 3 : 10) * 1000
  const common = { settleMs: 1000, drainStallMs: 5000, connectTimeoutMs: 30_000, verifiedRooms: 20 }
  const cpuProfile = pick('cpu-prof')
  const baseline = pick('baseline')
  if (baseline !== undefined && !existsSync(join(baseline, 'dist', 'server', 'cli.js'))) {
    throw new UsageError(`--baseline: no dist/server/cli.js in ${baseline} (run npm run build:server there)`)
  }
  const servers = list('servers', serverKinds.filter((kind) => baseline !== undefined || kind !== 'coedit-baseline'))
  return {
    quick,
    reps: Math.round(count('reps', quick ? 1 : 3)),
    workers: Math.round(count('workers', 2)),
    peersPerAddress: 50,
    scenarios: list('scenarios', scenarioNames),
    servers,
    fanout: { ...common, rooms: 1, peersPerRoom: 50, sendersPerRoom: 10, ratePerSecond: 20, durationMs, idleMs: 0 },
    cluster: { ...common, rooms: 1, peersPerRoom: 50, sendersPerRoom: 10, ratePerSecond: 20, durationMs, idleMs: 0 },
    databaseUrl: pick('database-url') ?? env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
    manyRooms: { ...common, rooms: quick ? 100 : 500, peersPerRoom: 2, sendersPerRoom: 2, ratePerSecond: 1, durationMs, idleMs: quick ? 0 : 30_000 },
    coldLoad: {
      tracePath: pick('trace') ?? join(root, 'bench', 'data', 'automerge-paper.json.gz'),
      freshPeers: Math.round(count('cold-peers', quick ? 3 : 10)),
      timeoutMs: 60_000
    },
    scale: {
      stormPeers: quick ? 500 : 2000,
      peersPerRoom: 10,
      maxPeers: Math.min(Math.round(count('scale-max', quick ? 2000 : 20_000)), openFileLimit() - 1000),
      batchPeers: 1000,
      timeBudgetMs: count('scale-time', quick ? 10 : 120) * 1000,
      memoryLimitBytes: 1024 * 1024 * 1024,
      connectTimeoutMs: 60_000
    },
    hostile: {
      classes: list('hostile', hostileClasses),
      embedDepth: 5000,
      splitCharacters: quick ? 500_000 : 2_000_000,
      subdocuments: quick ? 20_000 : 100_000,
      absentDeleteRanges: quick ? 50_000 : 200_000,
      pendingUpdates: quick ? 500 : 1800,
      pendingUpdateCharacters: 480,
      largeDocumentItems: quick ? 200_000 : 1_000_000,
      syncFloodPerSecond: 190,
      syncFloodMs: quick ? 2000 : 5000,
      presenceBytes: (quick ? 2 : 8) * 1024 * 1024,
      presenceNewcomers: quick ? 5 : 20,
      edits: quick ? 200 : 1000,
      editTimeMs: quick ? 3000 : 10_000,
      joinTimeoutMs: quick ? 3000 : 15_000,
      attackTimeoutMs: quick ? 20_000 : 60_000,
      rssLimitBytes: 3 * 1024 * 1024 * 1024,
      witnessPeriodMs: 10,
      restMs: quick ? 1000 : 2000,
      connectTimeoutMs: 30_000
    },
    cpuProfileDir: cpuProfile ?? null,
    baselineRoot: baseline ?? null,
    jsonPath: pick('json') ?? join(root, 'bench', 'results', 'latest.json')
  }
}

/** The soft limit on open files of this process (servers inherit it): each connection takes one. */
function openFileLimit (): number {
  const match = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))
  return match ? Number(match[1]) : 1024
}
