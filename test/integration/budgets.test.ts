/**
 * What one message may cost the relay, over real sockets: items created or
 * split, state waiting for dependencies, sync answers, presence bytes and
 * room slots. Each budget is asserted as counts, bytes and close codes; the
 * time the same attacks cost is measured by `npm run bench`.
 */
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import WebSocket from 'ws'
import { captureLog, connectClient, startTestRelay, synced, waitFor, type TestClient } from '../helpers/relay.js'
import { closeCodeOf, fetchDocument, openWebSocket, sendThenProbe } from '../helpers/raw-socket.js'
import { encodeAwareness, encodeSyncStep1, encodeSyncStep2, encodeUpdate } from '../../server/protocol/messages.js'
import { encodeAwarenessUpdate } from '../../server/protocol/awareness.js'
import { createMemoryStore } from '../../server/storage/memory.js'
import { countItems } from '../../server/rooms/client-update.js'
import type { Relay, RelayOptions } from '../../server/relay.js'

const KiB = 1024

interface Scene {
  readonly relay: Relay
  readonly writer: TestClient
  /** A client in another room that keeps editing with a peer there. */
  readonly bystander: { readonly a: TestClient, readonly b: TestClient }
  readonly log: string[]
}

async function scene (options: RelayOptions): Promise<Scene> {
  const { logger, lines } = captureLog()
  const relay = await startTestRelay({ logger, store: createMemoryStore(), ...options })
  const writer = connectClient(relay, 'target')
  const a = connectClient(relay, 'elsewhere')
  const b = connectClient(relay, 'elsewhere')
  await Promise.all([synced(writer), synced(a), synced(b)])
  return { relay, writer, bystander: { a, b }, log: lines }
}

let marks = 0

/** The bystander room still relays edits, and the process still answers HTTP. */
async function othersCarryOn (s: Scene): Promise<void> {
  const line = `carry on ${++marks}\n`
  s.bystander.a.text.insert(s.bystander.a.text.length, line)
  await waitFor(() => s.bystander.b.text.toString() === s.bystander.a.text.toString(), 5_000, 'the bystander edit')
  expect((await fetch(`${s.relay.url}/healthz`)).status).toBe(200)
}

function serverDoc (s: Scene, room = 'target'): Y.Doc {
  const loaded = s.relay.registry.get(room)
  if (!loaded) throw new Error(`room ${room} is not loaded`)
  return loaded.doc
}

/** An update of one client deleting `[clock, clock + 1)` for each clock given, made with lib0 as Yjs writes a delete set. */
function deletions (client: number, clocks: readonly number[]): Uint8Array {
  return encoding.encode((e) => {
    encoding.writeVarUint(e, 0) // no structs
    encoding.writeVarUint(e, 1) // one client in the delete set
    encoding.writeVarUint(e, client)
    encoding.writeVarUint(e, clocks.length)
    for (const clock of clocks) {
      encoding.writeVarUint(e, clock)
      encoding.writeVarUint(e, 1)
    }
  })
}

/** Clocks 0, 2, 4 … below `length`. */
function everyOther (length: number): number[] {
  return Array.from({ length: Math.floor(length / 2) }, (_, i) => 2 * i)
}

