/**
 * Storage faults, injected for real: PostgreSQL behind a TCP proxy that cuts
 * or hangs the connection at a chosen protocol message, a PostgreSQL table
 * locked past the statement timeout, and SQLite locked by another
 * connection. Whatever breaks, the process lives on (no unhandled
 * 'error' event or rejection reaches it), the rooms whose writes were lost
 * close their clients with 1011 without forwarding any of those writes, and
 * once storage is back the clients reconnect, converge, and the stored
 * document holds everything any client ever received from the relay.
 */
import { afterAll, beforeEach, expect, it } from 'vitest'
import * as Y from 'yjs'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import pg from 'pg'
import type { DocStore } from '../../server/storage/store.js'
import { openPostgresStore, type PostgresStoreOptions } from '../../server/storage/postgres.js'
import { openSqliteStore } from '../../server/storage/sqlite.js'
import { applyStoredDocument } from '../../server/protocol/document.js'
import { RawClient, highestClocks, missingFrom } from '../helpers/raw-client.js'
import { onTeardown, startTestRelay, waitFor } from '../helpers/relay.js'
import { buildServer, startChildRelay } from '../helpers/child-relay.js'
import { startTcpProxy, type FrontendMessage, type TcpProxy } from '../helpers/tcp-proxy.js'
import { describeWithServices, dropPostgresTables, postgresUrl, uniqueTablePrefix } from '../helpers/services.js'

/** Errors that reached the process instead of the code that should have handled them. */
const escaped: unknown[] = []
const record = (err: unknown): void => { escaped.push(err) }
process.on('uncaughtException', record)
process.on('unhandledRejection', record)
beforeEach(() => { escaped.length = 0 })
afterAll(() => {
  process.off('uncaughtException', record)
  process.off('unhandledRejection', record)
})

const MiB = 1024 * 1024

/** Rooms by name, with two clients each. */
interface Rooms {
  readonly clients: ReadonlyMap<string, readonly RawClient[]>
}

/** Two clients (not connected yet) for each room in `names`, destroyed after the test. */
function makeRooms (names: readonly string[]): Rooms {
  const clients = new Map(names.map((name) => [name, [new RawClient(), new RawClient()]]))
  onTeardown(() => { for (const pair of clients.values()) for (const client of pair) client.destroy() })
  return { clients }
}

const textOf = (client: RawClient): string => client.doc.getText('text').toString()

/** Inserts `text` at the start of the client's document (sent at once while connected). */
function type (client: RawClient, text: string): void {
  client.doc.getText('text').insert(0, text)
}

/** Connects every client of every room. */
async function connectAll (url: string, rooms: Rooms): Promise<void> {
  await Promise.all([...rooms.clients].flatMap(([room, clients]) => clients.map((client) => client.connect(url, room))))
}

/** Connects `client` to `room`, retrying while the relay still refuses, for up to `timeoutMs`. */
async function connectRetrying (client: RawClient, url: string, room: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      await client.connect(url, room)
      return
    } catch (err) {
      if (Date.now() > deadline) throw err
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
}

/** Reconnects every client until all are synced. */
async function reconnectAll (url: string, rooms: Rooms): Promise<void> {
  await Promise.all([...rooms.clients].flatMap(([room, clients]) => clients.map((client) => connectRetrying(client, url, room))))
}

/** Waits until both clients of every room hold the same text, containing each of `expected[room]`. */
async function converged (rooms: Rooms, expected: Record<string, string[]>): Promise<void> {
  await waitFor(() => [...rooms.clients].every(([room, [a, b]]) =>
    textOf(a) === textOf(b) && expected[room].every((part) => textOf(a).includes(part))), 20_000, 'clients to converge')
}

/** What clients learnt from the relay: updates received and state vectors it claimed to hold. */
interface Revealed {
  readonly updates: Uint8Array[]
  readonly vectors: Uint8Array[]
}

/** Hands over what `clients` learnt from the relay since the last call. */
function takeRevealed (clients: readonly RawClient[]): Revealed {
  const revealed: Revealed = { updates: [], vectors: [] }
  for (const client of clients) {
    const { updates, stateVectors } = client.takeRevealed()
    revealed.updates.push(...updates)
    revealed.vectors.push(...stateVectors)
  }
  return revealed
}

/** The document as stored, read by a fresh store instance. */
async function storedDoc (store: DocStore, name: string): Promise<Y.Doc> {
  const doc = new Y.Doc()
  applyStoredDocument(doc, await store.load(name))
  onTeardown(() => doc.destroy())
  return doc
}

