/**
 * The Redis bus between processes, over a private redis-server each test
 * may kill, restart or cut off. Every bus here stands for one coedit
 * process; heartbeats are short (100 ms, gone after 500 ms) so the tests
 * wait on events, never on the clock.
 */
import { describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { ClusterBus, ClusterMessage } from '../../server/cluster/bus.js'
import { encodeHeartbeat } from '../../server/cluster/messages.js'
import { createRedisBus, type RedisBusOptions } from '../../server/cluster/redis.js'
import { captureLog, onTeardown, waitFor, type CapturedLog } from '../helpers/relay.js'
import { startPrivateRedis, type PrivateRedis } from '../helpers/redis-server.js'
import { startTcpProxy } from '../helpers/tcp-proxy.js'
import { seededRandom } from '../helpers/random.js'

const heartbeatMs = 100
const processTimeoutMs = 500
const eventTimeoutMs = 15_000

/** One process's bus, with everything it reported. */
interface Process {
  readonly bus: ClusterBus
  readonly log: CapturedLog
  readonly gone: string[]
  resyncs: number
  /** Subscribes to `document`; resolves with the list its messages are pushed to. */
  listen (document: string): Promise<ClusterMessage[]>
}

async function startProcess (url: string, options: Partial<RedisBusOptions> = {}): Promise<Process> {
  const log = captureLog()
  const bus = await createRedisBus({ url, logger: log.logger, heartbeatMs, processTimeoutMs, startTimeoutMs: 5_000, ...options })
  onTeardown(() => bus.close())
  const process: Process = {
    bus,
    log,
    gone: [],
    resyncs: 0,
    async listen (document) {
      const received: ClusterMessage[] = []
      await bus.subscribe(document, (message) => received.push(message))
      return received
    }
  }
  bus.onResync(() => { process.resyncs++ })
  bus.onProcessGone((id) => process.gone.push(id))
  return process
}

async function startProcesses (redis: PrivateRedis, count: number): Promise<Process[]> {
  return await Promise.all(Array.from({ length: count }, async () => await startProcess(redis.url)))
}

function bytes (length: number, seed: number): Uint8Array {
  const random = seededRandom(seed)
  const result = Uint8Array.from({ length }, () => random.int(256))
  result.fill(0, 0, Math.min(length, 16)) // runs of zeros, as in any Yjs update
  return result
}

function sameBytes (a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b)
}

/** Resolves once every one of `listeners` heard from `speaker` (so knows it is alive). */
async function heardBy (speaker: Process, listeners: Process[]): Promise<void> {
  const document = `presence-${speaker.bus.processId}`
  const inboxes = await Promise.all(listeners.map(async (p) => await p.listen(document)))
  speaker.bus.publish(document, { kind: 'awareness-query' })
  await waitFor(() => inboxes.every((inbox) => inbox.length === 1), eventTimeoutMs, 'a message from every process')
}

/** The event names a process logged, in order. */
const events = (log: CapturedLog): string[] => log.lines.map((line) => /^\S+\s+(\S+)/.exec(line)![1])

/** The ids of the connections a bus holds on `redis`, read from `CLIENT LIST` by their names. */
async function connectionIds (redis: PrivateRedis, bus: ClusterBus): Promise<string[]> {
  const list = await redis.command('CLIENT', 'LIST') as string
  return list.split('\n').filter((line) => line.includes(bus.processId)).map((line) => /\bid=(\d+)/.exec(line)![1])
}

