/**
 * The durability promise through a real relay, real sockets, stock
 * y-websocket clients and real SQLite / PostgreSQL: restarts, compaction,
 * racing connects during a slow load, damaged rows, failing writes, and
 * memory given back when rooms unload. (`crash.test.ts` kills the server
 * process itself.)
 */
import { describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import * as syncProtocol from 'y-protocols/sync'
import type { DocStore } from '../../server/storage/store.js'
import type { Relay } from '../../server/relay.js'
import { applyStoredDocument } from '../../server/protocol/document.js'
import { captureLog, connectClient, startTestRelay, synced, waitFor, type TestClient } from '../helpers/relay.js'
import { persistentBackends, type StoreBackend } from '../helpers/stores.js'
import { describeWithServices } from '../helpers/services.js'
import { seededRandom, type Random } from '../helpers/random.js'
import { memoryAfterGc } from '../helpers/memory.js'

/** An update that inserts `text` into the shared text of a document of its own. */
function textUpdate (text: string): Uint8Array {
  const doc = new Y.Doc()
  doc.getText('text').insert(0, text)
  return Y.encodeStateAsUpdate(doc)
}

/** Deletes 1–3 characters (three times in ten) or inserts a 1–4 letter word, at a random place. */
function randomEdit (text: Y.Text, random: Random): void {
  if (text.length > 0 && random.next() < 0.3) {
    const at = random.int(text.length)
    text.delete(at, Math.min(1 + random.int(3), text.length - at))
  } else {
    text.insert(random.int(text.length + 1), random.word(1 + random.int(4)))
  }
}

/** What a client holds: its text and its state vector as hex, for exact comparison. */
function stateOf (doc: Y.Doc): { text: string, stateVector: string } {
  return { text: doc.getText('text').toString(), stateVector: Buffer.from(Y.encodeStateVector(doc)).toString('hex') }
}

/** The document a store holds, read through a new instance on the same storage. */
async function storedDocument (open: () => Promise<DocStore>, name: string): Promise<Y.Doc> {
  const doc = new Y.Doc()
  applyStoredDocument(doc, await (await open()).load(name), name)
  return doc
}

/** Resolves once `a` and `b` hold the same document. */
async function converged (a: TestClient, b: TestClient): Promise<void> {
  await waitFor(() => JSON.stringify(stateOf(a.doc)) === JSON.stringify(stateOf(b.doc)), 10_000, 'convergence')
}

/** Resolves with the close code of the client's next closed connection. */
function nextCloseCode (client: TestClient): Promise<number> {
  return new Promise((resolve) => {
    const onClose = (event: { code: number } | null): void => {
      if (!event) return
      client.provider.off('connection-close', onClose)
      resolve(event.code)
    }
    client.provider.on('connection-close', onClose)
  })
}

/** `store` whose loads wait until `release()`; `loads` counts the calls. */
function withHeldLoads (store: DocStore): { store: DocStore, release: () => void, readonly loads: number } {
  let release!: () => void
  const gate = new Promise<void>((resolve) => { release = resolve })
  let loads = 0
  return {
    store: {
      load: async (name) => { loads++; await gate; return await store.load(name) },
      append: (name, update) => store.append(name, update),
      readSince: (name, seq) => store.readSince(name, seq),
      replace: (name, snapshot) => store.replace(name, snapshot),
      list: () => store.list(),
      release: (name: string) => store.release(name),
      ping: () => store.ping(),
      close: () => store.close()
    },
    release,
    get loads () { return loads }
  }
}

/** `store` whose appends to `failing` reject while `failing` is set. */
function withFailingAppends (store: DocStore): { store: DocStore, failing: string | null } {
  const wrapper = {
    failing: null as string | null,
    store: {
      load: (name: string) => store.load(name),
      append: (name: string, update: Uint8Array) => name === wrapper.failing ? Promise.reject(new Error('disk full')) : store.append(name, update),
      readSince: (name: string, seq: number) => store.readSince(name, seq),
      replace: (name: string, snapshot: Uint8Array) => store.replace(name, snapshot),
      list: () => store.list(),
      release: (name: string) => store.release(name),
      ping: () => store.ping(),
      close: () => store.close()
    }
  }
  return wrapper
}

function durabilitySuite (backend: StoreBackend): void {
  it('keeps every edit a client received when the relay is abandoned without a shutdown', async () => {
    const storage = await backend.create()
    const first = await startTestRelay({ store: await storage.open() })
    const a = connectClient(first, 'abandoned')
    const b = connectClient(first, 'abandoned')
    await Promise.all([synced(a), synced(b)])
    a.text.insert(0, 'hello')
    a.text.insert(5, ' world')
    a.text.delete(0, 1)
    await converged(a, b) // b received it, so it is stored
    const second = await startTestRelay({ store: await storage.open() }) // the first one is never closed before this
    const c = connectClient(second, 'abandoned')
    await synced(c)
    expect(stateOf(c.doc)).toEqual(stateOf(a.doc))
  })

  it('keeps documents across a clean restart, byte for byte', async () => {
    const storage = await backend.create()
    const store = await storage.open()
    const relay = await startTestRelay({ store })
    const random = seededRandom(7)
    const expected = new Map<string, ReturnType<typeof stateOf>>()
    for (const name of ['one', 'two', 'three']) {
      const writer = connectClient(relay, name)
      await synced(writer)
      for (let i = 0; i < 30; i++) randomEdit(writer.text, random)
      const reader = connectClient(relay, name)
      await converged(writer, reader)
      expected.set(name, stateOf(writer.doc))
    }
    await relay.close()
    await store.close()
    const restarted = await startTestRelay({ store: await storage.open() })
    for (const [name, state] of expected) {
      const client = connectClient(restarted, name)
      await synced(client)
      expect(stateOf(client.doc), name).toEqual(state)
    }
  })

  it('compaction keeps the document identical, byte for byte', async () => {
    const storage = await backend.create()
    const relay = await startTestRelay({ store: await storage.open(), compactAfterUpdates: 5 })
    const a = connectClient(relay, 'compacted')
    const b = connectClient(relay, 'compacted')
    await Promise.all([synced(a), synced(b)])
    const random = seededRandom(11)
    for (let i = 0; i < 120; i++) {
      randomEdit((i % 3 === 0 ? b : a).text, random)
      if (i % 10 === 0) await converged(a, b) // edits land in many separate store writes
    }
    await converged(a, b)
    const stored = await (await storage.open()).load('compacted')
    expect(stored.snapshot).not.toBeNull()
    expect(stored.updates.length).toBeLessThan(5)
    expect(stateOf(await storedDocument(storage.open, 'compacted'))).toEqual(stateOf(a.doc))
    await relay.close()
    const restarted = await startTestRelay({ store: await storage.open() })
    const c = connectClient(restarted, 'compacted')
    await synced(c)
    expect(stateOf(c.doc)).toEqual(stateOf(a.doc))
  })

  it('gives every client that connects during a slow load the stored document, and loads it once', async () => {
    const storage = await backend.create()
    const storedText = 'stored before anyone came'
    await (await storage.open()).append('slow', textUpdate(storedText))
    const held = withHeldLoads(await storage.open())
    const relay = await startTestRelay({ store: held.store })
    const clients = Array.from({ length: 10 }, () => connectClient(relay, 'slow'))
    const textAtSync: Array<string | null> = clients.map(() => null)
    clients.forEach((client, i) => client.provider.once('sync', () => { textAtSync[i] = client.text.toString() }))
    await waitFor(() => relay.connectionCount === 10 && clients.every((client) => client.provider.wsconnected), 10_000, 'ten open connections')
    clients.slice(0, 3).forEach((client, i) => client.text.insert(0, `early-${i} `)) // sent while the room loads
    expect(held.loads).toBe(1)
    expect(clients.some((client) => client.provider.synced)).toBe(false)
    held.release()
    await Promise.all(clients.map((client) => synced(client)))
    for (const text of textAtSync) expect(text).toContain(storedText)
    await waitFor(() => clients.every((client) => client.text.toString() === clients[0].text.toString()), 10_000, 'convergence')
    const final = clients[0].text.toString()
    for (const early of ['early-0 ', 'early-1 ', 'early-2 ', storedText]) expect(final).toContain(early)
    expect(held.loads).toBe(1)
    await waitFor(() => relay.registry.get('slow')?.text === final)
    expect((await storedDocument(storage.open, 'slow')).getText('text').toString()).toBe(final)
  })

  it('refuses a damaged document with 4410, names it in the log, leaves its bytes alone, and serves the others', async () => {
    const storage = await backend.create()
    const store = await storage.open()
    await store.append('damaged', textUpdate('the good part'))
    await store.append('healthy', textUpdate('healthy text'))
    await storage.insertRawUpdate!('damaged', Buffer.from('not a yjs update'))
    const before = await storage.rawBytes!('damaged')
    const log = captureLog()
    const relay = await startTestRelay({ store, logger: log.logger })
    const refused = connectClient(relay, 'damaged')
    const closed = new Promise<number>((resolve) => refused.provider.once('closed', (event) => resolve(event.code)))
    expect(await closed).toBe(4410)
    expect(log.lines.filter((line) => line.includes('room.corrupt') && line.includes('room=damaged'))).toHaveLength(1)
    expect(relay.registry.get('damaged')).toBeUndefined()
    const a = connectClient(relay, 'healthy')
    const b = connectClient(relay, 'healthy')
    await Promise.all([synced(a), synced(b)])
    expect(a.text.toString()).toBe('healthy text')
    a.text.insert(0, 'still ')
    await waitFor(() => b.text.toString() === 'still healthy text')
    await relay.close() // a clean shutdown compacts every loaded room
    expect(await storage.rawBytes!('damaged')).toEqual(before)
  })

  it('closes the clients of a room whose write fails with 1011, and keeps serving the others', async () => {
    const storage = await backend.create()
    const faulty = withFailingAppends(await storage.open())
    const log = captureLog()
    const relay = await startTestRelay({ store: faulty.store, logger: log.logger })
    const [a, b, c, d] = [connectClient(relay, 'doomed'), connectClient(relay, 'doomed'), connectClient(relay, 'fine'), connectClient(relay, 'fine')]
    await Promise.all([a, b, c, d].map((client) => synced(client)))
    faulty.failing = 'doomed'
    const codes = Promise.all([nextCloseCode(a), nextCloseCode(b)])
    a.text.insert(0, 'not stored')
    expect(await codes).toEqual([1011, 1011])
    expect(b.text.toString()).toBe('') // never forwarded: it was never durable
    expect(log.lines.some((line) => line.includes('room.failed') && line.includes('room=doomed'))).toBe(true)
    c.text.insert(0, 'the relay still works')
    await waitFor(() => d.text.toString() === 'the relay still works')
    const health = await fetch(`${relay.url}/healthz`)
    expect(health.status).toBe(200)
    faulty.failing = null // the stock clients reconnect, and a's edit is stored after all
    await converged(a, b)
    expect(b.text.toString()).toBe('not stored')
    await waitFor(() => relay.registry.get('doomed')?.text === 'not stored')
    expect((await storedDocument(storage.open, 'doomed')).getText('text').toString()).toBe('not stored')
  })
}

for (const backend of persistentBackends) {
  await describeWithServices(backend.services, `durability with ${backend.name}`, () => durabilitySuite(backend))
}

/**
 * Stores one update in `room` through a bare socket that asked for saved
 * confirmations, and resolves with the socket once the update is durable.
 * Holds no Yjs document on the client side, so the test's heap is the relay's.
 */
async function storeThroughRelay (relay: Relay, room: string, update: Uint8Array): Promise<WebSocket> {
  const socket = new WebSocket(`${relay.url.replace(/^http/, 'ws')}/${room}?saved=1`)
  socket.on('error', () => {}) // shows as 'close'; the relay's teardown ends what is left open
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => {
      const encoder = encoding.createEncoder()
      encoding.writeVarUint(encoder, 0) // sync
      syncProtocol.writeUpdate(encoder, update)
      socket.send(encoding.toUint8Array(encoder))
    })
    socket.on('message', (data: Buffer) => { if (data[0] === 100) resolve() }) // messageSaved
    socket.once('close', (code) => reject(new Error(`closed with ${code}`)))
  })
  return socket
}

