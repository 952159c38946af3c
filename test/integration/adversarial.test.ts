/**
 * Attacks on a running relay over real sockets. Every case checks that the
 * server stays up, that a healthy witness in the same room keeps receiving a
 * healthy writer's edits within 2 s, and that the document holds exactly what
 * healthy clients wrote.
 */
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import WebSocket from 'ws'
import { captureLog, connectClient, startTestRelay, synced, waitFor, type TestClient } from '../helpers/relay.js'
import {
  closeCodeOf, closePayload, encodeFrame, fetchDocument, openTcp, openWebSocket, Opcode, rawUpgrade, Rsv, sendThenProbe,
  upgradeRequest, upgradeStatus, type FrameSpec
} from '../helpers/raw-socket.js'
import { seededRandom } from '../helpers/random.js'
import { memoryAfterGc } from '../helpers/memory.js'
import { encodeAwareness, encodeQueryAwareness, encodeSyncStep1, encodeUpdate, messageAuth } from '../../server/protocol/messages.js'
import { encodeAwarenessUpdate } from '../../server/protocol/awareness.js'
import { createMemoryStore } from '../../server/storage/memory.js'
import { applyStoredDocument } from '../../server/protocol/document.js'
import type { Relay, RelayOptions } from '../../server/relay.js'
import type { DocStore } from '../../server/storage/store.js'

const KiB = 1024
const MiB = 1024 * KiB

/** A relay with a healthy witness and a healthy writer in one room. */
interface Scene {
  readonly relay: Relay
  readonly room: string
  readonly witness: TestClient
  readonly writer: TestClient
  readonly store: DocStore
  /** Lines the relay logged. */
  readonly log: string[]
}

/** Starts a relay with `options`, connects a witness and a writer to `room`, and writes a first line. */
async function scene (options: RelayOptions = {}, room = 'target'): Promise<Scene> {
  const { logger, lines } = captureLog()
  const store = options.store ?? createMemoryStore()
  const relay = await startTestRelay({ logger, store, ...options })
  const witness = connectClient(relay, room)
  const writer = connectClient(relay, room)
  await Promise.all([synced(witness), synced(writer)])
  writer.text.insert(0, 'written by a healthy client\n')
  await waitFor(() => witness.text.toString() === writer.text.toString(), 5_000, 'the first line at the witness')
  return { relay, room, witness, writer, store, log: lines }
}

let markers = 0

/**
 * The writer adds a line; the witness must have it within 2 s, and the
 * server's text must be exactly what the two healthy clients hold.
 */
async function expectHealthy (s: Scene): Promise<void> {
  const line = `still alive ${++markers}\n`
  s.writer.text.insert(s.writer.text.length, line)
  await waitFor(() => s.witness.text.toString() === s.writer.text.toString(), 2_000, `"${line.trim()}" at the witness`)
  await waitFor(() => serverText(s) === s.writer.text.toString(), 2_000, 'the server text to match')
  const health = await fetch(`${s.relay.url}/healthz`)
  expect(health.status).toBe(200)
}

function serverRoom (s: Scene): NonNullable<ReturnType<Relay['registry']['get']>> {
  const room = s.relay.registry.get(s.room)
  if (!room) throw new Error(`room ${s.room} is not loaded`)
  return room
}

function serverDoc (s: Scene): Y.Doc {
  return serverRoom(s).doc
}

function serverText (s: Scene): string {
  return serverDoc(s).getText('text').toString()
}

function stateVector (s: Scene): Uint8Array {
  return Y.encodeStateVector(serverDoc(s))
}

/** Resolves once every message sent to the room so far was handled, including a room rebuild. */
async function settled (s: Scene): Promise<void> {
  await fetchDocument(s.relay, s.room)
}

/** The stored document as a fresh Y.Doc, read straight from the store. */
async function storedDoc (s: Scene): Promise<Y.Doc> {
  await serverRoom(s).whenDurable()
  const doc = new Y.Doc()
  applyStoredDocument(doc, await s.store.load(s.room))
  return doc
}

