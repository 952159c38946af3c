/**
 * The built server (`dist/server/cli.js serve`) as a child process, so a test
 * can kill it with SIGKILL and start it again on the same data. Every child
 * is killed after the test that started it, by its own pid.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type * as Y from 'yjs'
import { onTeardown } from './relay.js'
import { RawClient } from './raw-client.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const cli = fileURLToPath(new URL('../../dist/server/cli.js', import.meta.url))

/**
 * Checks that the built server is there; builds nothing. `test/global-setup.ts`
 * builds `dist/` once before any test file runs, so no file rewrites it while
 * another starts a server from it. Kept for files that call it in `beforeAll`;
 * throws when `dist/server/cli.js` is missing (the run did not go through
 * Vitest's global setup).
 */
export function buildServer (): void {
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run the tests with \`npm test\` or \`npx vitest run\`, whose global setup builds it`)
}

/** A running `coedit serve`. */
export interface ChildRelay {
  /** `http://127.0.0.1:port` it listens on. */
  readonly url: string
  readonly pid: number
  /** Every line it wrote to stderr so far. */
  readonly log: readonly string[]
  /** Whether the process is still running. */
  readonly running: boolean
  /** Kills it with SIGKILL: no shutdown code runs. Resolves once it is gone. */
  kill (): Promise<void>
  /** Asks it to stop (SIGTERM) and resolves with its exit code. */
  stop (): Promise<number | null>
}

const startTimeoutMs = 15_000

/** The address a `server.started` line announces, in the text or the JSON log format; null for any other line. */
function startedUrl (line: string): string | null {
  const text = /server\.started url=(\S+)/.exec(line)
  if (text) return text[1]
  if (!line.startsWith('{') || !line.includes('"server.started"')) return null
  const json = JSON.parse(line) as { event?: string, url?: string }
  return json.event === 'server.started' && typeof json.url === 'string' ? json.url : null
}

/**
 * Starts `coedit serve` on a free port of 127.0.0.1 with `args` added, and
 * resolves once it logged `server.started`. Rejects with its log if it
 * exits or stays silent for 15 s.
 */
export async function startChildRelay (args: readonly string[]): Promise<ChildRelay> {
  const child: ChildProcess = spawn(process.execPath, [cli, 'serve', '--port', '0', '--host', '127.0.0.1', ...args], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, LOG_LEVEL: 'info' }
  })
  const pid = child.pid as number
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  let running = true
  void exited.then(() => { running = false })
  onTeardown(async () => {
    if (running) child.kill('SIGKILL')
    await exited
  })
  const log: string[] = []
  let partial = ''
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`coedit serve did not start in ${startTimeoutMs} ms:\n${log.join('\n')}`)), startTimeoutMs)
    child.stderr!.setEncoding('utf8')
    child.stderr!.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n')
      partial = lines.pop() as string
      for (const line of lines) {
        log.push(line)
        const started = startedUrl(line)
        if (started !== null) {
          clearTimeout(timer)
          resolve(started)
        }
      }
    })
    void exited.then((code) => {
      clearTimeout(timer)
      reject(new Error(`coedit serve exited with ${code} before starting:\n${log.join('\n')}`))
    })
  })
  return {
    url,
    pid,
    log,
    get running () { return running },
    async kill () {
      if (running) child.kill('SIGKILL')
      await exited
    },
    async stop () {
      if (running) child.kill('SIGTERM')
      return await exited
    }
  }
}

/**
 * The document `room` holds on `relay`, as a fresh client receives it when it
 * connects: connects, syncs, disconnects. The client is destroyed after the test.
 */
export async function fetchChildDocument (relay: ChildRelay, room: string): Promise<Y.Doc> {
  const probe = new RawClient()
  onTeardown(() => probe.destroy())
  await probe.connect(relay.url, room)
  probe.terminate()
  return probe.doc
}
