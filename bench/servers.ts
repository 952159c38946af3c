/**
 * The servers under test, each started as its own child process on a free
 * port of 127.0.0.1, and the readings taken of them from /proc: CPU time
 * (utime + stime of all threads) and resident memory.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import type { CpuMeter } from './machine.js'
import { dropTables, PostgresCpuMeter, startPrivateRedis, uniqueTablePrefix, withApplicationName, type PostgresCpu } from './cluster.js'
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** Which server a run measures. */
export type ServerKind = 'coedit-memory' | 'coedit-sqlite' | 'coedit-baseline' | 'reference' | 'ws-relay' | ClusterKind

/** 1, 2 or 3 coedit processes sharing one PostgreSQL database and one private Redis. */
export type ClusterKind = 'coedit-cluster-1' | 'coedit-cluster-2' | 'coedit-cluster-3'

/**
 * The kinds that are one process, in the order the table shows them.
 * `coedit-baseline` is another build of coedit, in memory, to compare a
 * change with (`--baseline`).
 */
export const singleServerKinds: readonly ServerKind[] = ['coedit-memory', 'coedit-sqlite', 'coedit-baseline', 'reference', 'ws-relay']

/** The cluster kinds, by number of coedit processes. */
export const clusterKinds: readonly ClusterKind[] = ['coedit-cluster-1', 'coedit-cluster-2', 'coedit-cluster-3']

/** Every kind, in the order the tables show them. */
export const serverKinds: readonly ServerKind[] = [...singleServerKinds, ...clusterKinds]

/** How many coedit processes a cluster kind runs. */
export function clusterSize (kind: ClusterKind): number {
  return clusterKinds.indexOf(kind) + 1
}

/** Whether `kind` runs several coedit processes (or one, linked through Redis). */
export function isClusterKind (kind: ServerKind): kind is ClusterKind {
  return (clusterKinds as readonly ServerKind[]).includes(kind)
}

/** Whether a kind keeps documents and answers the y-websocket sync handshake (the bare relay does neither). */
export function speaksYjs (kind: ServerKind): boolean {
  return kind !== 'ws-relay'
}

/** A server child process being measured. */
export interface ServerProcess {
  readonly kind: ServerKind
  readonly pid: number
  /** `ws://127.0.0.1:<port>`; a room is a path below it. */
  readonly url: string
  /** Whether it runs under `--cpu-prof` (writes `<tag>.cpuprofile` when it stops). */
  readonly profiled: boolean
  /** CPU time the process has used so far (user + system, all threads), in ms. */
  cpuMs (): number
  /** Resident set size now, in bytes. */
  rssBytes (): number
  /** Highest resident set size since the process started or since `resetPeakRss`, in bytes (`VmHWM`). */
  peakRssBytes (): number
  /** Starts a new peak for `peakRssBytes` at the current RSS (writes 5 to /proc/<pid>/clear_refs). */
  resetPeakRss (): void
  /** How the process ended (`exit 1`, `SIGKILL`), or null while it runs. */
  exitStatus (): string | null
  /** Sends SIGKILL now, without waiting; `stop` still cleans up. */
  kill (): void
  /** Ends the process (SIGTERM, then SIGKILL after `stopGraceMs`) and removes its data folder. */
  stop (): Promise<void>
  /**
   * For a cluster kind, what it is made of; the figures above are then the
   * sums over its coedit processes, and `pid` and `url` are the first one's.
   * Null for one process.
   */
  readonly cluster: ClusterServices | null
}

/** The processes of a cluster kind and readings of what they share. */
export interface ClusterServices {
  /** `ws://127.0.0.1:<port>` of each coedit process, in start order. */
  readonly urls: readonly string[]
  /** CPU time the private `redis-server` has used so far, in ms. */
  redisCpuMs (): number
  /** Starts reading the CPU of the PostgreSQL processes serving this cluster; `end` resolves with what they spent since. */
  postgresWindow (): Promise<{ end: () => Promise<PostgresCpu> }>
}

/** Options of a `ServerLauncher`. */
export interface LauncherOptions {
  /** The repository root: holds `dist/server`, `dist/bench` and `node_modules`. */
  readonly root: string
  /** When set, every server runs under `--cpu-prof` and writes its profile here. */
  readonly cpuProfileDir: string | null
  /** Root of another coedit checkout with a built `dist/server`, run as `coedit-baseline`. */
  readonly baselineRoot: string | null
  readonly meter: CpuMeter
  /** PostgreSQL connection string of the database the cluster kinds share; they cannot run without one. */
  readonly databaseUrl: string | null
  /** How long a server may take to answer HTTP after spawning. Defaults to 15 s. */
  readonly startTimeoutMs?: number
  /** How long `stop` waits after SIGTERM before SIGKILL. Defaults to 10 s (a profile is written on exit). */
  readonly stopGraceMs?: number
}