/** A Yjs update whose structs integrate and whose delete set is cut short, so Yjs throws after integrating. */
function updateThatThrowsAfterIntegrating (clientId: number, text: string): Uint8Array {
  const doc = new Y.Doc()
  doc.clientID = clientId
  doc.getText('text').insert(0, text)
  const update = Y.encodeStateAsUpdate(doc)
  // The last byte is the delete set's client count (0). Claim one client with three ranges, then stop.
  const garbage = encoding.encode((e) => { encoding.writeVarUint(e, 1); encoding.writeVarUint(e, clientId); encoding.writeVarUint(e, 3) })
  const crafted = Uint8Array.from([...update.subarray(0, update.length - 1), ...garbage])
  const probe = new Y.Doc()
  expect(() => Y.applyUpdate(probe, crafted)).toThrow()
  expect(probe.getText('text').toString()).toBe(text) // it did integrate before throwing
  return crafted
}

/**
 * An update of two items: the first integrates at the start of the text, the
 * second names as its parent a later clock of its own client, so Yjs throws
 * after integrating the first.
 */
function updateWithForwardReference (clientId: number, text: string): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, 1) // clients
  encoding.writeVarUint(encoder, 2) // structs
  encoding.writeVarUint(encoder, clientId)
  encoding.writeVarUint(encoder, 0) // first clock
  encoding.writeUint8(encoder, contentStringRef)
  encoding.writeVarUint(encoder, 1) // parent is a root type, by name
  encoding.writeVarString(encoder, 'text')
  encoding.writeVarString(encoder, text)
  encoding.writeUint8(encoder, contentStringRef)
  encoding.writeVarUint(encoder, 0) // parent is an item, by id
  encoding.writeVarUint(encoder, clientId)
  encoding.writeVarUint(encoder, 100)
  encoding.writeVarString(encoder, 'x')
  encoding.writeVarUint(encoder, 0) // empty delete set
  const update = encoding.toUint8Array(encoder)
  expect(Y.decodeUpdate(update).structs).toHaveLength(2)
  const probe = new Y.Doc()
  expect(() => Y.applyUpdate(probe, update)).toThrow()
  expect(probe.getText('text').toString()).toBe(text)
  return update
}

/** Yjs' content reference of a string item. */
const contentStringRef = 4

/**
 * The writer types a line at a time, each waited for at the witness, until
 * `during` settles; resolves with how long each line took to arrive.
 */
async function typeWhile (s: Scene, during: Promise<unknown>): Promise<number[]> {
  let done = false
  const finished = during.finally(() => { done = true })
  const latencies: number[] = []
  for (let i = 0; i < 500 && (!done || latencies.length === 0); i++) {
    const line = `typed ${++markers}\n`
    const sent = Date.now()
    s.writer.text.insert(s.writer.text.length, line)
    await waitFor(() => s.witness.text.toString().endsWith(line), 10_000, `"${line.trim()}" at the witness`)
    latencies.push(Date.now() - sent)
  }
  await finished
  return latencies
}

/** Random bytes (from `seed`) that make Yjs throw when applied as an update. */
function randomUpdateThatThrows (seed: number, length: number): Uint8Array {
  const random = seededRandom(seed)
  for (let attempt = 0; attempt < 1000; attempt++) {
    const bytes = Uint8Array.from({ length }, () => random.int(256))
    try {
      Y.applyUpdate(new Y.Doc(), bytes)
    } catch {
      return bytes
    }
  }
  throw new Error(`no throwing update for seed ${seed}`)
}

/** An awareness message with `entries`; each state is turned into JSON, null stays a removal. */
function awareness (entries: Array<{ clientId: number, clock: number, state: unknown }>): Uint8Array {
  return encodeAwareness(encodeAwarenessUpdate(entries.map((e) => ({ ...e, state: e.state === null ? null : JSON.stringify(e.state) }))))
}

