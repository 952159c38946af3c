/**
 * Webhooks end to end: `coedit serve` as child processes (SQLite, and
 * PostgreSQL with one or two processes over Redis) POST to a real receiver
 * on 127.0.0.1 that fails, refuses connections, hangs and gets its server
 * killed with SIGKILL under it; every event still arrives, signed as the
 * README says, in sequence order per document, duplicates only by id.
 */
import { describe, expect, it } from 'vitest'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import pg from 'pg'
import { startChildRelay, type ChildRelay } from '../helpers/child-relay.js'
import { onTeardown } from '../helpers/relay.js'
import { signToken, testSecret } from '../helpers/tokens.js'
import { describeWithServices, dropPostgresTables, postgresUrl, redisUrl, uniqueTablePrefix } from '../helpers/services.js'

const secret = 'webhook-test-secret-0123456789abcdef'

/** What the receiver does with a request: answer 200 or 500, hold it unanswered, or drop its connection and stop listening. */
type Behaviour = 'ok' | 'error' | 'hang' | 'close'

interface Received {
  readonly id: string
  readonly body: string
  readonly event: { id: string, type: string, document: string, sequence: number, time: string, data: Record<string, number> }
  readonly headers: IncomingMessage['headers']
  readonly atMs: number
}

/** The README's verification snippet, loaded as the module a receiver would write. */
async function readmeVerifier (): Promise<(secret: string, headers: IncomingMessage['headers'], body: string) => boolean> {
  const readme = readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8')
  const section = readme.slice(readme.indexOf('## Webhooks'))
  const code = /```js\n([\s\S]*?)```/.exec(section)?.[1]
  if (!code) throw new Error('README has no js snippet under ## Webhooks')
  const dir = mkdtempSync(join(tmpdir(), 'coedit-webhook-'))
  onTeardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'verify.mjs')
  writeFileSync(file, code)
  return (await import(pathToFileURL(file).href)).verifyWebhook
}

/** A webhook receiver on 127.0.0.1 whose answers the test steers. */
class Receiver {
  readonly received: Received[] = []
  /** Ids answered 2xx. */
  readonly acknowledged = new Set<string>()
  /** How many requests were answered 2xx. */
  acknowledgements = 0
  /** Events that arrived before their document's previous event was acknowledged. */
  readonly outOfOrder: string[] = []
  /** How the next requests are answered, first to last; `fallback` once it is empty. */
  readonly script: Behaviour[] = []
  fallback: Behaviour = 'ok'
  /** Events of this document are held unanswered, whatever the script says. */
  hangDocument: string | null = null
  private readonly held = new Set<ServerResponse>()
  private readonly sockets = new Set<Socket>()
  private server: Server | null = null
  port = 0

  get url (): string {
    return `http://127.0.0.1:${this.port}/hook`
  }

  async listen (): Promise<void> {
    const server = createServer((req, res) => { this.handle(req, res) })
    server.on('connection', (socket) => {
      this.sockets.add(socket)
      socket.on('close', () => this.sockets.delete(socket))
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.port, '127.0.0.1', () => resolve())
    })
    this.port = (server.address() as AddressInfo).port
    this.server = server
    onTeardown(() => this.close())
  }

  /** Stops listening and drops every connection, so the next attempts find the port refusing. */
  async close (): Promise<void> {
    const server = this.server
    this.server = null
    for (const socket of this.sockets) socket.destroy()
    this.held.clear()
    if (server) await new Promise((resolve) => server.close(resolve))
  }

  /** Drops the requests held unanswered. */
  dropHeld (): void {
    for (const res of this.held) res.socket?.destroy()
    this.held.clear()
  }

  get heldCount (): number {
    return this.held.size
  }

  /** First receipt of each event, per document, in arrival order. */
  firstReceipts (document: string): Received[] {
    const seen = new Set<string>()
    return this.received.filter((r) => r.event.document === document && !seen.has(r.id) && seen.add(r.id))
  }

  private handle (req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      const event = JSON.parse(body) as Received['event']
      const id = String(req.headers['coedit-webhook-id'])
      if (event.sequence > 1 && !this.received.some((r) => r.event.document === event.document && r.event.sequence === event.sequence - 1 && this.acknowledged.has(r.id))) {
        this.outOfOrder.push(`${event.document}#${event.sequence}`)
      }
      this.received.push({ id, body, event, headers: req.headers, atMs: Date.now() })
      const behaviour = event.document === this.hangDocument ? 'hang' : this.script.shift() ?? this.fallback
      if (behaviour === 'ok') {
        this.acknowledged.add(id)
        this.acknowledgements++
        res.writeHead(204).end()
      } else if (behaviour === 'error') {
        res.writeHead(500).end('receiver failed')
      } else if (behaviour === 'hang') {
        this.held.add(res)
      } else {
        void this.close()
      }
    })
  }
}