/**
 * Checks the whole story of a fault: every client was closed with 1011, no
 * client got the edits typed during the fault before recovery, and after
 * recovery the stored documents hold all the clients received.
 */
async function expectRecovered (rooms: Rooms, reader: DocStore, revealedBefore: Map<string, Revealed>): Promise<void> {
  for (const [room, clients] of rooms.clients) {
    const after = takeRevealed(clients)
    const before = revealedBefore.get(room)!
    const doc = await storedDoc(reader, room)
    expect(doc.getText('text').toString()).toBe(textOf(clients[0]))
    const received = Y.mergeUpdates([new Uint8Array([0, 0]), ...before.updates, ...after.updates])
    expect(missingFrom(doc, received, highestClocks([...before.vectors, ...after.vectors])), room).toEqual([])
  }
}

interface Setup {
  readonly proxy: TcpProxy
  readonly prefix: string
  /** A store on the same tables that does not go through the proxy. */
  direct (): Promise<DocStore>
}

/** PostgreSQL tables of their own behind a fresh proxy; everything is removed after the test. */
async function postgresBehindProxy (): Promise<Setup> {
  const prefix = uniqueTablePrefix()
  onTeardown(() => dropPostgresTables(prefix))
  const proxy = await startTcpProxy()
  onTeardown(() => proxy.close())
  return {
    proxy,
    prefix,
    async direct () {
      const store = await openPostgresStore({ connectionString: postgresUrl(), tablePrefix: prefix })
      onTeardown(() => store.close())
      return store
    }
  }
}

/** A store through the proxy, closed (with the proxy passing again) after the test. */
async function proxiedStore (setup: Setup, options: Partial<PostgresStoreOptions> = {}): Promise<DocStore> {
  const store = await openPostgresStore({ connectionString: setup.proxy.url(postgresUrl()), tablePrefix: setup.prefix, ...options })
  onTeardown(async () => {
    setup.proxy.restore()
    await store.close()
  })
  return store
}

/** A way to break storage, and to mend it. */
interface Fault {
  /** Breaks storage, or arms a break for a later message; resolves once in place. */
  inject (): Promise<void>
  /** Resolves once storage is broken, for a break that waits for a message. */
  broken? (): Promise<unknown>
  /** Checks while storage is broken and every client was closed. */
  whileBroken? (): Promise<void>
  /** Makes storage work again; may be called again once it works. */
  repair (): void
}

/** Cuts every connection when a client sends a message of which `predicate` holds, then refuses connections. */
function cutWhen (setup: Setup, predicate: (message: FrontendMessage) => boolean, options: { forward?: boolean } = {}): Fault {
  let cut: Promise<FrontendMessage> | null = null
  return {
    inject: async () => { cut = setup.proxy.cutWhen(predicate, options) },
    broken: async () => await cut,
    repair: () => setup.proxy.restore()
  }
}

const isInsert = (message: FrontendMessage): boolean => message.sql?.startsWith('INSERT') ?? false
const isCommit = (message: FrontendMessage): boolean => message.sql === 'COMMIT'

/** The stored text of each room, read behind the relay's back. */
async function storedTexts (setup: Setup, rooms: Rooms): Promise<Map<string, string>> {
  const reader = await setup.direct()
  const names = [...rooms.clients.keys()]
  return new Map(await Promise.all(names.map(async (room) => [room, (await storedDoc(reader, room)).getText('text').toString()] as const)))
}

/** An INSERT that never reaches the server: nothing typed during the fault is stored. */
function cutAtInsert (setup: Setup, rooms: Rooms): Fault {
  return {
    ...cutWhen(setup, isInsert),
    async whileBroken () {
      for (const [room, text] of await storedTexts(setup, rooms)) expect(text).not.toContain(`${room}-during`)
    }
  }
}

/**
 * A `COMMIT` that reaches the server just before the connection is cut: it
 * commits, but the relay cannot know and fails the group. The database is
 * then checked to hold the `-during` edit of at least one room.
 */
function cutAfterCommit (setup: Setup, rooms: Rooms): Fault {
  return {
    ...cutWhen(setup, isCommit, { forward: true }),
    async whileBroken () {
      const texts = [...await storedTexts(setup, rooms)]
      expect(texts.some(([room, text]) => text.includes(`${room}-during`)), JSON.stringify(texts)).toBe(true)
    }
  }
}