describe('oversized input', () => {
  it('closes a message above maxMessageBytes with 1009 and keeps the room intact', async () => {
    const s = await scene({ maxMessageBytes: 64 * KiB })
    const before = stateVector(s)
    const attacker = await openWebSocket(s.relay, s.room)
    const closed = closeCodeOf(attacker)
    const big = new Y.Doc()
    big.getText('text').insert(0, 'x'.repeat(100 * KiB))
    attacker.send(encodeUpdate(Y.encodeStateAsUpdate(big)))
    expect(await closed).toBe(1009)
    await settled(s)
    expect(stateVector(s)).toEqual(before)
    await expectHealthy(s)
  })

  it('closes a frame that declares 50 MB at its header with 1009, and keeps none of the payload streamed after it', async () => {
    const maxMessageBytes = 1 * MiB
    const s = await scene({ maxMessageBytes })
    const memory = memoryAfterGc()
    const socket = await rawUpgrade(s.relay, `/${s.room}`)
    const before = memory().arrayBuffers
    // The header (and mask key) of a masked binary frame of 50 MB, then its payload a chunk at a time.
    await socket.write(encodeFrame({ opcode: Opcode.binary, declaredLength: 50 * MiB }))
    const chunk = Buffer.alloc(64 * KiB, 0x61) // reused: the test itself holds no more than this
    const streamLimit = 24 * MiB
    let streamed = 0
    while (streamed < streamLimit && !socket.connection.ended) {
      await socket.write(chunk)
      streamed += chunk.length
    }
    // A relay that took the payload in holds it while it waits for the rest: measured before anything is let go.
    const grown = memory().arrayBuffers - before
    const report = `streamed ${(streamed / MiB).toFixed(1)} MiB; the relay process kept ${(grown / MiB).toFixed(1)} MiB more in buffers`
    expect(grown, report).toBeLessThan(maxMessageBytes)
    expect(await socket.closeCode(2_000), report).toBe(1009)
    await socket.connection.gone
    await expectHealthy(s)
  })
})

describe('updates that Yjs refuses', () => {
  it('closes random bytes sent as an update with 1007 and leaves the document as it was', async () => {
    // Any content: under the default text policy, bytes that name other content are refused with 4422 before they fail to parse.
    const s = await scene({ content: 'any' })
    const before = stateVector(s)
    const attacker = await openWebSocket(s.relay, s.room)
    const outcome = await sendThenProbe(attacker, encodeUpdate(randomUpdateThatThrows(7, 64)))
    expect(outcome).toBe(1007)
    await settled(s)
    expect(stateVector(s)).toEqual(before)
    await expectHealthy(s)
  })

  const crafted: Array<{ name: string, make: (clientId: number, text: string) => Uint8Array }> = [
    { name: 'valid structs and a delete set cut short', make: updateThatThrowsAfterIntegrating },
    { name: 'an item whose parent is a later struct of its own client', make: updateWithForwardReference }
  ]
  for (const { name, make } of crafted) {
    it(`closes an update that Yjs would integrate in part and then throw on (${name}) with 1007, before it touches the document`, async () => {
      const s = await scene()
      const before = stateVector(s)
      const attacker = await openWebSocket(s.relay, s.room)
      expect(await sendThenProbe(attacker, encodeUpdate(make(0xbad, 'EVIL')))).toBe(1007)
      await settled(s)
      expect(stateVector(s)).toEqual(before)
      expect(serverDoc(s).store.clients.has(0xbad)).toBe(false)
      expect(serverText(s)).not.toContain('EVIL')
      expect(s.log.filter((line) => line.includes('room.rebuild'))).toEqual([])
      await expectHealthy(s)
      expect(Y.encodeStateVector(s.witness.doc)).toEqual(stateVector(s))
      const stored = await storedDoc(s)
      expect(stored.store.clients.has(0xbad)).toBe(false)
      expect(stored.getText('text').toString()).toBe(s.writer.text.toString())
    })
  }

  it('keeps the witness within 2 s while such updates flood a room with a large document', async () => {
    // 20 000 items from two clients: loading this document takes a noticeable time.
    const store = createMemoryStore()
    const big = new Y.Doc()
    for (let i = 0; i < 20_000; i++) {
      big.clientID = 1_000 + (i % 2)
      big.getText('text').insert(i * 2, 'ab')
    }
    await store.append('target', Y.encodeStateAsUpdate(big))
    const s = await scene({ store })
    const random = seededRandom(99)
    const attacks = Array.from({ length: 40 }, async (_, i) => {
      const socket = await openWebSocket(s.relay, s.room)
      const make = i % 2 === 0 ? updateThatThrowsAfterIntegrating : updateWithForwardReference
      return await sendThenProbe(socket, encodeUpdate(make(100_000 + random.int(1e6), 'BAD')))
    })
    const started = Date.now()
    let attackMs = 0
    const latencies = await typeWhile(s, Promise.all(attacks).then((outcomes) => {
      attackMs = Date.now() - started
      expect(outcomes.every((outcome) => outcome === 1007)).toBe(true)
    }))
    expect(Math.max(...latencies)).toBeLessThan(2_000)
    // Refused before touching the document, the flood costs no reload of it (forty reloads take seconds).
    expect(s.log.filter((line) => line.includes('room.rebuild'))).toEqual([])
    expect(attackMs).toBeLessThan(5_000)
    await expectHealthy(s)
  })
})