async function put (relay: ChildRelay, name: string, text: string): Promise<void> {
  const res = await fetch(`${relay.url}/api/documents/${name}/text`, { method: 'PUT', body: text, headers: { 'content-type': 'text/plain' } })
  expect(res.status, await res.text()).toBe(200)
}

async function call (relay: ChildRelay, method: string, path: string): Promise<void> {
  const res = await fetch(`${relay.url}${path}`, { method })
  expect(res.status, await res.text()).toBe(200)
}

/** Records a version named `name` through the API; resolves to its id. */
async function createVersion (relay: ChildRelay, document: string, name: string): Promise<number> {
  const res = await fetch(`${relay.url}/api/documents/${document}/versions`, { method: 'POST', body: JSON.stringify({ name }), headers: { 'content-type': 'application/json' } })
  const body = await res.text()
  expect(res.status, body).toBe(201)
  return (JSON.parse(body) as { id: number }).id
}

/** The data of a `version.created` event. */
interface VersionData {
  version: number
  name: string | null
  seq: number
  authors: string[]
}

/** The `version.created` events of `document` received so far, first receipts in order. */
function versionEvents (receiver: Receiver, document: string): VersionData[] {
  return receiver.firstReceipts(document).filter((r) => r.event.type === 'version.created').map((r) => r.event.data as unknown as VersionData)
}

/**
 * Each version event of `document` sits where its `seq` says among the
 * changed events: after the changed event covering `seq`, before any
 * covering a later update.
 */
function expectVersionsInPlace (receiver: Receiver, document: string): void {
  let covered = 0
  for (const { event } of receiver.firstReceipts(document)) {
    if (event.type === 'document.changed') covered = event.data.to
    if (event.type === 'version.created') expect((event.data as unknown as VersionData).seq, `${document} version ${String(event.data.version)}`).toBe(covered)
  }
}

interface Delivery {
  type: string
  sequence: number
  data: Record<string, number>
  state: string
  attempts: number
  lastError: string | null
}

async function pendingDeliveries (relay: ChildRelay): Promise<Delivery[]> {
  const res = await fetch(`${relay.url}/api/webhooks/deliveries`)
  expect(res.status).toBe(200)
  return ((await res.json()) as { deliveries: Delivery[] }).deliveries
}