describe('redis bus', () => {
  it('delivers every kind of message, bytes intact, in order, to the other processes and never to the sender', async () => {
    const redis = await startPrivateRedis()
    const [a, b, c] = await startProcesses(redis, 3)
    const document = 'notes/ünï code:@+ ~.md'
    const [atA, atB, atC] = await Promise.all([a.listen(document), b.listen(document), c.listen(document)])
    const small = bytes(200, 1)
    const large = bytes(1 << 20, 2)
    const presence = bytes(90, 3)
    a.bus.publish(document, { kind: 'update', seq: 1, update: small })
    a.bus.publish(document, { kind: 'awareness', update: presence })
    a.bus.publish(document, { kind: 'awareness-query' })
    a.bus.publish(document, { kind: 'update', seq: 2, update: large })
    await waitFor(() => atB.length === 4 && atC.length === 4, eventTimeoutMs, 'four messages at b and c')
    for (const received of [atB, atC]) {
      expect(received.map((m) => [m.kind, m.from])).toEqual([['update', a.bus.processId], ['awareness', a.bus.processId], ['awareness-query', a.bus.processId], ['update', a.bus.processId]])
      const [first, second, , fourth] = received as Array<ClusterMessage & { seq?: number, update?: Uint8Array }>
      expect([first.seq, fourth.seq]).toEqual([1, 2])
      expect(sameBytes(first.update!, small)).toBe(true)
      expect(sameBytes(second.update!, presence)).toBe(true)
      expect(sameBytes(fourth.update!, large)).toBe(true)
    }
    // Redis passes one channel's messages to every subscriber in the order it takes them:
    // once a message c sent after those reached a, a would have had its own before it.
    c.bus.publish(document, { kind: 'awareness-query' })
    await waitFor(() => atA.some((m) => m.from === c.bus.processId), eventTimeoutMs, 'c\'s query at a')
    expect(atA.map((m) => m.from)).toEqual([c.bus.processId])
    expect([a, b, c].map((p) => p.bus.healthy)).toEqual([true, true, true])
    expect(new Set([a, b, c].map((p) => p.bus.processId)).size).toBe(3)
  })

  it('resolves subscribe only once subscribed: a message published right after reaches it', async () => {
    const redis = await startPrivateRedis()
    const [a, b] = await startProcesses(redis, 2)
    const received: ClusterMessage[][] = []
    for (let i = 0; i < 30; i++) {
      received.push(await b.listen(`fresh-${i}`))
      a.bus.publish(`fresh-${i}`, { kind: 'update', seq: i, update: Uint8Array.of(i) })
    }
    await waitFor(() => received.every((list) => list.length === 1), eventTimeoutMs, 'every message')
  })

  it('stops delivering a document after unsubscribe, and replaces the listener on a second subscribe', async () => {
    const redis = await startPrivateRedis()
    const [a, b] = await startProcesses(redis, 2)
    const dropped = await b.listen('dropped')
    const replaced = await b.listen('replaced')
    const replacement = await b.listen('replaced')
    b.bus.unsubscribe('dropped')
    a.bus.publish('dropped', { kind: 'awareness-query' })
    a.bus.publish('replaced', { kind: 'awareness-query' })
    await waitFor(() => replacement.length === 1, eventTimeoutMs, 'the message to the new listener')
    expect(dropped).toEqual([])
    expect(replaced).toEqual([])
  })

  it('goes unhealthy when Redis dies, resubscribes when it is back, fires onResync and delivers again', async () => {
    const redis = await startPrivateRedis()
    const [a, b] = await startProcesses(redis, 2)
    const atB = await b.listen('doc')
    await redis.kill()
    await waitFor(() => !a.bus.healthy && !b.bus.healthy, eventTimeoutMs, 'both unhealthy')
    // While down: publishing drops the message without throwing; subscribing resolves.
    a.bus.publish('doc', { kind: 'update', seq: 1, update: Uint8Array.of(1) })
    const later = await b.listen('subscribed while down')
    await redis.restart()
    await waitFor(() => a.bus.healthy && b.bus.healthy, eventTimeoutMs, 'both healthy again')
    await waitFor(() => a.resyncs >= 1 && b.resyncs >= 1, eventTimeoutMs, 'onResync at both')
    a.bus.publish('doc', { kind: 'update', seq: 2, update: Uint8Array.of(2) })
    a.bus.publish('subscribed while down', { kind: 'awareness-query' })
    await waitFor(() => atB.length === 1 && later.length === 1, eventTimeoutMs, 'messages after the restart')
    expect((atB[0] as { seq: number }).seq).toBe(2)
    for (const { log } of [a, b]) expect(events(log)).toEqual(expect.arrayContaining(['cluster.disconnected', 'cluster.connected']))
    // a dropped a message while down: b hears so from a's heartbeat and catches up once more.
    await waitFor(() => b.resyncs >= 2, eventTimeoutMs, 'onResync at b for a\'s dropped message')
  })

  it('resynchronizes a process that learns another dropped messages it published', async () => {
    const redis = await startPrivateRedis()
    const [b] = await startProcesses(redis, 1)
    await redis.command('PUBLISH', 'coedit:heartbeat', Buffer.from(encodeHeartbeat({ from: 'other', droppedPublishes: 0 })))
    expect(b.resyncs).toBe(0)
    await redis.command('PUBLISH', 'coedit:heartbeat', Buffer.from(encodeHeartbeat({ from: 'other', droppedPublishes: 2 })))
    await waitFor(() => b.resyncs === 1, eventTimeoutMs, 'onResync')
  })

  it.each(['pubsub', 'normal'] as const)('recovers when Redis cuts its %s connections', async (type) => {
    const redis = await startPrivateRedis()
    const [a, b] = await startProcesses(redis, 2)
    const atB = await b.listen('doc')
    expect(await redis.cutClients(type)).toBe(2)
    await waitFor(() => [a, b].every((p) => events(p.log).includes('cluster.disconnected')), eventTimeoutMs, 'disconnected logged')
    // A cut subscription may have lost messages; a cut publisher lost none by itself.
    if (type === 'pubsub') await waitFor(() => a.resyncs === 1 && b.resyncs === 1, eventTimeoutMs, 'onResync at both')
    await waitFor(() => a.bus.healthy && b.bus.healthy, eventTimeoutMs, 'both healthy again')
    a.bus.publish('doc', { kind: 'awareness-query' })
    await waitFor(() => atB.length === 1, eventTimeoutMs, 'a message after the cut')
  })

  it('reports a process gone once it stops, to every other process, once', async () => {
    const redis = await startPrivateRedis()
    const [a, b, c, d] = await startProcesses(redis, 4)
    await heardBy(c, [a, b])
    await heardBy(d, [a, b])
    await c.bus.close()
    await waitFor(() => a.gone.length > 0 && b.gone.length > 0, eventTimeoutMs, 'process-gone at a and b')
    // d stops after c was reported: once d is reported, c would have been again.
    await d.bus.close()
    await waitFor(() => a.gone.length === 2 && b.gone.length === 2, eventTimeoutMs, 'd gone too')
    expect(a.gone).toEqual([c.bus.processId, d.bus.processId])
    expect(b.gone).toEqual([c.bus.processId, d.bus.processId])
    expect(a.log.lines.some((line) => line.includes('cluster.process-gone') && line.includes(c.bus.processId))).toBe(true)
  })

  it('does not report live processes gone after this one was cut off from Redis', async () => {
    const redis = await startPrivateRedis()
    const proxy = await startTcpProxy({ host: '127.0.0.1', port: redis.port })
    onTeardown(() => proxy.close())
    const cutOff = await startProcess(`redis://127.0.0.1:${proxy.port}`)
    const [live, stopping] = await startProcesses(redis, 2)
    await heardBy(cutOff, [live])
    await heardBy(stopping, [live, cutOff])
    await heardBy(live, [cutOff])
    proxy.refuse()
    for (const id of await connectionIds(redis, cutOff.bus)) await redis.command('CLIENT', 'KILL', 'ID', id)
    await waitFor(() => !cutOff.bus.healthy, eventTimeoutMs, 'cut off')
    await stopping.bus.close()
    // Gone to the others: the cut-off process was silent for longer than the timeout.
    await waitFor(() => live.gone.includes(cutOff.bus.processId) && live.gone.includes(stopping.bus.processId), eventTimeoutMs, 'both gone at the live process')
    expect(cutOff.gone).toEqual([])
    proxy.restore()
    await waitFor(() => cutOff.bus.healthy, eventTimeoutMs, 'back')
    // Judged afresh: the stopped process is gone after a timeout; the live one, heard meanwhile, is not.
    await waitFor(() => cutOff.gone.length > 0, eventTimeoutMs, 'the stopped process gone')
    expect(cutOff.gone).toEqual([stopping.bus.processId])
    expect(cutOff.resyncs).toBe(1)
  })

  it('reconnects when it hears nothing, not even itself, and meanwhile judges no one', async () => {
    const redis = await startPrivateRedis()
    const proxy = await startTcpProxy({ host: '127.0.0.1', port: redis.port })
    onTeardown(() => proxy.close())
    const deaf = await startProcess(`redis://127.0.0.1:${proxy.port}`)
    const [live] = await startProcesses(redis, 1)
    await heardBy(deaf, [live])
    await heardBy(live, [deaf])
    const atLive = await live.listen('doc')
    await deaf.listen('doc')
    proxy.hang()
    await waitFor(() => events(deaf.log).includes('cluster.silent'), eventTimeoutMs, 'silence noticed')
    await waitFor(() => live.gone.includes(deaf.bus.processId), eventTimeoutMs, 'the deaf process gone at the live one')
    proxy.restore()
    await waitFor(() => deaf.bus.healthy && deaf.resyncs >= 1, eventTimeoutMs, 'back, with a resync')
    deaf.bus.publish('doc', { kind: 'awareness-query' })
    await waitFor(() => atLive.length >= 1, eventTimeoutMs, 'its messages flowing again')
    expect(deaf.gone).toEqual([])
  })

  it('drops malformed messages from Redis with a log line, and keeps delivering', async () => {
    const redis = await startPrivateRedis()
    const [a, b] = await startProcesses(redis, 2)
    const atB = await b.listen('doc')
    await redis.command('PUBLISH', 'coedit:doc:doc', Buffer.from([1, 0]))
    await redis.command('PUBLISH', 'coedit:doc:doc', Buffer.from([]))
    await redis.command('PUBLISH', 'coedit:doc:doc', Buffer.from('not a message at all'))
    await redis.command('PUBLISH', 'coedit:heartbeat', Buffer.from([0xff, 0xff, 0xff]))
    a.bus.publish('doc', { kind: 'awareness-query' })
    await waitFor(() => atB.length === 1, eventTimeoutMs, 'the well-formed message')
    expect(atB[0].from).toBe(a.bus.processId)
    expect(events(b.log).filter((e) => e === 'cluster.malformed-message')).toHaveLength(4)
    expect(b.bus.healthy).toBe(true)
  })

  it('logs a listener that throws and keeps delivering', async () => {
    const redis = await startPrivateRedis()
    const [a, b] = await startProcesses(redis, 2)
    const received: ClusterMessage[] = []
    await b.bus.subscribe('doc', (message) => {
      received.push(message)
      if (received.length === 1) throw new Error('listener bug')
    })
    a.bus.publish('doc', { kind: 'awareness-query' })
    a.bus.publish('doc', { kind: 'awareness-query' })
    await waitFor(() => received.length === 2, eventTimeoutMs, 'both messages')
    expect(events(b.log)).toContain('cluster.listener-failed')
  })

  it('rejects at start, naming host and port but not the password, when Redis does not answer', async () => {
    const redis = await startPrivateRedis()
    await redis.kill()
    const started = createRedisBus({ url: `redis://:hunter2@127.0.0.1:${redis.port}`, logger: captureLog().logger, startTimeoutMs: 300 })
    await expect(started).rejects.toThrow(`Redis at 127.0.0.1:${redis.port} could not be reached within 300 ms`)
    await expect(started).rejects.not.toThrow(/hunter2/)
  })

  it('leaves nothing open after close, connected or not: the process exits by itself', async () => {
    const redis = await startPrivateRedis()
    const module = fileURLToPath(new URL('../../dist/server/cluster/redis.js', import.meta.url))
    const script = `
      import { createRedisBus } from ${JSON.stringify(module)}
      const logger = { debug () {}, info () {}, warn () {}, error () {} }
      const options = { url: ${JSON.stringify(redis.url)}, logger, heartbeatMs: 50, processTimeoutMs: 200 }
      const [a, b] = await Promise.all([createRedisBus(options), createRedisBus(options)])
      let received = 0
      await b.subscribe('doc', () => { received++ })
      a.onResync(() => {}); a.onProcessGone(() => {})
      a.publish('doc', { kind: 'awareness-query' })
      while (received === 0) await new Promise((resolve) => setImmediate(resolve))
      await a.close()
      process.stdout.write('closed-connected\\n')
      // b: closed while Redis is gone and it waits to reconnect.
      process.stdin.once('data', async () => { await b.close(); process.stdout.write('closed-down\\n'); process.stdin.destroy() })
    `
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] })
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    onTeardown(async () => { child.kill('SIGKILL'); await exited })
    let output = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => { output += chunk })
    await waitFor(() => output.includes('closed-connected'), eventTimeoutMs, 'the first bus closed')
    await redis.kill()
    child.stdin.write('go\n')
    let code: number | null | undefined
    void exited.then((c) => { code = c })
    await waitFor(() => code !== undefined, eventTimeoutMs, 'the process to exit by itself')
    expect(output).toContain('closed-down')
    expect(code).toBe(0)
  })
})