describe('slow readers', () => {
  it('closes a client that stops reading with 1008 once maxBufferedBytes is queued; the others carry on', async () => {
    const maxBufferedBytes = 256 * KiB
    const s = await scene({ maxBufferedBytes, closeTimeoutMs: 5_000 })
    const slow = await openWebSocket(s.relay, s.room)
    slow.pause() // it sees nothing, its close included, until it reads again
    const closedForSlowness = (): boolean => s.log.some((line) => line.includes('connection.close') && line.includes('code=1008'))
    const chunk = 'y'.repeat(256 * KiB)
    let written = 0
    for (let i = 0; i < 200 && !closedForSlowness(); i++) {
      s.writer.text.insert(s.writer.text.length, chunk)
      written += chunk.length
      await waitFor(() => s.witness.text.length === s.writer.text.length, 5_000, 'the witness to keep up')
    }
    expect(closedForSlowness()).toBe(true)
    // Kernel buffers on loopback take a few MiB; past that, the server held at most the cap before closing.
    expect(written).toBeLessThan(48 * MiB)
    const slowClosed = closeCodeOf(slow)
    slow.resume()
    expect(await slowClosed).toBe(1008)
    await expectHealthy(s)
  })

  it('does not close a slow client that is still downloading a document larger than maxBufferedBytes while others edit', async () => {
    // Larger than the loopback socket buffers, so most of it waits in the server until the client reads.
    const store = createMemoryStore()
    const big = new Y.Doc()
    big.getText('text').insert(0, 'z'.repeat(16 * MiB))
    await store.append('target', Y.encodeStateAsUpdate(big))
    const s = await scene({ store, maxBufferedBytes: 256 * KiB })
    const slow = await openWebSocket(s.relay, s.room)
    const closed = closeCodeOf(slow, 30_000)
    slow.pause()
    const frames: Buffer[] = []
    slow.on('message', (data: Buffer) => frames.push(data))
    slow.send(encodeSyncStep1(Uint8Array.of(0)))
    // Handled in order: once its presence shows, the document is on its way to it.
    slow.send(awareness([{ clientId: 777, clock: 1, state: { user: { name: 'slow' } } }]))
    await waitFor(() => s.witness.provider.awareness.getStates().has(777), 5_000, 'the slow client\'s presence')
    for (let i = 0; i < 5; i++) {
      s.writer.text.insert(0, `edit ${i} `)
      await waitFor(() => s.witness.text.length === s.writer.text.length, 2_000, `edit ${i} at the witness`)
    }

    // Asking for the document again and again while not reading is held to the limit.
    const greedy = await openWebSocket(s.relay, s.room)
    greedy.pause()
    for (let i = 0; i < 3; i++) greedy.send(encodeSyncStep1(Uint8Array.of(0)))
    s.writer.text.insert(0, 'one more ')
    await waitFor(() => s.log.some((line) => line.includes('connection.close') && line.includes('code=1008')), 5_000, 'the greedy client to be closed')
    greedy.terminate()

    slow.resume()
    // The document comes in pieces (sync updates), then a final sync step 2.
    const syncBytes = (): number => frames.reduce((sum, f) => sum + (f[0] === 0 ? f.length : 0), 0)
    await waitFor(() => frames.some((f) => f[0] === 0 && f[1] === 1) && syncBytes() > 16 * MiB, 10_000, 'the document at the slow client')
    s.writer.text.insert(0, 'for the slow one too ')
    const count = frames.length
    await waitFor(() => frames.length > count, 2_000, 'an edit at the slow client')
    expect(slow.readyState).toBe(WebSocket.OPEN)
    slow.close()
    expect(await closed).toBe(1005)
  })
})