/**
 * Two rooms edit; `fault` breaks storage right before both type once more.
 * The relay must fail both rooms with 1011 without forwarding those edits,
 * refuse loads while broken (1011), and once repaired let the clients
 * reconnect and converge, with the store (read through `reader`) holding
 * everything they ever received.
 */
async function survivesFault (url: string, rooms: Rooms, fault: Fault, reader: () => Promise<DocStore>): Promise<void> {
  await connectAll(url, rooms)
  const names = [...rooms.clients.keys()]
  const typed = (...phases: string[]): Record<string, string[]> =>
    Object.fromEntries(names.map((room) => [room, phases.map((phase) => `${room}-${phase}`)]))
  for (const room of names) type(rooms.clients.get(room)![0], `${room}-before `)
  await converged(rooms, typed('before'))

  await fault.inject()
  onTeardown(() => fault.repair()) // first thing after a failed assertion, so closing the relay does not wait on it
  for (const room of names) type(rooms.clients.get(room)![0], `${room}-during `)
  await fault.broken?.()
  const everyone = [...rooms.clients.values()].flat()
  await waitFor(() => everyone.every((client) => client.closeCodes.length > 0), 20_000, 'every client to be closed')
  expect(everyone.map((client) => client.closeCodes)).toEqual(everyone.map(() => [1011]))
  for (const room of names) expect(textOf(rooms.clients.get(room)![1])).not.toContain(`${room}-during`)
  const revealedBefore = new Map([...rooms.clients].map(([room, clients]) => [room, takeRevealed(clients)]))
  await fault.whileBroken?.()

  // While storage is down, loading the room fails and closes the connection with 1011.
  const [room, [, second]] = [...rooms.clients][0]
  await expect(second.connect(url, room)).rejects.toThrow(/1011/)

  fault.repair()
  // The first load after recovery, before anyone resends, shows exactly what committed.
  const store = await reader()
  for (const room of names) {
    const probe = new RawClient()
    onTeardown(() => probe.destroy())
    await connectRetrying(probe, url, room)
    expect(textOf(probe)).toBe((await storedDoc(store, room)).getText('text').toString())
    probe.terminate()
  }
  await reconnectAll(url, rooms)
  await converged(rooms, typed('before', 'during'))
  // Edits after recovery are saved and relayed as usual.
  for (const room of names) type(rooms.clients.get(room)![1], `${room}-after `)
  await converged(rooms, typed('before', 'during', 'after'))
  await expectRecovered(rooms, store, revealedBefore)
  expect(escaped).toEqual([])
}