/** A document of about 30 KB of text in 300 separate insertions. */
function sizeableUpdate (random: Random): Uint8Array {
  const doc = new Y.Doc()
  const text = doc.getText('text')
  for (let i = 0; i < 300; i++) text.insert(random.int(text.length + 1), random.word(100))
  return Y.encodeStateAsUpdate(doc)
}

describe('unloading with sqlite', () => {
  const sqlite = persistentBackends.find((backend) => backend.name === 'sqlite')!

  it('gives back the memory of rooms once they unload', async () => {
    const memory = memoryAfterGc()
    const heapAfterGc = (): number => memory().heapUsed
    const relay = await startTestRelay({
      store: await (await sqlite.create()).open(),
      unloadGraceMs: 20,
      maxConnectionsPerAddress: 1_000
    })
    const random = seededRandom(300)
    const fill = async (prefix: string, count: number): Promise<WebSocket[]> => {
      const sockets: WebSocket[] = []
      for (let i = 0; i < count; i += 50) {
        sockets.push(...await Promise.all(Array.from({ length: Math.min(50, count - i) }, (_, j) =>
          storeThroughRelay(relay, `${prefix}-${i + j}`, sizeableUpdate(random)))))
      }
      return sockets
    }
    const empty = async (sockets: WebSocket[]): Promise<void> => {
      for (const socket of sockets) socket.close()
      await waitFor(() => relay.registry.size === 0 && relay.connectionCount === 0, 20_000, 'every room to unload')
    }
    await empty(await fill('warm-up', 30)) // code paths compiled, pools allocated
    const baseline = heapAfterGc()
    const sockets = await fill('room', 300)
    expect(relay.registry.size).toBe(300)
    const loaded = heapAfterGc()
    const MiB = 1024 * 1024
    expect(loaded - baseline, `300 rooms took only ${((loaded - baseline) / MiB).toFixed(1)} MiB`).toBeGreaterThan(20 * MiB)
    await empty(sockets)
    sockets.length = 0
    // A room leaves the registry before its last compaction commits; it is freed once that is durable.
    const limit = (loaded - baseline) * 0.1
    let after = heapAfterGc()
    await waitFor(() => (after = heapAfterGc()) - baseline < limit, 10_000).catch(() => {})
    const report = `baseline ${(baseline / MiB).toFixed(1)} MiB, 300 rooms ${(loaded / MiB).toFixed(1)} MiB, unloaded ${(after / MiB).toFixed(1)} MiB`
    expect(after - baseline, report).toBeLessThan(limit)
  })
})