describe('awareness abuse', () => {
  it('ignores awareness sent for another connection\'s client id; the witness keeps the real state', async () => {
    const s = await scene()
    const victim = s.writer
    victim.provider.awareness.setLocalStateField('user', { name: 'Ada' })
    const nameAtWitness = (): string | undefined => s.witness.provider.awareness.getStates().get(victim.doc.clientID)?.user?.name
    await waitFor(() => nameAtWitness() === 'Ada', 5_000, 'Ada at the witness')
    const seen: string[] = []
    s.witness.provider.awareness.on('change', () => { seen.push(String(nameAtWitness())) })

    const attacker = await openWebSocket(s.relay, s.room)
    const id = victim.doc.clientID
    const outcome = await sendThenProbe(attacker,
      awareness([{ clientId: id, clock: 1_000, state: { user: { name: 'Mallory' } } }]),
      awareness([{ clientId: id, clock: 1_001, state: null }]))
    expect(outcome).toBe('answered') // ignored, not an error
    victim.provider.awareness.setLocalStateField('user', { name: 'Ada, later' })
    await waitFor(() => nameAtWitness() === 'Ada, later', 2_000, 'the real update at the witness')
    expect(seen.every((name) => name !== 'Mallory' && name !== 'undefined')).toBe(true)
    await expectHealthy(s)
  })

  it('closes a connection that presents more than maxAwarenessClientsPerConnection ids with 1008', async () => {
    const s = await scene({ maxAwarenessClientsPerConnection: 4 })
    const attacker = await openWebSocket(s.relay, s.room)
    const entries = (from: number, count: number): Array<{ clientId: number, clock: number, state: unknown }> =>
      Array.from({ length: count }, (_, i) => ({ clientId: 9_000 + from + i, clock: 1, state: { user: { name: `ghost ${from + i}` } } }))
    expect(await sendThenProbe(attacker, awareness(entries(0, 4)))).toBe('answered')
    expect(await sendThenProbe(attacker, awareness(entries(4, 1)))).toBe(1008)
    const other = await openWebSocket(s.relay, s.room)
    expect(await sendThenProbe(other, awareness(entries(100, 5)))).toBe(1008)
    const ghosts = (): number[] => [...s.witness.provider.awareness.getStates().keys()].filter((id) => id >= 9_000 && id < 9_200)
    await waitFor(() => ghosts().length === 0, 2_000, 'the ghosts to leave')
    await expectHealthy(s)
  })
})

describe('updates whose dependencies never arrive', () => {
  it('closes the sender with 4422 past maxPendingBytesPerRoom, and late or returning clients are not bloated or kicked', async () => {
    const maxPendingBytesPerRoom = 64 * KiB
    const s = await scene({ maxPendingBytesPerRoom })
    // Updates of one client, each depending on the one before; the first never comes.
    const source = new Y.Doc()
    source.clientID = 0xdead
    const updates: Uint8Array[] = []
    source.on('update', (update: Uint8Array) => updates.push(update))
    for (let i = 0; i < 60; i++) source.getText('text').insert(source.getText('text').length, `${i}`.padEnd(4 * KiB, '.'))
    const attacker = await openWebSocket(s.relay, s.room)
    const closed = closeCodeOf(attacker)
    let outcome: 'answered' | number = 'answered'
    for (const update of updates.slice(1)) {
      outcome = await sendThenProbe(attacker, encodeUpdate(update))
      if (outcome !== 'answered') break
    }
    expect(outcome).toBe(4422)
    expect(await closed).toBe(4422)
    const pending = serverDoc(s).store.pendingStructs?.update.length ?? 0
    expect(pending).toBeGreaterThan(0)
    expect(pending).toBeLessThanOrEqual(maxPendingBytesPerRoom)
    expect(serverText(s)).toBe(s.writer.text.toString())

    const step2 = await fetchDocument(s.relay, s.room)
    expect(step2.length).toBeLessThan(maxPendingBytesPerRoom + Y.encodeStateAsUpdate(s.writer.doc).length + KiB)

    const late = connectClient(s.relay, s.room)
    await synced(late)
    s.witness.provider.disconnect()
    s.witness.provider.connect()
    await synced(s.witness)
    await expectHealthy(s)
    await waitFor(() => late.text.toString() === s.writer.text.toString(), 2_000, 'the late joiner to follow')
    expect(s.log.filter((line) => line.includes('connection.rejected'))).toHaveLength(1)
  })

  it('does not store or relay waiting updates again each time a client that holds them reconnects', async () => {
    const s = await scene({ maxPendingBytesPerRoom: 64 * KiB })
    const attacker = await openWebSocket(s.relay, s.room)
    // Structs that wait for a missing first update, and deletions of items nobody has.
    const source = new Y.Doc()
    source.clientID = 0xdead
    const updates: Uint8Array[] = []
    source.on('update', (update: Uint8Array) => updates.push(update))
    for (let i = 0; i < 8; i++) source.getText('text').insert(0, `${i}`.padEnd(2 * KiB, '.'))
    source.getText('text').delete(0, 100)
    for (const update of updates.slice(1)) expect(await sendThenProbe(attacker, encodeUpdate(update))).toBe('answered')
    const store = serverDoc(s).store
    expect(store.pendingStructs).not.toBeNull()
    await waitFor(() => s.witness.doc.store.pendingStructs !== null, 2_000, 'the witness to hold the waiting updates too')

    const observer = await openWebSocket(s.relay, s.room)
    let relayedBytes = 0
    observer.on('message', (data: Buffer) => { if (data[0] === 0 && data[1] === 2) relayedBytes += data.length })
    const storedBefore = await storedBytes(s)
    for (let i = 0; i < 3; i++) {
      s.witness.provider.disconnect()
      s.witness.provider.connect()
      await synced(s.witness)
    }
    await expectHealthy(s)
    const line = s.writer.text.toString().split('\n').at(-2) as string
    await waitFor(() => relayedBytes > 0, 2_000, `"${line}" at the observer`)
    expect(relayedBytes).toBeLessThan(2 * KiB)
    expect(await storedBytes(s) - storedBefore).toBeLessThan(2 * KiB)
  })
})

