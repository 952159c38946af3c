/**
 * The servers under test, each started as its own child process on a free
 * port of 127.0.0.1, and the readings taken of them from /proc: CPU time
 * (utime + stime of all threads) and resident memory.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import type { CpuMeter } from './machine.js'
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** Which server a run measures. */
export type ServerKind = 'coedit-memory' | 'coedit-sqlite' | 'coedit-baseline' | 'reference' | 'ws-relay'

/**
 * Every kind, in the order the table shows them. `coedit-baseline` is
 * another build of coedit, in memory, to compare a change with (`--baseline`).
 */
export const serverKinds: readonly ServerKind[] = ['coedit-memory', 'coedit-sqlite', 'coedit-baseline', 'reference', 'ws-relay']

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

  /** Starts a fresh server of `kind` and resolves once it answers HTTP. `tag` names its CPU profile. */
  async start (kind: ServerKind, tag: string): Promise<ServerProcess> {
    const port = await freePort()
    const dataDir = kind === 'coedit-sqlite' ? mkdtempSync(join(tmpdir(), 'coedit-bench-')) : null
    const { args, env } = this.command(kind, port, dataDir, tag)
    const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    this.live.add(child)
    let output = ''
    const keep = (chunk: Buffer): void => { output = (output + chunk.toString()).slice(-4000) }
    child.stdout?.on('data', keep)
    child.stderr?.on('data', keep)
    let exitStatus: string | null = null
    const exited = new Promise<void>((resolve) => child.once('exit', (code, signal) => {
      exitStatus = signal ?? `exit ${code ?? '?'}`
      this.live.delete(child)
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
      stop
    }
  }

  /** Sends SIGKILL to every server still running. Synchronous, for exit handlers. */
  killAll (): void {
    for (const child of this.live) child.kill('SIGKILL')
    this.live.clear()
  }

  private command (kind: ServerKind, port: number, dataDir: string | null, tag: string): { args: string[], env: Record<string, string> } {
    const { root, cpuProfileDir, baselineRoot } = this.options
    const profile = cpuProfileDir ? ['--cpu-prof', '--cpu-prof-dir', cpuProfileDir, '--cpu-prof-name', `${tag}.cpuprofile`] : []
    const coedit = (checkout: string): string[] => [...profile, join(checkout, 'dist/server/cli.js'), 'serve', '--port', String(port), '--host', '127.0.0.1']
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