/** Polls `check` until it is true, failing after `timeoutMs`. */
async function until (check: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!await check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

/** Waits until `document`'s events end with a changed event covering update `lastUpdate`, and nothing is left to deliver. */
async function allDelivered (receiver: Receiver, relays: ChildRelay[], documents: readonly string[], lastUpdate: number): Promise<void> {
  await until(async () => {
    for (const document of documents) {
      const last = receiver.firstReceipts(document).at(-1)?.event
      if (last?.type !== 'document.changed' || last.data.to !== lastUpdate) return false
    }
    for (const relay of relays) if ((await pendingDeliveries(relay)).length > 0) return false
    return true
  }, `every event of ${documents.join(', ')}`)
}

/**
 * Every event of `document` arrived, in sequence order, as `types` says
 * (consecutive changed events folded into one `changed+`), with contiguous
 * update ranges from 1 to `lastUpdate`, signed, and duplicates only by id.
 */
async function expectComplete (receiver: Receiver, document: string, types: RegExp, lastUpdate: number): Promise<void> {
  const verify = await readmeVerifier()
  const events = receiver.firstReceipts(document).map((r) => r.event)
  expect(events.map((e) => e.sequence), document).toEqual(events.map((_, i) => i + 1))
  expect(events.map((e) => e.type.replace('document.', '')).join(' '), document).toMatch(types)
  const ranges = events.filter((e) => e.type === 'document.changed').map((e) => e.data)
  expect(ranges[0].from, document).toBe(1)
  for (let i = 1; i < ranges.length; i++) expect(ranges[i].from, `${document} range ${i}`).toBe(ranges[i - 1].to + 1)
  expect(ranges.at(-1)?.to, document).toBe(lastUpdate)
  for (const r of receiver.received.filter((r) => r.event.document === document)) {
    expect(r.event.id).toBe(r.id)
    expect(verify(secret, r.headers, r.body), `signature of ${r.id}`).toBe(true)
    expect(verify('another-secret-0123456789abcdefghij', r.headers, r.body)).toBe(false)
    const first = receiver.received.find((other) => other.id === r.id) as Received
    expect(JSON.parse(r.body), 'a repeated event is the same event').toEqual(JSON.parse(first.body))
  }
  expect(receiver.outOfOrder).toEqual([])
}

const fast = ['--webhook-secret', secret, '--webhook-debounce-ms', '100', '--webhook-retry-base-ms', '50', '--webhook-retry-max-ms', '400', '--webhook-timeout-ms', '1000']

/** The storage flags of one backend; PostgreSQL tables are dropped after the test. */
type Backend = () => string[]

const sqlite: Backend = () => {
  const dir = mkdtempSync(join(tmpdir(), 'coedit-webhooks-'))
  onTeardown(() => rmSync(dir, { recursive: true, force: true }))
  return ['--storage', 'sqlite', '--data-dir', dir]
}

const postgres: Backend = () => {
  const prefix = uniqueTablePrefix()
  onTeardown(async () => {
    await dropPostgresTables(prefix)
    const client = new pg.Client({ connectionString: postgresUrl() })
    await client.connect()
    await client.query(`DROP TABLE IF EXISTS ${prefix}_webhook_outbox, ${prefix}_webhook_sequences`)
    await client.end()
  })
  return ['--storage', 'postgres', '--database-url', postgresUrl(), '--table-prefix', prefix]
}

/** The tests every backend passes; `durable` ones also keep their outbox through SIGKILL. */
function suite (backend: Backend, durable: boolean): void {
  it('folds the changes of one debounce window into one event, and opens a new one after any other event', async () => {
    const receiver = new Receiver()
    await receiver.listen()
    const relay = await startChildRelay([...backend(), '--webhook-url', receiver.url, ...fast, '--webhook-debounce-ms', '600000'])
    await put(relay, 'zeta', 'one')
    await put(relay, 'zeta', 'two')
    await call(relay, 'DELETE', '/api/documents/zeta')
    await call(relay, 'POST', '/api/documents/zeta/restore')
    await put(relay, 'zeta', 'three')
    await put(relay, 'zeta', 'four')
    const listed = (await pendingDeliveries(relay)).map(({ type, sequence, data, state, attempts }) => ({ type, sequence, data, state, attempts }))
    expect(listed).toEqual([
      { type: 'document.changed', sequence: 1, data: { from: 1, to: 2 }, state: 'pending', attempts: 0 },
      { type: 'document.deleted', sequence: 2, data: { deletedAtMs: expect.any(Number) }, state: 'pending', attempts: 0 },
      // Deleting unloads the room, which first records what changed since its last version.
      { type: 'version.created', sequence: 3, data: { version: 1, name: null, seq: 2, authors: [] }, state: 'pending', attempts: 0 },
      { type: 'document.restored', sequence: 4, data: {}, state: 'pending', attempts: 0 },
      { type: 'document.changed', sequence: 5, data: { from: 3, to: 4 }, state: 'pending', attempts: 0 }
    ])
    expect(receiver.received).toEqual([])
  })

  it('delivers every event in order through 500s and refused connections', async () => {
    const receiver = new Receiver()
    await receiver.listen()
    receiver.script.push('error', 'error', 'close')
    const relay = await startChildRelay([...backend(), '--webhook-url', receiver.url, ...fast])
    const documents = ['alpha', 'beta']
    for (const name of documents) {
      await put(relay, name, `${name} one`)
      await put(relay, name, `${name} two`)
    }
    // The third request closed the receiver: reopen it on the same port once an attempt was refused.
    await until(() => relay.log.some((line) => line.includes('webhook.failed') && line.includes('ECONNREFUSED')), 'a refused attempt')
    await receiver.listen()
    for (const name of documents) {
      await call(relay, 'DELETE', `/api/documents/${name}`)
      await call(relay, 'POST', `/api/documents/${name}/restore`)
      await put(relay, name, `${name} three`)
    }
    await allDelivered(receiver, [relay], documents, 3)
    for (const name of documents) await expectComplete(receiver, name, /^(changed )+deleted( version\.created)? restored( changed)+$/, 3)
    expect(relay.log.some((line) => line.includes('webhook.failed') && line.includes('status=500'))).toBe(true)
    expect(relay.log.every((line) => !line.includes('"sequence"'))).toBe(true) // no body in the log
  })

  if (durable) it('delivers every event after the server is killed with events unsent or in flight', async () => {
    const receiver = new Receiver()
    await receiver.listen()
    receiver.fallback = 'hang'
    const flags = [...backend(), '--webhook-url', receiver.url, ...fast]
    const first = await startChildRelay(flags)
    await put(first, 'gamma', 'gamma one')
    await until(() => receiver.heldCount > 0, 'an attempt in flight')
    await put(first, 'gamma', 'gamma two')
    await call(first, 'DELETE', '/api/documents/gamma')
    await call(first, 'POST', '/api/documents/gamma/restore')
    await put(first, 'delta', 'delta one')
    await put(first, 'gamma', 'gamma three')
    // Killed right after the last edit was confirmed saved, with gamma's first event unanswered.
    await first.kill()
    expect(receiver.acknowledged.size, 'nothing was delivered before the kill').toBe(0)
    receiver.dropHeld()
    receiver.fallback = 'ok'
    const second = await startChildRelay(flags)
    await put(second, 'delta', 'delta two')
    await allDelivered(receiver, [second], ['gamma'], 3)
    await allDelivered(receiver, [second], ['delta'], 2)
    await expectComplete(receiver, 'gamma', /^(changed )+deleted( version\.created)? restored( changed)+$/, 3)
    await expectComplete(receiver, 'delta', /^changed( changed)*$/, 2)
  })

  it('sends version.created for named and automatic versions, in order with the changes', async () => {
    const receiver = new Receiver()
    await receiver.listen()
    const relay = await startChildRelay([...backend(), '--webhook-url', receiver.url, ...fast, '--version-quiet-ms', '1000'])
    await put(relay, 'eta', 'one')
    await until(() => versionEvents(receiver, 'eta').length === 1, 'the automatic version')
    await put(relay, 'eta', 'two')
    const named = await createVersion(relay, 'eta', 'Submitted')
    // Naming the newest version again stores nothing new and sends nothing.
    expect(await createVersion(relay, 'eta', 'Final')).toBe(named)
    await put(relay, 'eta', 'three')
    await until(async () => versionEvents(receiver, 'eta').length === 3 && (await pendingDeliveries(relay)).length === 0, 'the last automatic version')
    expect(versionEvents(receiver, 'eta')).toEqual([
      { version: 1, name: null, seq: 1, authors: expect.any(Array) },
      { version: named, name: 'Submitted', seq: 2, authors: expect.any(Array) },
      { version: 3, name: null, seq: 3, authors: expect.any(Array) }
    ])
    const listed = await (await fetch(`${relay.url}/api/documents/eta/versions`)).json() as { versions: Array<{ id: number }> }
    expect(listed.versions.map((version) => version.id)).toEqual([1, 2, 3])
    await expectComplete(receiver, 'eta', /^(changed )+version\.created (changed )+version\.created (changed )+version\.created$/, 3)
    expectVersionsInPlace(receiver, 'eta')
  })

  if (durable) it('delivers a version.created recorded just before the server is killed', async () => {
    const receiver = new Receiver()
    await receiver.listen()
    receiver.fallback = 'hang'
    const flags = [...backend(), '--webhook-url', receiver.url, ...fast, '--version-quiet-ms', '600000']
    const first = await startChildRelay(flags)
    await put(first, 'theta', 'theta one')
    await until(() => receiver.heldCount > 0, 'an attempt in flight')
    const named = await createVersion(first, 'theta', 'Before the crash')
    await first.kill()
    expect(receiver.acknowledged.size, 'nothing was delivered before the kill').toBe(0)
    receiver.dropHeld()
    receiver.fallback = 'ok'
    const second = await startChildRelay(flags)
    await until(async () => versionEvents(receiver, 'theta').length === 1 && (await pendingDeliveries(second)).length === 0, 'the version after the restart')
    expect(versionEvents(receiver, 'theta')).toEqual([{ version: named, name: 'Before the crash', seq: 1, authors: expect.any(Array) }])
    await expectComplete(receiver, 'theta', /^changed version\.created$/, 1)
    expectVersionsInPlace(receiver, 'theta')
  })
}

describe('webhooks on SQLite', () => suite(sqlite, true))

describe('webhooks on the memory store', () => suite(() => ['--storage', 'memory'], false))

describe('webhooks that cannot be delivered', () => {
  it('holds back only the document whose event the receiver does not answer', async () => {
    const receiver = new Receiver()
    await receiver.listen()
    receiver.hangDocument = 'stuck'
    const relay = await startChildRelay([...sqlite(), '--webhook-url', receiver.url, ...fast, '--webhook-timeout-ms', '600000'])
    await put(relay, 'stuck', 'one')
    await until(() => receiver.heldCount === 1, 'the stuck document\'s event in flight')
    await put(relay, 'stuck', 'two')
    for (const name of ['free', 'also-free']) {
      await put(relay, name, 'one')
      await put(relay, name, 'two')
    }
    await allDelivered(receiver, [], ['free', 'also-free'], 2)
    expect(receiver.firstReceipts('stuck').map((r) => r.event.sequence)).toEqual([1])
    expect(receiver.heldCount).toBe(1)
  })

  it('gives up after the retry period, lists the event for operators only, counts it and sends the next one', async () => {
    const receiver = new Receiver()
    await receiver.listen()
    receiver.script.push('error')
    const authSecret = testSecret('hooks')
    const operator = { authorization: `Bearer ${await signToken(authSecret, { doc: '*', perm: 'write' })}` }
    const reader = { authorization: `Bearer ${await signToken(authSecret, { doc: '*', perm: 'read' })}` }
    const relay = await startChildRelay([...sqlite(), '--auth-secret', authSecret, '--webhook-url', receiver.url, ...fast, '--webhook-retry-for-seconds', '0'])
    const edit = async (text: string): Promise<void> => {
      const res = await fetch(`${relay.url}/api/documents/epsilon/text`, { method: 'PUT', body: text, headers: { 'content-type': 'text/plain', ...operator } })
      expect(res.status).toBe(200)
    }
    const deliveries = async (headers: Record<string, string>): Promise<Response> => await fetch(`${relay.url}/api/webhooks/deliveries`, { headers })
    await edit('first')
    let listed: Array<Record<string, unknown>> = []
    await until(async () => {
      listed = ((await (await deliveries(operator)).json()) as { deliveries: Array<Record<string, unknown>> }).deliveries
      return listed.length === 1 && listed[0].state === 'failed'
    }, 'the event marked failed')
    expect(listed[0]).toMatchObject({ type: 'document.changed', document: 'epsilon', sequence: 1, attempts: 1, lastError: 'HTTP 500', nextAttempt: null })
    expect((await deliveries({})).status).toBe(401)
    expect((await deliveries(reader)).status).toBe(403)
    expect(relay.log.some((line) => line.includes('webhook.failed') && line.includes('status=500') && line.includes('final=true'))).toBe(true)

    // A failed event no longer holds back the document's next one.
    await edit('second')
    await until(() => receiver.acknowledged.size === 1, 'the next event delivered')
    expect(receiver.firstReceipts('epsilon').map((r) => [r.event.sequence, r.event.data])).toEqual([[1, { from: 1, to: 1 }], [2, { from: 2, to: 2 }]])
    const metrics = await (await fetch(`${relay.url}/metrics`, { headers: operator })).text()
    expect(metrics).toMatch(/^coedit_webhook_deliveries_total\{outcome="failed"\} 1$/m)
    expect(metrics).toMatch(/^coedit_webhook_deliveries_total\{outcome="delivered"\} 1$/m)
  })
})

await describeWithServices(['postgres'], 'webhooks on PostgreSQL', () => suite(postgres, true))

await describeWithServices(['postgres', 'redis'], 'webhooks from two processes on PostgreSQL', () => {
  it('delivers each event once per id and in order when both processes deliver', async () => {
    const receiver = new Receiver()
    await receiver.listen()
    receiver.script.push('error', 'error', 'error')
    const flags = [...postgres(), '--redis-url', redisUrl(), '--webhook-url', receiver.url, ...fast]
    const relays = [await startChildRelay(flags), await startChildRelay(flags)]
    const documents = ['one', 'two', 'three', 'four']
    for (let round = 1; round <= 3; round++) {
      await Promise.all(documents.map((name, i) => put(relays[(i + round) % 2], name, `${name} ${round}`)))
      if (round === 2) {
        await Promise.all(documents.map((name, i) => call(relays[i % 2], 'DELETE', `/api/documents/${name}`)))
        await Promise.all(documents.map((name, i) => call(relays[(i + 1) % 2], 'POST', `/api/documents/${name}/restore`)))
      }
    }
    await allDelivered(receiver, relays, documents, 3)
    for (const name of documents) await expectComplete(receiver, name, /^(changed )+deleted( version\.created)? restored( changed)+$/, 3)
    // No attempt outlived its lease here, so no event was delivered twice: by one process or the other, once.
    expect(receiver.acknowledgements).toBe(receiver.acknowledged.size)
    const delivered = await Promise.all(relays.map(async (relay) => {
      const text = await (await fetch(`${relay.url}/metrics`)).text()
      return Number(/^coedit_webhook_deliveries_total\{outcome="delivered"\} (\d+)$/m.exec(text)?.[1] ?? 0)
    }))
    expect(delivered[0] + delivered[1]).toBe(receiver.acknowledged.size)
  })
})
