/**
 * `npm run bench`: runs coedit (in memory and with SQLite), the reference
 * y-websocket server and a bare ws relay through the same scenarios, each
 * run on a fresh server process, servers interleaved and their order
 * rotated between repetitions. Prints one Markdown table of medians with
 * ratios to the reference, and writes every run to a JSON file.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { cpus, loadavg, totalmem } from 'node:os'
import { execFileSync } from 'node:child_process'
import { readOptions, usageText, UsageError, type BenchOptions } from './options.js'
import { ServerLauncher, isClusterKind, type ServerKind } from './servers.js'
import { ClientPool } from './clients.js'
import { CpuMeter } from './machine.js'
import { fanout } from './scenarios/fanout.js'
import { manyRooms } from './scenarios/many-rooms.js'
import { coldLoad } from './scenarios/cold-load.js'
import { scale } from './scenarios/scale.js'
import { hostile } from './scenarios/hostile.js'
import { cluster } from './scenarios/cluster.js'
import type { Scenario } from './scenarios/scenario.js'
import { markdownTable, summarize, type RunRecord } from './report.js'
import { topSelfTime, type SelfTimeRanking } from './profile.js'

/** The repository root (this file runs from dist/bench). */
const root = fileURLToPath(new URL('../../', import.meta.url)).replace(/\/$/, '')

function log (line: string): void {
  process.stderr.write(`${line}\n`)
}

function buildScenarios (options: BenchOptions): Scenario[] {
  const all: Record<string, Scenario[]> = {
    fanout: [fanout(options.fanout)],
    'many-rooms': [manyRooms(options.manyRooms)],
    'cold-load': [coldLoad(options.coldLoad)],
    scale: [scale(options.scale)],
    hostile: hostile(options.hostile),
    cluster: [cluster(options.cluster)]
  }
  return options.scenarios.flatMap((name) => all[name])
}

/** The servers in the order of repetition `rep`: rotated, so no server always runs first. */
function rotation (kinds: readonly ServerKind[], rep: number): ServerKind[] {
  const shift = rep % kinds.length
  return [...kinds.slice(shift), ...kinds.slice(0, shift)]
}

async function runAll (options: BenchOptions, scenarios: Scenario[], launcher: ServerLauncher, pool: ClientPool, meter: CpuMeter): Promise<RunRecord[]> {
  const runs: RunRecord[] = []
  for (const scenario of scenarios) {
    log(`\n${scenario.title}`)
    scenario.prepare?.(log)
    for (let rep = 1; rep <= options.reps; rep++) {
      for (const kind of rotation(options.servers, rep - 1)) {
        if (!scenario.kinds.includes(kind)) continue
        const tag = `${scenario.name}-${kind}-${rep}`
        const server = await launcher.start(kind, tag)
        const profile = server.profiled ? `${tag}.cpuprofile` : null
        let measured: RunRecord['window'] = null
        const markWindow = (startUs: number, endUs: number): void => { measured = { startUs, endUs } }
        let record: RunRecord
        try {
          const figures = await scenario.run(server, { pool, meter, log, markWindow })
          record = { scenario: scenario.name, kind, rep, figures, error: null, window: measured, profile }
          log(`  rep ${rep} ${kind}: ${Object.entries(figures).map(([k, v]) => `${k}=${Number.isInteger(v) ? v : v.toFixed(2)}`).join(' ')}`)
        } catch (err) {
          record = { scenario: scenario.name, kind, rep, figures: null, error: (err as Error).message, window: measured, profile }
          log(`  rep ${rep} ${kind}: FAILED ${(err as Error).message}`)
          await pool.closePeers()
        } finally {
          await server.stop()
        }
        runs.push(record)
      }
    }
  }
  return runs
}

function environment (options: BenchOptions, loadBefore: number): Record<string, string | number> {
  let commit = 'unknown'
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim()
  } catch {}
  return {
    date: new Date().toISOString(),
    commit,
    node: process.version,
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    reps: options.reps,
    workers: options.workers,
    loadAverageBefore: loadBefore,
    loadAverageAfter: loadavg()[0]
  }
}

/** What the report shows of one CPU profile. */
interface ProfileSummary {
  /** Whether the ranking covers the measured window only. */
  readonly windowed: boolean
  /** The server's CPU time in the window as the kernel counted it, in ms. */
  readonly cpuMs: number | null
  readonly all: SelfTimeRanking
  readonly relay: SelfTimeRanking
}

/**
 * Per profile: the top functions overall, and the top functions of coedit's
 * own code, over the measured window where the scenario marked one.
 */
function profileSummaries (dir: string, runs: readonly RunRecord[]): Record<string, ProfileSummary> {
  const summaries: Record<string, ProfileSummary> = {}
  for (const { profile, window: marked, figures, kind } of runs) {
    if (!profile || !existsSync(join(dir, profile))) continue
    const path = join(dir, profile)
    const window = marked ?? undefined
    const cpuPercent = figures?.serverCpuPercent
    summaries[profile] = {
      windowed: window !== undefined,
      // A cluster's CPU figure sums its processes; the profile is its first process's.
      cpuMs: window && cpuPercent !== undefined && !isClusterKind(kind) ? cpuPercent / 100 * (window.endUs - window.startUs) / 1000 : null,
      all: topSelfTime(path, 15, root, { window }),
      relay: topSelfTime(path, 10, root, { window, only: (where) => where.includes('dist/server/') })
    }
  }
  return summaries
}