describe('items a document holds in memory', () => {
  it('refuses with 4413 a delete set that would split one long item into thousands, before applying any of it', async () => {
    const s = await scene({ maxUpdateItems: 5_000 })
    s.writer.text.insert(0, 'x'.repeat(20_000))
    await waitFor(() => serverDoc(s).getText('text').length === 20_000, 5_000, 'the long insert')
    const before = countItems(serverDoc(s))
    const stateBefore = Y.encodeStateVector(serverDoc(s))
    const attacker = await openWebSocket(s.relay, 'target')
    expect(await sendThenProbe(attacker, encodeUpdate(deletions(s.writer.doc.clientID, everyOther(20_000))))).toBe(4413)
    expect(countItems(serverDoc(s))).toBe(before)
    expect(Y.encodeStateVector(serverDoc(s))).toEqual(stateBefore)
    expect(serverDoc(s).getText('text').length).toBe(20_000)
    await othersCarryOn(s)
  })

  it('takes a reconnecting client\'s whole delete set of content already deleted, however many ranges it holds', async () => {
    const s = await scene({ maxUpdateItems: 5_000 })
    s.writer.text.insert(0, 'x'.repeat(20_000))
    // Deleted a range at a time, as a person would: each update splits at most two items.
    for (let i = 0; i < 4_000; i++) s.writer.text.delete(i, 1)
    await waitFor(() => serverDoc(s).getText('text').length === 16_000, 10_000, 'the deletions')
    // A client holding the same document sends its sync step 2: 4000 ranges, none splitting anything.
    const copy = new Y.Doc()
    Y.applyUpdate(copy, Y.encodeStateAsUpdate(s.writer.doc))
    const step2 = Y.encodeStateAsUpdate(copy, Y.encodeStateVector(serverDoc(s)))
    const returning = await openWebSocket(s.relay, 'target')
    expect(await sendThenProbe(returning, encodeSyncStep2(step2))).toBe('answered')
    copy.destroy()
  })

  it('refuses with 4413 an update that would take the document past maxDocumentItems, and keeps what it holds', async () => {
    const s = await scene({ maxDocumentItems: 1_000 })
    // Each insertion at the start is an item of its own.
    for (let i = 0; i < 300; i++) s.writer.text.insert(0, 'a')
    await waitFor(() => serverDoc(s).getText('text').length === 300, 5_000, 'the first inserts')
    const closed = closeCodeOf(s.writer.provider.ws as unknown as WebSocket)
    s.writer.provider.shouldConnect = false
    for (let i = 0; i < 800; i++) s.writer.text.insert(0, 'b')
    expect(await closed).toBe(4413)
    expect(countItems(serverDoc(s))).toBeLessThanOrEqual(1_000)
    expect(serverDoc(s).getText('text').toString()).toMatch(/^b*a{300}$/)
    await othersCarryOn(s)
  })
})

describe('state waiting for missing dependencies', () => {
  it('refuses with 4422 deletions aimed at a client nobody has past maxPendingItemsPerRoom, and keeps none of them', async () => {
    const s = await scene({ maxPendingItemsPerRoom: 1_000 })
    const attacker = await openWebSocket(s.relay, 'target')
    expect(await sendThenProbe(attacker, encodeUpdate(deletions(0xbad, everyOther(4_000))))).toBe(4422)
    expect(serverDoc(s).store.pendingDs).toBeNull()
    // A few pending ranges are fine: a client may delete what reaches the relay later.
    const next = await openWebSocket(s.relay, 'target')
    expect(await sendThenProbe(next, encodeUpdate(deletions(0xbad, everyOther(200))))).toBe('answered')
    await othersCarryOn(s)
  })

  it('refuses with 4422 the update that takes many small waiting updates past the budget, and the newcomer\'s answer stays small', async () => {
    const s = await scene({ maxPendingItemsPerRoom: 100 })
    const source = new Y.Doc()
    source.clientID = 0xdead
    const updates: Uint8Array[] = []
    source.on('update', (update: Uint8Array) => updates.push(update))
    // Each insertion at the start depends on the one before; the first never reaches the relay.
    for (let i = 0; i < 300; i++) source.getText('text').insert(0, 'p')
    const attacker = await openWebSocket(s.relay, 'target')
    let outcome: 'answered' | number = 'answered'
    let sent = 0
    for (const update of updates.slice(1)) {
      sent++
      outcome = await sendThenProbe(attacker, encodeUpdate(update))
      if (outcome !== 'answered') break
    }
    expect(outcome).toBe(4422)
    expect(sent).toBeLessThanOrEqual(102)
    const pending = Y.decodeUpdateV2(serverDoc(s).store.pendingStructs?.update ?? Y.encodeStateAsUpdateV2(new Y.Doc())).structs.length
    expect(pending).toBeLessThanOrEqual(100)
    const whole = await fetchDocument(s.relay, 'target')
    expect(whole.length).toBeLessThan(8 * KiB)
    source.destroy()
    await othersCarryOn(s)
  })
})