/**
 * Starts servers and remembers every child it started, so that `killAll`
 * can end them by PID when the benchmark stops early.
 */
export class ServerLauncher {
  private readonly live = new Set<ChildProcess>()
  private readonly startTimeoutMs: number
  private readonly stopGraceMs: number

  constructor (private readonly options: LauncherOptions) {
    this.startTimeoutMs = options.startTimeoutMs ?? 15_000
    this.stopGraceMs = options.stopGraceMs ?? 10_000
  }

  /**
   * Starts a fresh server of `kind` and resolves once it answers HTTP (every
   * process of a cluster kind). `tag` names its CPU profile (the first
   * process's, for a cluster kind).
   */
  async start (kind: ServerKind, tag: string): Promise<ServerProcess> {
    if (isClusterKind(kind)) return await this.startCluster(kind, tag)
    const port = await freePort()
    const dataDir = kind === 'coedit-sqlite' ? mkdtempSync(join(tmpdir(), 'coedit-bench-')) : null
    const { args, env } = this.command(kind, port, dataDir, tag)
    return await this.spawn(kind, args, env, port, dataDir)
  }

  /**
   * Starts a private Redis, then the cluster's coedit processes one after
   * another (the first creates the tables), on a table prefix of their own.
   * Stopping ends them all, kills Redis and drops the tables.
   */
  private async startCluster (kind: ClusterKind, tag: string): Promise<ServerProcess> {
    const { databaseUrl, root, meter } = this.options
    if (databaseUrl === null) throw new Error(`${kind} needs a PostgreSQL database (--database-url)`)
    const tablePrefix = uniqueTablePrefix()
    const applicationName = `coedit-${tablePrefix}`
    const redis = await startPrivateRedis(await freePort(), (child) => this.track(child))
    const members: ServerProcess[] = []
    let postgres: PostgresCpuMeter | null = null
    const stop = async (): Promise<void> => {
      await Promise.all(members.map((member) => member.stop()))
      await redis.stop()
      await postgres?.close()
      await dropTables(databaseUrl, tablePrefix)
    }
    try {
      for (let i = 0; i < clusterSize(kind); i++) {
        const port = await freePort()
        const args = [
          ...this.coeditArgs(root, port, i === 0 ? tag : `${tag}-${i + 1}`),
          '--storage', 'postgres', '--database-url', withApplicationName(databaseUrl, applicationName), '--table-prefix', tablePrefix, '--redis-url', redis.url
        ]
        members.push(await this.spawn(kind, args, {}, port, null))
      }
      postgres = await PostgresCpuMeter.open(databaseUrl, meter)
    } catch (err) {
      await stop()
      throw err
    }
    const opened = postgres
    const total = (read: (member: ServerProcess) => number): number => members.reduce((sum, member) => sum + read(member), 0)
    return {
      kind,
      pid: members[0].pid,
      url: members[0].url,
      profiled: members[0].profiled,
      cpuMs: () => total((m) => m.cpuMs()),
      rssBytes: () => total((m) => m.rssBytes()),
      peakRssBytes: () => total((m) => m.peakRssBytes()),
      resetPeakRss: () => { for (const member of members) member.resetPeakRss() },
      exitStatus: () => members.map((m) => m.exitStatus()).find((status) => status !== null) ?? null,
      kill: () => { for (const member of members) member.kill() },
      stop,
      cluster: {
        urls: members.map((m) => m.url),
        redisCpuMs: () => meter.processMs(redis.pid),
        postgresWindow: () => opened.window(applicationName)
      }
    }
  }

  /** Remembers `child` for `killAll` until it exits. */
  private track (child: ChildProcess): void {
    this.live.add(child)
    child.once('exit', () => this.live.delete(child))
  }