await describeWithServices(['postgres'], 'PostgreSQL faults', () => {
  it('survives the connection dropped at INSERT', async () => {
    const setup = await postgresBehindProxy()
    const relay = await startTestRelay({ store: await proxiedStore(setup) })
    const rooms = makeRooms(['insert-a', 'insert-b'])
    await survivesFault(relay.url, rooms, cutAtInsert(setup, rooms), setup.direct)
  })

  it('survives the connection dropped once COMMIT was sent: the outcome is unknown, and here it committed', async () => {
    const setup = await postgresBehindProxy()
    const relay = await startTestRelay({ store: await proxiedStore(setup) })
    const rooms = makeRooms(['commit-a', 'commit-b'])
    await survivesFault(relay.url, rooms, cutAfterCommit(setup, rooms), setup.direct)
  })

  it('fails the group when the database hangs, through the query and connect timeouts', async () => {
    const setup = await postgresBehindProxy()
    const store = await proxiedStore(setup, { queryTimeoutMs: 1_000, connectTimeoutMs: 1_000, statementTimeoutMs: 500 })
    const relay = await startTestRelay({ store })
    await survivesFault(relay.url, makeRooms(['hang-a', 'hang-b']), {
      inject: async () => setup.proxy.hang(),
      repair: () => setup.proxy.restore()
    }, setup.direct)
  })

  it('fails the group when a statement waits on a lock past the statement timeout', async () => {
    const setup = await postgresBehindProxy()
    const store = await proxiedStore(setup, { statementTimeoutMs: 300 })
    const relay = await startTestRelay({ store })
    const locker = new pg.Client({ connectionString: postgresUrl() })
    await locker.connect()
    onTeardown(() => locker.end())
    await survivesFault(relay.url, makeRooms(['locked-a', 'locked-b']), {
      // Writes and reads of the log wait for this lock until the server cancels them.
      inject: async () => {
        await locker.query('BEGIN')
        await locker.query(`LOCK TABLE ${setup.prefix}_updates IN ACCESS EXCLUSIVE MODE`)
      },
      repair: () => { void locker.query('ROLLBACK').catch(() => {}) } // outside a transaction: a warning only
    }, setup.direct)
  })

  it('keeps the real server process running when the connection drops at COMMIT', async () => {
    buildServer()
    const setup = await postgresBehindProxy()
    const child = await startChildRelay(['--storage', 'postgres', '--database-url', setup.proxy.url(postgresUrl()), '--table-prefix', setup.prefix])
    const rooms = makeRooms(['child-a', 'child-b'])
    await survivesFault(child.url, rooms, cutAfterCommit(setup, rooms), setup.direct)
    expect(child.running).toBe(true)
    expect(child.log.some((line) => line.includes('room.failed'))).toBe(true)
    expect(await child.stop()).toBe(0)
  }, 90_000)

  it('commits large writes in capped groups, sending the bytes in binary', async () => {
    const setup = await postgresBehindProxy()
    const store = await proxiedStore(setup)
    let commits = 0
    setup.proxy.onMessage = (message) => { if (message.sql === 'COMMIT') commits++ }
    // 40 writes of 1 MiB in one turn (five groups of 8 MiB), and one 24 MiB write that goes alone.
    const small = Array.from({ length: 40 }, () => randomBytes(MiB))
    const large = randomBytes(24 * MiB)
    const payload = small.length * MiB + large.length
    const sentBefore = setup.proxy.bytesFromClients
    await Promise.all([...small.map((data, i) => store.append(`large-${i % 2}`, data)), store.append('large-2', large)])
    const sent = setup.proxy.bytesFromClients - sentBefore
    expect(commits).toBe(6)
    // Hex text would be twice the payload; binary is the payload plus a little framing.
    expect(sent).toBeGreaterThanOrEqual(payload)
    expect(sent).toBeLessThan(payload * 1.01)
    const digest = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')
    const reader = await setup.direct()
    for (let doc = 0; doc < 2; doc++) {
      const stored = await reader.load(`large-${doc}`)
      expect(stored.updates.map(digest)).toEqual(small.filter((_, i) => i % 2 === doc).map(digest))
    }
    expect((await reader.load('large-2')).updates.map(digest)).toEqual([digest(large)])
    expect(escaped).toEqual([])
  }, 60_000)
})

it('closes a room with 1011 when SQLite cannot write, keeps serving other rooms, and recovers', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'coedit-faults-'))
  onTeardown(() => rm(dataDir, { recursive: true, force: true }))
  const store = openSqliteStore({ dataDir, busyTimeoutMs: 20 })
  onTeardown(() => store.close())
  const relay = await startTestRelay({ store })
  const rooms = makeRooms(['sqlite-a'])
  const other = makeRooms(['sqlite-b'])
  await connectAll(relay.url, rooms)
  await connectAll(relay.url, other)
  const [a0, a1] = rooms.clients.get('sqlite-a')!
  const [b0, b1] = other.clients.get('sqlite-b')!
  type(a0, 'a-before ')
  type(b0, 'b-before ')
  await converged(rooms, { 'sqlite-a': ['a-before'] })
  await converged(other, { 'sqlite-b': ['b-before'] })

  // Another process holds the write lock: every write fails after the busy timeout.
  const locker = new Database(join(dataDir, 'coedit.db'))
  onTeardown(() => { if (locker.open) locker.close() })
  locker.exec('BEGIN EXCLUSIVE')
  type(a0, 'a-during ')
  await waitFor(() => a0.closeCodes.length > 0 && a1.closeCodes.length > 0, 10_000, 'room a to close')
  expect([a0.closeCodes, a1.closeCodes]).toEqual([[1011], [1011]])
  expect(textOf(a1)).not.toContain('a-during')
  // Room b did not write meanwhile: it stays, and a newcomer still joins it.
  expect(b0.connected && b1.connected).toBe(true)
  const newcomer = new RawClient()
  onTeardown(() => newcomer.destroy())
  await newcomer.connect(relay.url, 'sqlite-b')
  expect(textOf(newcomer)).toBe(textOf(b0))

  locker.exec('ROLLBACK')
  locker.close()
  type(b0, 'b-after ')
  await converged(other, { 'sqlite-b': ['b-before', 'b-after'] })
  const revealedBefore = new Map([['sqlite-a', takeRevealed([a0, a1])]])
  await reconnectAll(relay.url, rooms)
  await converged(rooms, { 'sqlite-a': ['a-before', 'a-during'] })
  await expectRecovered(rooms, store, revealedBefore)
  expect(escaped).toEqual([])
})