describe('sync answers', () => {
  /** A state vector the relay has not answered yet: ours plus a client it never saw. */
  function unseenStateVector (doc: Y.Doc, i: number): Uint8Array {
    const vector = Y.decodeStateVector(Y.encodeStateVector(doc))
    vector.set(1_000_000 + i, 1)
    return encoding.encode((e) => {
      encoding.writeVarUint(e, vector.size)
      for (const [client, clock] of vector) { encoding.writeVarUint(e, client); encoding.writeVarUint(e, clock) }
    })
  }

  it('answers an up-to-date state vector from its cache however often it is asked, and charges answers it must compute', async () => {
    const s = await scene({ maxMessageBurst: 100, maxMessagesPerSecond: 1 })
    // 30 000 items: every uncached answer is charged as 3 messages.
    const filler = new Y.Doc()
    filler.transact(() => { for (let i = 0; i < 30_000; i++) filler.getText('text').insert(0, 'z') })
    s.writer.doc.transact(() => Y.applyUpdate(s.writer.doc, Y.encodeStateAsUpdate(filler)))
    filler.destroy()
    await waitFor(() => serverDoc(s).getText('text').length === 30_000, 10_000, 'the filler')
    const current = Y.encodeStateVector(serverDoc(s))

    const reader = await openWebSocket(s.relay, 'target')
    let answers = 0
    reader.on('message', (data: Buffer) => { if (data[0] === 0 && data[1] === 1) answers++ })
    for (let i = 0; i < 60; i++) reader.send(encodeSyncStep1(current))
    await waitFor(() => answers === 60, 5_000, '60 answers')

    const asker = await openWebSocket(s.relay, 'target')
    const closed = closeCodeOf(asker)
    let asked = 0
    for (; asked < 100 && asker.readyState === WebSocket.OPEN; asked++) {
      if (await sendThenProbeVector(asker, unseenStateVector(serverDoc(s), asked)) !== 'answered') break
    }
    expect(await closed).toBe(1008)
    // 100 messages of burst at 1 + 3 per uncached answer (and the probe's own step 1, cached).
    expect(asked).toBeLessThan(40)
    expect(reader.readyState).toBe(WebSocket.OPEN)
    await othersCarryOn(s)
  })

  /** Sends a sync step 1 with `vector` and resolves once answered, or with the close code. */
  async function sendThenProbeVector (socket: WebSocket, vector: Uint8Array): Promise<'answered' | number> {
    return await new Promise((resolve) => {
      const onMessage = (data: Buffer): void => {
        if (data[0] !== 0 || data[1] !== 1) return
        socket.off('message', onMessage)
        socket.off('close', onClose)
        resolve('answered')
      }
      const onClose = (code: number): void => { socket.off('message', onMessage); resolve(code) }
      socket.on('message', onMessage)
      socket.once('close', onClose)
      socket.send(encodeSyncStep1(vector))
    })
  }
})

describe('presence', () => {
  function presence (clientId: number, clock: number, name: string): Uint8Array {
    return encodeAwareness(encodeAwarenessUpdate([{ clientId, clock, state: JSON.stringify({ user: { name } }) }]))
  }

  it('closes with 4413 a presence state above maxAwarenessStateBytes, and a newcomer never hears it', async () => {
    const s = await scene({ maxAwarenessStateBytes: 4 * KiB })
    const attacker = await openWebSocket(s.relay, 'target')
    const closed = closeCodeOf(attacker)
    attacker.send(presence(777, 1, 'n'.repeat(8 * KiB)))
    expect(await closed).toBe(4413)
    const newcomer = connectClient(s.relay, 'target')
    await synced(newcomer)
    expect(newcomer.provider.awareness.getStates().has(777)).toBe(false)
    await othersCarryOn(s)
  })

  it('closes with 4413 the connection whose state takes the room past maxAwarenessBytesPerRoom', async () => {
    const s = await scene({ maxAwarenessStateBytes: 8 * KiB, maxAwarenessBytesPerRoom: 20 * KiB })
    const outcomes: Array<'answered' | number> = []
    for (let i = 0; i < 4; i++) {
      const socket = await openWebSocket(s.relay, 'target')
      outcomes.push(await sendThenProbe(socket, presence(900 + i, 1, 'n'.repeat(6 * KiB))))
    }
    expect(outcomes).toEqual(['answered', 'answered', 'answered', 4413])
    await othersCarryOn(s)
  })
})

