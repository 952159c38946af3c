/**
 * A private `redis-server` (the Debian package's `/usr/bin/redis-server`)
 * for tests that break Redis: kill it, start it again on the same port, cut
 * its clients' connections. It listens on a free port of 127.0.0.1, keeps
 * nothing on disk (`--save "" --appendonly no`, in its own temporary folder)
 * and is killed by its pid after the test that started it, with its folder
 * removed. Tests that only need a working Redis use the shared one from
 * `test/helpers/services.ts` instead.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { onTeardown } from './relay.js'

/** A `redis-server` the current test owns. */
export interface PrivateRedis {
  /** `redis://127.0.0.1:port`; the same after `restart()`. */
  readonly url: string
  readonly port: number
  /** Pid of the running server (a new one after `restart()`). */
  readonly pid: number
  /** Whether the server process is running. */
  readonly running: boolean
  /** Kills it with SIGKILL (clients see their connections drop); resolves once it exited. Keeps nothing. */
  kill (): Promise<void>
  /** Starts it again, empty, on the same port (killing it first if it runs); resolves once it accepts connections. */
  restart (): Promise<void>
  /**
   * Closes the server's connections to clients of `type` (`CLIENT KILL TYPE …`:
   * 'pubsub' for subscribed connections, 'normal' for the others) while the
   * server keeps running; resolves with how many it closed.
   */
  cutClients (type: 'pubsub' | 'normal'): Promise<number>
  /** Runs one command on a connection of its own, closed before this resolves (e.g. a raw PUBLISH). */
  command (name: string, ...args: Array<string | Buffer | number>): Promise<unknown>
}

const redisServerPath = '/usr/bin/redis-server'
const startTimeoutMs = 10_000

/** A port of 127.0.0.1 nobody listened on a moment ago. */
async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** Starts a private `redis-server`, killed (by pid) after the current test. */
export async function startPrivateRedis (): Promise<PrivateRedis> {
  const dir = await mkdtemp(join(tmpdir(), 'coedit-redis-'))
  const port = await freePort()
  let child: ChildProcess | null = null
  let exited: Promise<void> = Promise.resolve()

  const start = async (): Promise<void> => {
    const started = spawn(redisServerPath, [
      '--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no',
      '--dir', dir, '--daemonize', 'no', '--logfile', '', '--protected-mode', 'no'
    ], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
    child = started
    exited = new Promise((resolve) => started.once('exit', () => { if (child === started) child = null; resolve() }))
    const output: string[] = []
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server did not start in ${startTimeoutMs} ms:\n${output.join('')}`)), startTimeoutMs)
      started.stderr!.setEncoding('utf8').on('data', (chunk: string) => output.push(chunk))
      started.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
        output.push(chunk)
        if (output.join('').includes('Ready to accept connections')) {
          clearTimeout(timer)
          resolve()
        }
      })
      started.once('error', (err) => { clearTimeout(timer); reject(err) })
      void exited.then(() => { clearTimeout(timer); reject(new Error(`redis-server exited before it was ready:\n${output.join('')}`)) })
    })
  }

  const kill = async (): Promise<void> => {
    child?.kill('SIGKILL')
    await exited
  }

  const command = async (name: string, ...args: Array<string | Buffer | number>): Promise<unknown> => {
    const connection = new Redis({ host: '127.0.0.1', port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 })
    connection.on('error', () => {})
    try {
      await connection.connect()
      return await connection.call(name, ...args)
    } finally {
      connection.disconnect()
    }
  }

  onTeardown(async () => {
    await kill()
    await rm(dir, { recursive: true, force: true })
  })
  await start()

  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    get pid () { return child?.pid ?? -1 },
    get running () { return child !== null },
    kill,
    async restart () {
      await kill()
      await start()
    },
    async cutClients (type) {
      return await command('CLIENT', 'KILL', 'TYPE', type) as number
    },
    command
  }
}