/** Bytes of a room's stored log and snapshot. */
async function storedBytes (s: Scene): Promise<number> {
  await serverRoom(s).whenDurable()
  const stored = await s.store.load(s.room)
  return (stored.snapshot?.length ?? 0) + stored.updates.reduce((sum, u) => sum + u.length, 0)
}

describe('floods', () => {
  it('closes a connection that sends more messages than its rate allows with 1008', async () => {
    const s = await scene({ maxMessagesPerSecond: 50, maxMessageBurst: 100 })
    const attacker = await openWebSocket(s.relay, s.room)
    const closed = closeCodeOf(attacker)
    for (let i = 0; i < 1_000 && attacker.readyState === WebSocket.OPEN; i++) attacker.send(encodeQueryAwareness())
    expect(await closed).toBe(1008)
    await expectHealthy(s)
  })

  it('closes a connection that sends more bytes than its rate allows with 1008', async () => {
    const s = await scene({ maxBytesPerSecond: 64 * KiB, maxByteBurst: 256 * KiB })
    const attacker = await openWebSocket(s.relay, s.room)
    const closed = closeCodeOf(attacker)
    const state = { user: { name: 'n'.repeat(8 * KiB) } }
    for (let i = 0; i < 200 && attacker.readyState === WebSocket.OPEN; i++) {
      attacker.send(awareness([{ clientId: 4242, clock: i + 1, state }]))
    }
    expect(await closed).toBe(1008)
    await expectHealthy(s)
  })
})

describe('connection admission', () => {
  it('closes half-open upgrade requests (slowloris) within requestHeadersTimeoutMs', async () => {
    const requestHeadersTimeoutMs = 500
    const s = await scene({ requestHeadersTimeoutMs })
    // Node checks for expired requests every connectionsCheckingInterval (the relay sets it to min(1 s, the timeout)).
    const deadlineMs = requestHeadersTimeoutMs * 2 + 500
    const started = Date.now()
    const connections = await Promise.all(Array.from({ length: 20 }, () => openTcp(s.relay)))
    const request = upgradeRequest(s.relay, `/${s.room}`, { 'X-Padding': 'p'.repeat(200) }, false)
    const trickles = connections.map(async (connection, i) => {
      if (i % 4 === 0) return // some send nothing at all
      await connection.write(request.slice(0, 20))
      for (let at = 20; at < request.length && !connection.ended && Date.now() - started < 5_000; at++) {
        await connection.write(request[at])
        await Promise.race([connection.gone, new Promise((resolve) => setTimeout(resolve, 50))])
      }
    })
    await waitFor(() => connections.every((c) => c.ended), deadlineMs + 1_000, 'every half-open connection to be closed')
    const elapsed = Date.now() - started
    await Promise.all(trickles)
    expect(elapsed).toBeLessThan(deadlineMs)
    expect(s.relay.connectionCount).toBe(2)
    await expectHealthy(s)
  })

  it('answers 429 past maxConnectionsPerAddress and counts refused and closed sockets back', async () => {
    const s = await scene({ maxConnectionsPerAddress: 4 })
    const third = await openWebSocket(s.relay, s.room)
    const fourth = await openWebSocket(s.relay, s.room)
    for (let i = 0; i < 5; i++) expect(await upgradeStatus(s.relay, s.room)).toBe(429)
    for (let i = 0; i < 3; i++) expect(await upgradeStatus(s.relay, '/bad<name>')).toBe(429)
    const thirdClosed = closeCodeOf(third)
    third.close()
    await thirdClosed
    await waitFor(() => s.relay.connectionCount === 3, 2_000, 'the closed socket to be counted back')
    const again = await openWebSocket(s.relay, s.room)
    expect(again.readyState).toBe(WebSocket.OPEN)
    expect(fourth.readyState).toBe(WebSocket.OPEN)
    expect(await upgradeStatus(s.relay, s.room)).toBe(429)
    await expectHealthy(s)
  })
})