describe('room slots', () => {
  it('unloads the room empty longest instead of refusing the next person at maxRooms', async () => {
    const s = await scene({ maxRooms: 5, unloadGraceMs: 600_000, unwrittenUnloadGraceMs: 600_000 })
    // An attacker opens and leaves rooms until every slot is taken.
    for (let i = 0; i < 10; i++) {
      const socket = await openWebSocket(s.relay, `cycled-${i}`)
      expect(await sendThenProbe(socket)).toBe('answered')
      socket.close()
      await waitFor(() => s.relay.connectionCount === 3, 5_000, 'the socket to close')
    }
    expect(s.relay.registry.size).toBeLessThanOrEqual(5)
    const person = connectClient(s.relay, 'a person')
    await synced(person)
    person.text.insert(0, 'mine')
    await waitFor(() => s.relay.registry.get('a person')?.text === 'mine', 5_000, 'the person\'s edit')
    await othersCarryOn(s)
  })

  it('refuses with 1013 only when every loaded room of an address has people in it', async () => {
    const s = await scene({ maxRoomsPerAddress: 4, unloadGraceMs: 600_000, unwrittenUnloadGraceMs: 600_000 })
    // The scene holds two rooms from 127.0.0.1; two more fit.
    const kept = [await openWebSocket(s.relay, 'kept-1'), await openWebSocket(s.relay, 'kept-2')]
    for (const socket of kept) expect(await sendThenProbe(socket)).toBe('answered')
    const refused = await openWebSocket(s.relay, 'one too many')
    expect(await closeCodeOf(refused)).toBe(1013)
    kept[0].close()
    await waitFor(() => s.relay.registry.get('kept-1')?.size === 0, 5_000, 'kept-1 to empty')
    const admitted = await openWebSocket(s.relay, 'one too many')
    await waitFor(() => s.relay.registry.get('kept-1') === undefined, 5_000, 'kept-1 to be evicted')
    expect(await sendThenProbe(admitted)).toBe('answered')
    await othersCarryOn(s)
  })

  it('unloads a room nobody wrote to after unwrittenUnloadGraceMs, and a written one only after unloadGraceMs', async () => {
    const s = await scene({ unloadGraceMs: 600_000, unwrittenUnloadGraceMs: 50 })
    const reader = await openWebSocket(s.relay, 'read only')
    expect(await sendThenProbe(reader)).toBe('answered')
    reader.close()
    await waitFor(() => s.relay.registry.get('read only') === undefined, 5_000, 'the unwritten room to unload')
    s.writer.text.insert(0, 'written')
    await waitFor(() => s.relay.registry.get('target')?.text === 'written', 5_000, 'the edit')
    s.writer.provider.disconnect()
    await waitFor(() => s.relay.registry.get('target')?.size === 0, 5_000, 'the writer to leave')
    // Well past the short grace: the written room stays.
    const probe = await openWebSocket(s.relay, 'another unwritten')
    expect(await sendThenProbe(probe)).toBe('answered')
    probe.close()
    await waitFor(() => s.relay.registry.get('another unwritten') === undefined, 5_000, 'the second unwritten room to unload')
    expect(s.relay.registry.get('target')).toBeDefined()
  })
})

describe('rooms that cannot be encoded', () => {
  it('fails only that room, with 1011 and a log line, when its document cannot be encoded', async () => {
    // A policy that lets through what Yjs cannot write back: an embed nested far too deep.
    const s = await scene({ content: 'any', maxContentDepth: 1_000_000, compactAfterUpdates: 2 })
    // Yjs cannot write this update itself (JSON.stringify recurses); it reads it with JSON.parse, which does not.
    const embed = encoding.encode((e) => {
      encoding.writeVarUint(e, 1) // one client
      encoding.writeVarUint(e, 1) // one struct
      encoding.writeVarUint(e, 4242) // client
      encoding.writeVarUint(e, 0) // clock
      encoding.writeUint8(e, 5) // an embed, no origins: the parent follows
      encoding.writeVarUint(e, 1) // the parent is a root type, by name
      encoding.writeVarString(e, 'text')
      encoding.writeVarString(e, '['.repeat(20_000) + ']'.repeat(20_000))
      encoding.writeVarUint(e, 0) // empty delete set
    })
    const attacker = await openWebSocket(s.relay, 'target')
    const writerClosed = closeCodeOf(s.writer.provider.ws as unknown as WebSocket)
    s.writer.provider.shouldConnect = false
    attacker.send(encodeUpdate(embed))
    s.writer.text.insert(0, 'x')
    expect(await writerClosed).toBe(1011)
    expect(s.log.some((line) => line.includes('room.failed') && line.includes('room=target'))).toBe(true)
    await othersCarryOn(s)
  })
})