  /** Spawns one server process and resolves once it answers HTTP; stopping it removes `dataDir`. */
  private async spawn (kind: ServerKind, args: string[], env: Record<string, string>, port: number, dataDir: string | null): Promise<ServerProcess> {
    const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    this.track(child)
    let output = ''
    const keep = (chunk: Buffer): void => { output = (output + chunk.toString()).slice(-4000) }
    child.stdout?.on('data', keep)
    child.stderr?.on('data', keep)
    let exitStatus: string | null = null
    const exited = new Promise<void>((resolve) => child.once('exit', (code, signal) => {
      exitStatus = signal ?? `exit ${code ?? '?'}`
      resolve()
    }))
    const removeData = (): void => { if (dataDir) rmSync(dataDir, { recursive: true, force: true }) }
    const stop = async (): Promise<void> => {
      if (this.live.has(child)) {
        child.kill('SIGTERM')
        const timer = setTimeout(() => child.kill('SIGKILL'), this.stopGraceMs)
        await exited
        clearTimeout(timer)
      }
      removeData()
    }
    try {
      await waitForHttp(port, this.startTimeoutMs, exited)
    } catch (err) {
      await stop()
      throw new Error(`${kind} did not start: ${(err as Error).message}\n${output}`)
    }
    const pid = child.pid as number
    return {
      kind,
      pid,
      url: `ws://127.0.0.1:${port}`,
      profiled: args.includes('--cpu-prof'),
      cpuMs: () => this.options.meter.processMs(pid),
      rssBytes: () => readStatusBytes(pid, 'VmRSS'),
      peakRssBytes: () => readStatusBytes(pid, 'VmHWM'),
      resetPeakRss: () => writeFileSync(`/proc/${pid}/clear_refs`, '5'),
      exitStatus: () => exitStatus,
      kill: () => { child.kill('SIGKILL') },
      stop,
      cluster: null
    }
  }

  /** Sends SIGKILL to every server still running. Synchronous, for exit handlers. */
  killAll (): void {
    for (const child of this.live) child.kill('SIGKILL')
    this.live.clear()
  }

  /** Node's arguments for `coedit serve` of `checkout` on `port` of 127.0.0.1, profiled as `tag` with `--cpu-prof`. */
  private coeditArgs (checkout: string, port: number, tag: string): string[] {
    return [...this.profileArgs(tag), join(checkout, 'dist/server/cli.js'), 'serve', '--port', String(port), '--host', '127.0.0.1', '--log-level', 'warn']
  }

  private profileArgs (tag: string): string[] {
    const { cpuProfileDir } = this.options
    return cpuProfileDir ? ['--cpu-prof', '--cpu-prof-dir', cpuProfileDir, '--cpu-prof-name', `${tag}.cpuprofile`] : []
  }

  private command (kind: Exclude<ServerKind, ClusterKind>, port: number, dataDir: string | null, tag: string): { args: string[], env: Record<string, string> } {
    const { root, baselineRoot } = this.options
    const profile = this.profileArgs(tag)
    const coedit = (checkout: string): string[] => this.coeditArgs(checkout, port, tag)
    switch (kind) {
      case 'coedit-memory':
        return { args: [...coedit(root), '--storage', 'memory'], env: {} }
      case 'coedit-sqlite':
        return { args: [...coedit(root), '--storage', 'sqlite', '--data-dir', dataDir as string], env: {} }
      case 'coedit-baseline':
        if (!baselineRoot) throw new Error('coedit-baseline needs --baseline')
        return { args: [...coedit(baselineRoot), '--storage', 'memory'], env: {} }
      case 'reference':
        // No YPERSISTENCE: documents live in memory only, as with coedit-memory.
        return { args: [...profile, join(root, 'node_modules/@y/websocket-server/src/server.js')], env: { HOST: '127.0.0.1', PORT: String(port) } }
      case 'ws-relay':
        return { args: [...profile, join(root, 'dist/bench/ws-relay.js'), '--port', String(port), '--host', '127.0.0.1'], env: {} }
    }
  }
}

/** A memory figure of /proc/<pid>/status (`VmRSS`, `VmHWM`), in bytes. */
function readStatusBytes (pid: number, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  if (!match) throw new Error(`no ${field} for process ${pid}`)
  return Number(match[1]) * 1024
}

async function freePort (): Promise<number> {
  const probe = createServer()
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject)
    probe.listen(0, '127.0.0.1', () => resolve())
  })
  const port = (probe.address() as AddressInfo).port
  await new Promise<void>((resolve) => probe.close(() => resolve()))
  return port
}

/** Resolves once `GET /` on the port gets any answer; rejects after `timeoutMs` or when the process exits. */
async function waitForHttp (port: number, timeoutMs: number, exited: Promise<void>): Promise<void> {
  let gone = false
  void exited.then(() => { gone = true })
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (gone) throw new Error('the process exited')
    if (await answers(port)) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`no answer on port ${port} within ${timeoutMs} ms`)
}

function answers (port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/', timeout: 1000 }, (res) => {
      res.resume()
      resolve(true)
    })
    req.on('error', () => resolve(false))
    req.on('timeout', () => { req.destroy(); resolve(false) })
    req.end()
  })
}
