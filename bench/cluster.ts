/**
 * What a run of several coedit processes shares: a private `redis-server`
 * (Debian's `/usr/bin/redis-server`) on a free port of 127.0.0.1 that keeps
 * nothing on disk, and a PostgreSQL database in which the run's tables carry
 * a prefix of their own and are dropped afterwards. Also the CPU readings of
 * the PostgreSQL processes that served the run.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import type { CpuMeter } from './machine.js'

const redisServerPath = '/usr/bin/redis-server'
const redisStartTimeoutMs = 10_000

/** A `redis-server` started for one run. */
export interface PrivateRedis {
  /** `redis://127.0.0.1:<port>`. */
  readonly url: string
  readonly pid: number
  /** Kills it (SIGKILL: it holds nothing worth keeping), resolves once it exited, and removes its folder. */
  stop (): Promise<void>
}

/**
 * Starts `redis-server` on `port` of 127.0.0.1 with persistence off
 * (`--save "" --appendonly no`) in a fresh temporary folder; resolves once
 * it accepts connections. `track` is given the child at once, so that the
 * caller can kill it by pid if the benchmark stops early.
 */
export async function startPrivateRedis (port: number, track: (child: ChildProcess) => void): Promise<PrivateRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'coedit-bench-redis-'))
  const child = spawn(redisServerPath, [
    '--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no',
    '--dir', dir, '--daemonize', 'no', '--logfile', '', '--protected-mode', 'no'
  ], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
  track(child)
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const stop = async (): Promise<void> => {
    child.kill('SIGKILL')
    await exited
    rmSync(dir, { recursive: true, force: true })
  }
  let output = ''
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server did not start within ${redisStartTimeoutMs} ms:\n${output}`)), redisStartTimeoutMs)
      const read = (chunk: Buffer): void => {
        output += chunk.toString()
        if (output.includes('Ready to accept connections')) {
          clearTimeout(timer)
          resolve()
        }
      }
      child.stdout?.on('data', read)
      child.stderr?.on('data', read)
      child.once('error', (err) => { clearTimeout(timer); reject(err) })
      void exited.then(() => { clearTimeout(timer); reject(new Error(`redis-server exited before it was ready:\n${output}`)) })
    })
  } catch (err) {
    await stop()
    throw err
  }
  return { url: `redis://127.0.0.1:${port}`, pid: child.pid as number, stop }
}

/** A prefix for the run's PostgreSQL tables that no other run uses. */
export function uniqueTablePrefix (): string {
  return `bench_${process.pid}_${randomBytes(4).toString('hex')}`
}

/** Drops the tables coedit created with `tablePrefix`. */
export async function dropTables (databaseUrl: string, tablePrefix: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  try {
    await client.query(`DROP TABLE IF EXISTS ${tablePrefix}_snapshots, ${tablePrefix}_updates, ${tablePrefix}_documents`)
  } finally {
    await client.end()
  }
}

/**
 * `databaseUrl` with `application_name` set, so that the run's connections
 * can be told apart in `pg_stat_activity`.
 */
export function withApplicationName (databaseUrl: string, name: string): string {
  const url = new URL(databaseUrl)
  url.searchParams.set('application_name', name)
  return url.toString()
}

/** CPU the PostgreSQL server spent over a measured window, in ms. */
export interface PostgresCpu {
  /** The client backends serving connections with the run's `application_name`. */
  readonly backendsMs: number
  /** PostgreSQL's own processes (WAL writer, checkpointer, background writer, autovacuum), which serve every database of the server. */
  readonly sharedMs: number
  /** Backends of the run seen in the window. */
  readonly backends: number
}

/**
 * Reads the CPU of PostgreSQL processes from /proc, which works when the
 * PostgreSQL server runs on this machine (otherwise the figures are NaN). Backends are found through
 * `pg_stat_activity` (their `application_name`) and polled every
 * `pollMs` while a window is open, so that one that exits in the window
 * loses at most a poll's worth of CPU; one that starts in it counts from zero.
 */
export class PostgresCpuMeter {
  private constructor (private readonly client: pg.Client, private readonly meter: CpuMeter) {}

  /** Connects to the database (as `coedit-bench-meter`, which is never counted). */
  static async open (databaseUrl: string, meter: CpuMeter): Promise<PostgresCpuMeter> {
    const client = new pg.Client({ connectionString: withApplicationName(databaseUrl, 'coedit-bench-meter') })
    client.on('error', () => {})
    await client.connect()
    return new PostgresCpuMeter(client, meter)
  }

  /** Opens a window over the backends of `applicationName`; its `end` resolves with the CPU spent since. */
  async window (applicationName: string, pollMs = 200): Promise<{ end: () => Promise<PostgresCpu> }> {
    const backends = new Map<number, { first: number, last: number }>()
    let unreadable = 0
    const shared = new Map<number, { first: number, last: number }>()
    const read = (pid: number): number | null => {
      try {
        return this.meter.processMs(pid)
      } catch {
        return null
      }
    }
    const poll = async (opening: boolean): Promise<void> => {
      const { rows } = await this.client.query<{ pid: number, mine: boolean }>(
        "SELECT pid, application_name = $1 AS mine FROM pg_stat_activity WHERE application_name = $1 OR backend_type <> 'client backend'",
        [applicationName]
      )
      for (const { pid, mine } of rows) {
        const ms = read(pid)
        if (ms === null) {
          if (mine) unreadable++
          continue
        }
        const readings = mine ? backends : shared
        const known = readings.get(pid)
        // A process first seen after the window opened started in it: all its CPU is the window's.
        if (known) known.last = ms
        else readings.set(pid, { first: opening ? ms : 0, last: ms })
      }
    }
    await poll(true)
    let polling = Promise.resolve()
    const timer = setInterval(() => { polling = polling.then(() => poll(false)).catch(() => {}) }, pollMs)
    return {
      end: async () => {
        clearInterval(timer)
        await polling
        await poll(false)
        const spent = (readings: Map<number, { first: number, last: number }>): number => [...readings.values()].reduce((sum, r) => sum + r.last - r.first, 0)
        // No backend in /proc: PostgreSQL runs elsewhere, and its CPU cannot be read from here.
        if (backends.size === 0 && unreadable > 0) return { backendsMs: NaN, sharedMs: NaN, backends: 0 }
        return { backendsMs: spent(backends), sharedMs: spent(shared), backends: backends.size }
      }
    }
  }

  async close (): Promise<void> {
    await this.client.end().catch(() => {})
  }
}