describe('WebSocket protocol violations over raw TCP', () => {
  const binary = Uint8Array.of(0, 0, 1, 0) // a valid sync step 1
  const cases: Array<{ name: string, frames: FrameSpec[], code: number }> = [
    { name: 'RSV1 without negotiated compression', frames: [{ opcode: Opcode.binary, rsv: Rsv.rsv1, payload: binary }], code: 1002 },
    { name: 'RSV2 set', frames: [{ opcode: Opcode.binary, rsv: Rsv.rsv2, payload: binary }], code: 1002 },
    { name: 'unknown opcode 0x3', frames: [{ opcode: 0x3, payload: binary }], code: 1002 },
    { name: 'unknown control opcode 0xb', frames: [{ opcode: 0xb }], code: 1002 },
    { name: 'ping with a 126-byte payload', frames: [{ opcode: Opcode.ping, payload: new Uint8Array(126) }], code: 1002 },
    { name: 'fragmented ping', frames: [{ opcode: Opcode.ping, fin: false, payload: Uint8Array.of(1) }], code: 1002 },
    { name: 'close code 999', frames: [{ opcode: Opcode.close, payload: closePayload(999) }], code: 1002 },
    { name: 'close code 1005 on the wire', frames: [{ opcode: Opcode.close, payload: closePayload(1005) }], code: 1002 },
    { name: 'one-byte close payload', frames: [{ opcode: Opcode.close, payload: Uint8Array.of(3) }], code: 1002 },
    { name: 'unmasked client frame', frames: [{ opcode: Opcode.binary, masked: false, payload: binary }], code: 1002 },
    { name: 'continuation without a start', frames: [{ opcode: Opcode.continuation, payload: binary }], code: 1002 },
    { name: 'new message inside a fragmented one', frames: [{ opcode: Opcode.binary, fin: false, payload: binary }, { opcode: Opcode.binary, payload: binary }], code: 1002 },
    { name: 'invalid UTF-8 in a text frame', frames: [{ opcode: Opcode.text, payload: Uint8Array.of(0x68, 0xff, 0xfe) }], code: 1007 },
    { name: 'invalid UTF-8 in a close reason', frames: [{ opcode: Opcode.close, payload: Buffer.concat([closePayload(1000), Buffer.of(0xc3, 0x28)]) }], code: 1007 }
  ]

  it('closes each violating connection with its code and stays healthy', async () => {
    const s = await scene()
    for (const { name, frames, code } of cases) {
      const socket = await rawUpgrade(s.relay, `/${s.room}`)
      for (const frame of frames) await socket.send(frame)
      expect(await socket.closeCode(), name).toBe(code)
      await socket.connection.gone
    }
    await waitFor(() => s.relay.connectionCount === 2, 2_000, 'every violating connection to be gone')
    await expectHealthy(s)
  })
})