async function main (): Promise<number> {
  let options: BenchOptions | null
  try {
    options = readOptions(process.argv.slice(2), process.env, root)
  } catch (err) {
    if (!(err instanceof UsageError)) throw err
    process.stderr.write(`bench: ${err.message}\n${usageText()}`)
    return 2
  }
  if (!options) {
    process.stdout.write(usageText())
    return 0
  }
  const scenarios = buildScenarios(options)
  const meter = new CpuMeter()
  const launcher = new ServerLauncher({ root, cpuProfileDir: options.cpuProfileDir, baselineRoot: options.baselineRoot, databaseUrl: options.databaseUrl, meter })
  const pool = ClientPool.start(options.workers, options.peersPerAddress)
  const killServers = (): void => launcher.killAll()
  process.on('exit', killServers)
  const interrupted = (): void => {
    killServers()
    process.exit(130)
  }
  process.on('SIGINT', interrupted)
  process.on('SIGTERM', interrupted)

  const started = Date.now()
  const loadBefore = loadavg()[0]
  let runs: RunRecord[]
  try {
    runs = await runAll(options, scenarios, launcher, pool, meter)
  } finally {
    await pool.terminate()
    launcher.killAll()
  }
  const rows = summarize(scenarios, runs)
  const env = environment(options, loadBefore)
  const table = markdownTable(scenarios, rows, options.servers)
  const failures = runs.filter((r) => r.error)
  const profiles = options.cpuProfileDir ? profileSummaries(options.cpuProfileDir, runs) : {}

  const out: string[] = [
    `### coedit benchmark (${env.date}, commit ${env.commit})`,
    '',
    `${env.cores} × ${env.cpu}, ${env.memoryGiB} GiB, Node ${env.node}. Medians of ${options.reps} run(s), each on a fresh server process; ` +
      `servers interleaved, order rotated per repetition; load generator: ${options.workers} worker thread(s) in the same machine. ` +
      `1-minute load average ${Number(env.loadAverageBefore).toFixed(1)} before, ${Number(env.loadAverageAfter).toFixed(1)} after.` +
      (options.quick ? ' **Quick smoke run: small loads, not for comparison.**' : ''),
    '',
    table,
    '',
    '- Delivered counts edits received by peers other than the sender; "echoes" are edits a server sent back to their own sender (not counted as delivered).',
    '- Server CPU is utime + stime of the server process from /proc over the measured window (edits until delivery completes); the load generator\'s CPU is that of this process, all threads.',
    '- Cold load keeps one idle peer connected so that the document stays in memory on every server (the reference drops it when the last client leaves).',
    '- Hostile: each class runs on a fresh server; "server CPU until idle" is the CPU from the first hostile message until the server used no more than at rest (with the witness typing) for 500 ms, less the rest rate; the stall is the longest edit→receipt time of a witness peer in another room inserting every 10 ms, less its median at rest; a server is killed past 3 GiB RSS or its time limit, and the rows say so. "Then" rows are measured in the attacked room afterwards, edits one at a time.',
    '- Cluster: coedit\'s CPU and RSS are sums over its processes; Redis is a private redis-server; PostgreSQL\'s CPU is that of the backends whose application_name is the run\'s, read from /proc (empty when PostgreSQL runs on another machine); with --cpu-prof, the profile is the first process\'s.',
    '- Scale: idle connections within 1 GiB are extrapolated from RSS per idle connection unless the run reached the limit; the connection count is capped by the open-file limit.',
    `- Run time ${((Date.now() - started) / 1000).toFixed(0)} s.${failures.length > 0 ? ` ${failures.length} run(s) failed: ${failures.map((f) => `${f.scenario}/${f.kind}/${f.rep}: ${f.error}`).join('; ')}` : ''}`
  ]
  for (const [file, { windowed, cpuMs, all, relay }] of Object.entries(profiles)) {
    const span = windowed ? 'the measured window of' : 'the whole of'
    const counted = cpuMs === null ? '' : ` (the kernel counted ${cpuMs.toFixed(0)} ms of CPU; samples are wall-clock, so a larger busy time means the server waited for a core)`
    out.push('', `${file}: ${all.busyMs.toFixed(0)} ms busy in ${span} profile${counted}.`)
    for (const [heading, ranking] of [[`Top self time in ${span} ${file}`, all], [`Top self time of coedit's own functions in ${span} ${file}`, relay]] as const) {
      out.push('', `${heading}:`, '', '| self ms | % busy | function |', '| ---: | ---: | --- |')
      for (const entry of ranking.top) out.push(`| ${entry.selfMs.toFixed(0)} | ${entry.percent.toFixed(1)} | ${entry.where} |`)
    }
  }
  process.stdout.write(`\n${out.join('\n')}\n`)

  mkdirSync(dirname(options.jsonPath), { recursive: true })
  writeFileSync(options.jsonPath, `${JSON.stringify({ environment: env, options, runs, summary: rows, profiles }, null, 2)}\n`)
  log(`\nwrote ${options.jsonPath}`)
  return failures.length > 0 ? 1 : 0
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`)
    process.exit(1)
  }
)