describe('messages the relay does not accept', () => {
  const cases: Array<{ name: string, data: Uint8Array | string, code: number }> = [
    { name: 'text frame', data: 'hello', code: 1003 },
    { name: 'unknown message type', data: Uint8Array.of(42), code: 1002 },
    { name: 'auth message from a client', data: Uint8Array.of(messageAuth, 0, 0), code: 1002 },
    { name: 'unknown sync type', data: Uint8Array.of(0, 7, 0), code: 1002 },
    { name: 'truncated sync message', data: Uint8Array.of(0), code: 1007 },
    { name: 'sync message with a length beyond its end', data: Uint8Array.of(0, 2, 100, 1), code: 1007 },
    { name: 'trailing bytes', data: Uint8Array.of(3, 0), code: 1007 },
    { name: 'empty message', data: new Uint8Array(0), code: 1007 },
    { name: 'awareness that is not JSON', data: encodeAwareness(Uint8Array.of(1, 5, 1, 1, 0x7b)), code: 1007 },
    { name: 'bad state vector', data: Uint8Array.of(0, 0, 2, 5, 1), code: 1007 }
  ]

  it('closes each with its code', async () => {
    const s = await scene()
    for (const { name, data, code } of cases) {
      const socket = await openWebSocket(s.relay, s.room)
      const closed = closeCodeOf(socket)
      socket.send(data)
      expect(await closed, name).toBe(code)
    }
    await expectHealthy(s)
  })
})

describe('many attackers at once', () => {
  it('keeps a witness receiving edits within 2 s while 40 connections misbehave in parallel', async () => {
    const s = await scene({ maxMessagesPerSecond: 100, maxMessageBurst: 200, maxMessageBytes: 256 * KiB })
    const random = seededRandom(424242)
    const probe = async (frame: Uint8Array): Promise<'answered' | number> => await sendThenProbe(await openWebSocket(s.relay, s.room), frame)
    // Each attack resolves with the close code it got ('answered' where it must be ignored, null for raw TCP).
    const attacks: Array<{ expected: Array<number | 'answered' | null>, run: () => Promise<number | 'answered' | null> }> = [
      { expected: [1007], run: async () => await probe(encodeUpdate(updateThatThrowsAfterIntegrating(100_000 + random.int(1e6), 'BAD'))) },
      { expected: [1007], run: async () => await probe(encodeUpdate(updateWithForwardReference(100_000 + random.int(1e6), 'BAD'))) },
      { expected: [1007, 4422], run: async () => await probe(encodeUpdate(randomUpdateThatThrows(random.int(1e9), 32))) },
      { expected: [1009], run: async () => await probe(encodeUpdate(new Uint8Array(300 * KiB))) },
      {
        expected: [1008],
        run: async () => {
          const socket = await openWebSocket(s.relay, s.room)
          const closed = closeCodeOf(socket)
          for (let i = 0; i < 500 && socket.readyState === WebSocket.OPEN; i++) socket.send(encodeQueryAwareness())
          return await closed
        }
      },
      { expected: ['answered'], run: async () => await probe(awareness([{ clientId: s.writer.doc.clientID, clock: 99, state: { user: { name: 'Mallory' } } }])) },
      {
        expected: [1002],
        run: async () => {
          const socket = await rawUpgrade(s.relay, `/${s.room}`)
          await socket.send({ opcode: 0x3, payload: Uint8Array.of(1) })
          return await socket.closeCode()
        }
      },
      {
        expected: [null],
        run: async () => {
          const connection = await openTcp(s.relay)
          await connection.write(upgradeRequest(s.relay, `/${s.room}`, {}, false))
          connection.socket.destroy()
          return null
        }
      }
    ]
    const outcomes: Array<Promise<{ expected: unknown[], got: unknown }>> = []
    const attacking = Promise.all(Array.from({ length: 40 }, (_, i) => {
      const attack = attacks[i % attacks.length]
      const outcome = attack.run().then((got) => ({ expected: attack.expected, got }))
      outcomes.push(outcome)
      return outcome
    }))
    const latencies = await typeWhile(s, attacking)
    expect(Math.max(...latencies)).toBeLessThan(2_000)
    for (const { expected, got } of await Promise.all(outcomes)) expect(expected).toContain(got)
    await expectHealthy(s)
    // Nothing but the healthy clients' items is in the document.
    expect([...serverDoc(s).store.clients.keys()].sort()).toEqual([...s.writer.doc.store.clients.keys()].sort())
    expect(s.witness.text.toString()).toBe(serverText(s))
    expect(s.log.filter((line) => line.includes('room.rebuild'))).toEqual([])
  })
})
