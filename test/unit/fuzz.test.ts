/**
 * Property-based fuzzing (fast-check, fixed seeds) of the message decoders,
 * and of rooms through a real relay: whatever bytes arrive, a decoder returns
 * a well-formed message or throws `ProtocolError`, and a room either takes an
 * update or refuses it without changing its document or crashing.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import * as syncProtocol from 'y-protocols/sync'
import * as awarenessProtocol from 'y-protocols/awareness'
import {
  decodeClientMessage, encodeAwareness, encodeQueryAwareness, encodeSyncStep1, encodeSyncStep2, encodeUpdate,
  messageAwareness, messageSync, type ClientMessage
} from '../../server/protocol/messages.js'
import { decodeAwarenessUpdate, encodeAwarenessUpdate, type AwarenessEntry } from '../../server/protocol/awareness.js'
import { ProtocolError } from '../../server/protocol/errors.js'
import { checkUpdate, type UpdatePolicy } from '../../server/protocol/update.js'
import { connectClient, startTestRelay, synced, waitFor } from '../helpers/relay.js'
import { fetchDocument, openWebSocket, sendThenProbe } from '../helpers/raw-socket.js'
import { seededRandom } from '../helpers/random.js'
import { createMemoryStore } from '../../server/storage/memory.js'
import type WebSocket from 'ws'

const protocolErrorCodes: Array<ProtocolError['code']> = ['malformed', 'unknown-type', 'unexpected', 'invalid-update', 'policy', 'too-large', 'content-refused']

/** Runs `decode`; passes its result to `check`, or requires that it threw a `ProtocolError` with a known code. */
function decodesOrRefuses<T> (decode: () => T, check: (result: T) => void): void {
  let result: T
  try {
    result = decode()
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw err
    expect(protocolErrorCodes).toContain(err.code)
    return
  }
  check(result)
}

/** Whether `part` is a view into the bytes of `whole`. */
function isViewInto (part: Uint8Array, whole: Uint8Array): boolean {
  return part.buffer === whole.buffer && part.byteOffset >= whole.byteOffset && part.byteOffset + part.length <= whole.byteOffset + whole.length
}

/** Encodes a decoded client message again with the server's encoders. */
function encodeClientMessage (message: ClientMessage): Uint8Array {
  switch (message.type) {
    case 'sync-step-1': return encodeSyncStep1(message.stateVector)
    case 'sync-step-2': return encodeSyncStep2(message.update)
    case 'update': return encodeUpdate(message.update)
    case 'awareness': return encodeAwareness(message.update)
    case 'query-awareness': return encodeQueryAwareness()
  }
}

/** A decoded message is one of the five kinds, its bytes are views into the input, and it encodes back to what decodes the same. */
function expectWellFormed (message: ClientMessage, input: Uint8Array): void {
  expect(['sync-step-1', 'sync-step-2', 'update', 'awareness', 'query-awareness']).toContain(message.type)
  for (const bytes of Object.values(message)) {
    if (bytes instanceof Uint8Array) expect(isViewInto(bytes, input)).toBe(true)
  }
  expect(decodeClientMessage(encodeClientMessage(message))).toEqual(message)
}

function expectWellFormedAwareness (entries: AwarenessEntry[]): void {
  for (const entry of entries) {
    expect(Number.isSafeInteger(entry.clientId) && entry.clientId >= 0 && entry.clientId <= 0xffffffff).toBe(true)
    expect(Number.isSafeInteger(entry.clock) && entry.clock >= 0).toBe(true)
    if (entry.state !== null) expect(JSON.parse(entry.state)).not.toBeNull()
  }
  expect(decodeAwarenessUpdate(encodeAwarenessUpdate(entries))).toEqual(entries)
}

/** One change to a byte string. */
type Mutation =
  | { kind: 'flip', at: number, bit: number }
  | { kind: 'set', at: number, value: number }
  | { kind: 'truncate', at: number }
  | { kind: 'insert', at: number, bytes: Uint8Array }
  | { kind: 'remove', at: number, count: number }
  | { kind: 'splice', at: number, other: number, from: number }

/** Positions are fractions of the length, so one mutation fits any input. */
const position = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true })
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: position, bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('set' as const), at: position, value: fc.oneof(fc.constantFrom(0, 1, 0x7f, 0x80, 0xff), fc.integer({ min: 0, max: 255 })) }),
  fc.record({ kind: fc.constant('truncate' as const), at: position }),
  fc.record({ kind: fc.constant('insert' as const), at: position, bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('remove' as const), at: position, count: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant('splice' as const), at: position, other: fc.nat(), from: position })
)

/** Applies `mutations` to `input`; a splice takes the tail of another corpus entry. */
function mutate (input: Uint8Array, mutations: Mutation[], corpus: Uint8Array[]): Uint8Array {
  let bytes = Array.from(input)
  const index = (at: number, length = bytes.length): number => Math.floor(at * length)
  for (const m of mutations) {
    switch (m.kind) {
      case 'flip':
        if (bytes.length > 0) bytes[index(m.at)] ^= 1 << m.bit
        break
      case 'set':
        if (bytes.length > 0) bytes[index(m.at)] = m.value
        break
      case 'truncate':
        bytes = bytes.slice(0, index(m.at))
        break
      case 'insert':
        bytes.splice(index(m.at, bytes.length + 1), 0, ...m.bytes)
        break
      case 'remove':
        bytes.splice(index(m.at), m.count)
        break
      case 'splice': {
        const other = corpus[m.other % corpus.length]
        bytes = [...bytes.slice(0, index(m.at)), ...other.slice(index(m.from, other.length))]
        break
      }
    }
  }
  return Uint8Array.from(bytes)
}

/** A document and the updates that built it, in order. */
interface SampleDoc {
  readonly doc: Y.Doc
  readonly updates: Uint8Array[]
}

/** Documents with text, formatting, deletions, maps, arrays and XML, edited by a seeded generator. */
function sampleDocs (seed: number, count: number): SampleDoc[] {
  const random = seededRandom(seed)
  return Array.from({ length: count }, () => {
    const doc = new Y.Doc()
    const updates: Uint8Array[] = []
    doc.on('update', (update: Uint8Array) => updates.push(update))
    const text = doc.getText('text')
    for (let i = 0; i < 1 + random.int(12); i++) {
      switch (random.int(8)) {
        case 0: if (text.length > 0) text.delete(random.int(text.length), 1); break
        case 1: text.format(0, Math.min(3, text.length), { bold: true }); break
        case 2: doc.getMap('map').set(random.word(2), random.int(2) === 0 ? random.word(3) : { n: random.int(100) }); break
        case 3: doc.getArray('list').insert(0, [random.int(10), new Uint8Array([1, 2, 3])]); break
        case 4: doc.getXmlFragment('xml').insert(0, [new Y.XmlElement('p'), new Y.XmlText('x')]); break
        case 5: text.insertEmbed(random.int(text.length + 1), { image: random.word(1) }); break
        case 6: doc.getMap('docs').set('sub', new Y.Doc({ meta: { n: random.int(9) } })); break
        default: text.insert(random.int(text.length + 1), random.word(1 + random.int(5)))
      }
    }
    return { doc, updates }
  })
}

/** Real y-protocols messages of every kind a client sends, built by y-protocols itself. */
function clientCorpus (): Uint8Array[] {
  const frames: Uint8Array[] = []
  const frame = (write: (encoder: encoding.Encoder) => void): void => {
    const encoder = encoding.createEncoder()
    write(encoder)
    frames.push(encoding.toUint8Array(encoder))
  }
  for (const { doc } of sampleDocs(1, 12)) {
    frame((e) => { encoding.writeVarUint(e, messageSync); syncProtocol.writeSyncStep1(e, doc) })
    frame((e) => { encoding.writeVarUint(e, messageSync); syncProtocol.writeSyncStep2(e, doc) })
    frame((e) => { encoding.writeVarUint(e, messageSync); syncProtocol.writeUpdate(e, Y.encodeStateAsUpdate(doc)) })
    const awareness = new awarenessProtocol.Awareness(doc)
    awareness.setLocalState({ user: { name: 'Ada', color: '#30bced' }, cursor: { anchor: 1, head: 2 } })
    frame((e) => { encoding.writeVarUint(e, messageAwareness); encoding.writeVarUint8Array(e, awarenessProtocol.encodeAwarenessUpdate(awareness, [doc.clientID])) })
    awareness.setLocalState(null)
    frame((e) => { encoding.writeVarUint(e, messageAwareness); encoding.writeVarUint8Array(e, awarenessProtocol.encodeAwarenessUpdate(awareness, [doc.clientID])) })
    awareness.destroy()
  }
  frames.push(encodeQueryAwareness())
  return frames
}

/** The awareness payload of a message, if it is one; never throws. */
function awarenessPayload (bytes: Uint8Array): Uint8Array | null {
  try {
    const message = decodeClientMessage(bytes)
    return message.type === 'awareness' ? message.update : null
  } catch {
    return null
  }
}

describe('decoders under arbitrary input', () => {
  it('decodeClientMessage returns a well-formed message or throws ProtocolError for 30 000 random byte strings', () => {
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 64 }),
      // Mostly valid prefixes: a known outer type, a known or unknown sub-type, then anything.
      fc.tuple(fc.constantFrom(0, 1, 2, 3, 100, 127, 128), fc.constantFrom(0, 1, 2, 3, 0x80, 0xff), fc.uint8Array({ maxLength: 32 }))
        .map(([type, sub, rest]) => Uint8Array.from([type, sub, ...rest]))
    )
    fc.assert(fc.property(bytes, (input) => {
      decodesOrRefuses(() => decodeClientMessage(input), (message) => expectWellFormed(message, input))
    }), { seed: 20261125, numRuns: 30_000 })
  })

  it('decodeAwarenessUpdate returns entries or throws ProtocolError for 20 000 random byte strings', () => {
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 64 }),
      fc.tuple(fc.integer({ min: 0, max: 4 }), fc.uint8Array({ maxLength: 48 })).map(([count, rest]) => Uint8Array.from([count, ...rest])),
      // Well-framed entries whose state is arbitrary text.
      fc.array(fc.record({ clientId: fc.nat(), clock: fc.nat(), state: fc.string({ maxLength: 20 }) }), { maxLength: 4 }).map((entries) => {
        const encoder = encoding.createEncoder()
        encoding.writeVarUint(encoder, entries.length)
        for (const entry of entries) {
          encoding.writeVarUint(encoder, entry.clientId)
          encoding.writeVarUint(encoder, entry.clock)
          encoding.writeVarString(encoder, entry.state)
        }
        return encoding.toUint8Array(encoder)
      })
    )
    fc.assert(fc.property(bytes, (input) => {
      decodesOrRefuses(() => decodeAwarenessUpdate(input), expectWellFormedAwareness)
    }), { seed: 20261126, numRuns: 20_000 })
  })

  it('both decoders hold for 50 000 mutations of real y-protocols messages (bit flips, truncations, splices)', () => {
    const corpus = clientCorpus()
    fc.assert(fc.property(fc.nat({ max: corpus.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 4 }), (base, mutations) => {
      const input = mutate(corpus[base], mutations, corpus)
      decodesOrRefuses(() => decodeClientMessage(input), (message) => expectWellFormed(message, input))
      const payload = awarenessPayload(input)
      if (payload) decodesOrRefuses(() => decodeAwarenessUpdate(payload), expectWellFormedAwareness)
    }), { seed: 20261127, numRuns: 50_000 })
  })
})

describe('decoders round-trip valid messages', () => {
  const bytes = fc.uint8Array({ maxLength: 40 })
  const message: fc.Arbitrary<ClientMessage> = fc.oneof(
    bytes.map((stateVector) => ({ type: 'sync-step-1' as const, stateVector })),
    bytes.map((update) => ({ type: 'sync-step-2' as const, update })),
    bytes.map((update) => ({ type: 'update' as const, update })),
    bytes.map((update) => ({ type: 'awareness' as const, update })),
    fc.constant({ type: 'query-awareness' as const })
  )

  it('decodeClientMessage reads back what the server encoders and y-protocols write', () => {
    fc.assert(fc.property(message, (original) => {
      const frame = encodeClientMessage(original)
      expect(decodeClientMessage(frame)).toEqual(original)
      if (original.type === 'update') {
        const encoder = encoding.createEncoder()
        encoding.writeVarUint(encoder, messageSync)
        syncProtocol.writeUpdate(encoder, original.update)
        expect(encoding.toUint8Array(encoder)).toEqual(frame)
      }
    }), { seed: 20261128, numRuns: 5_000 })
  })

  it('decodeAwarenessUpdate reads back what y-protocols writes, removals as null', () => {
    const entry = fc.record({
      clientId: fc.integer({ min: 0, max: 0xffffffff }),
      clock: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
      state: fc.option(fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 }), { nil: null })
    })
    const entries = fc.uniqueArray(entry, { maxLength: 5, selector: (e) => e.clientId })
    fc.assert(fc.property(entries, (list) => {
      const awareness = new awarenessProtocol.Awareness(new Y.Doc())
      for (const e of list) {
        if (e.state === null) awareness.states.delete(e.clientId)
        else awareness.states.set(e.clientId, e.state)
        awareness.meta.set(e.clientId, { clock: e.clock, lastUpdated: 0 })
      }
      const update = awarenessProtocol.encodeAwarenessUpdate(awareness, list.map((e) => e.clientId))
      awareness.destroy()
      const decoded = decodeAwarenessUpdate(update)
      expect(decoded.map((e) => ({ clientId: e.clientId, clock: e.clock, state: e.state === null ? null : JSON.parse(e.state) as unknown })))
        .toEqual(list.map((e) => ({ ...e, state: e.state === null ? null : JSON.parse(JSON.stringify(e.state)) as unknown })))
      expect(encodeAwarenessUpdate(decoded)).toEqual(update)
    }), { seed: 20261129, numRuns: 2_000 })
  })
})

/**
 * An update holding JSON content, which Yjs reads but no longer writes:
 * client 1 puts `"a"` and `undefined` into the array 'list'.
 */
function legacyJsonUpdate (): Uint8Array {
  const encoder = encoding.createEncoder()
  for (const n of [1, 1, 1, 0]) encoding.writeVarUint(encoder, n) // one client with one struct: client 1 from clock 0
  encoding.writeUint8(encoder, 2) // an item of JSON content, placed by its parent's name
  encoding.writeVarUint(encoder, 1)
  encoding.writeVarString(encoder, 'list')
  encoding.writeVarUint(encoder, 2)
  encoding.writeVarString(encoder, '"a"')
  encoding.writeVarString(encoder, 'undefined')
  encoding.writeVarUint(encoder, 0) // no deletions
  const update = encoding.toUint8Array(encoder)
  const doc = new Y.Doc()
  Y.applyUpdate(doc, update)
  expect(doc.getArray('list').toArray()).toEqual(['a', undefined])
  return update
}

/** The widest policy at the default depth: every kind of content the sample documents hold. */
const anyContent: UpdatePolicy = { content: 'any', maxContentDepth: 32 }
/** A policy that refuses nothing that parses, so acceptance can be compared with Yjs' own reader. */
const unbounded: UpdatePolicy = { content: 'any', maxContentDepth: Number.MAX_SAFE_INTEGER }

describe('checkUpdate', () => {
  it('accepts every update Yjs writes', () => {
    for (const { doc } of sampleDocs(2, 40)) {
      checkUpdate(Y.encodeStateAsUpdate(doc), anyContent)
      const updates: Uint8Array[] = []
      const copy = new Y.Doc()
      copy.on('update', (update: Uint8Array) => updates.push(update))
      Y.applyUpdate(copy, Y.encodeStateAsUpdate(doc))
      copy.getText('text').insert(0, 'more')
      if (copy.getText('text').length > 2) copy.getText('text').delete(1, 2)
      const server = new Y.Doc()
      for (const update of updates) {
        checkUpdate(update, anyContent, server)
        Y.applyUpdate(server, update)
      }
      checkUpdate(Y.mergeUpdates(updates), anyContent)
    }
  })

  it('accepts exactly the updates that Y.decodeUpdate parses and whose references point back: every one-byte change of real updates', () => {
    const withSubdoc = new Y.Doc()
    withSubdoc.getMap('docs').set('sub', new Y.Doc()) // options written as an empty object, last before the delete set
    const corpus = [...sampleDocs(4, 12).flatMap(({ doc, updates }) => [Y.encodeStateAsUpdate(doc), ...updates]), legacyJsonUpdate(), Y.encodeStateAsUpdate(withSubdoc)]
    const pointsBack = (update: Uint8Array): boolean => {
      let decoded: ReturnType<typeof Y.decodeUpdate>
      try {
        decoded = Y.decodeUpdate(update)
      } catch {
        return false
      }
      const refs = decoded.structs.flatMap((struct) => struct instanceof Y.Item
        ? [struct.origin, struct.rightOrigin, struct.parent instanceof Y.ID ? struct.parent : null].map((ref) => ({ ref, id: struct.id }))
        : [])
      return refs.every(({ ref, id }) => !ref || ref.client !== id.client || ref.clock < id.clock) &&
        [...decoded.ds.clients.values()].every((ranges) => ranges.every((range) => range.len > 0))
    }
    const passes = (update: Uint8Array): boolean => {
      try {
        checkUpdate(update, unbounded)
        return true
      } catch (err) {
        expect(err).toBeInstanceOf(ProtocolError)
        return false
      }
    }
    const disagreements: string[] = []
    let cases = 0
    let accepted = 0
    for (const update of corpus) {
      for (let at = 0; at < update.length; at++) {
        const values = new Set([0, 1, 7, 10, 0x7f, 0x80, 0xff, (update[at] + 1) & 0xff, (update[at] - 1) & 0xff])
        for (let bit = 0; bit < 8; bit++) values.add(update[at] ^ (1 << bit))
        for (const value of values) {
          const input = update.slice()
          input[at] = value
          const passed = passes(input)
          cases++
          if (passed) accepted++
          if (passed !== pointsBack(input)) disagreements.push(`${Buffer.from(input).toString('hex')} at ${at}`)
        }
      }
      if (!passes(update.subarray(0, update.length - 1))) cases++
    }
    expect(disagreements.slice(0, 3)).toEqual([])
    expect(cases).toBeGreaterThan(40_000)
    expect(accepted).toBeGreaterThan(5_000)
  })

  it('lets through no mutated update that Yjs then throws on after changing the document (10 000 cases)', () => {
    const samples = sampleDocs(3, 20)
    const corpus = samples.flatMap(({ doc, updates }) => [Y.encodeStateAsUpdate(doc), ...updates])
    const state = (doc: Y.Doc): unknown[] => [
      Y.snapshot(doc), doc.store.pendingStructs?.update ?? null, doc.store.pendingDs ?? null
    ]
    fc.assert(fc.property(fc.nat({ max: corpus.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 3 }), fc.nat(), fc.nat(), (base, mutations, which, split) => {
      const input = mutate(corpus[base], mutations, corpus)
      // A document that holds the first part of one sample's history.
      const { updates } = samples[which % samples.length]
      const target = new Y.Doc()
      for (const update of updates.slice(0, split % (updates.length + 1))) Y.applyUpdate(target, update)
      try {
        checkUpdate(input, unbounded, target)
      } catch (err) {
        expect(err).toBeInstanceOf(ProtocolError)
        return
      }
      const [snapshot, pending, pendingDs] = state(target)
      try {
        Y.applyUpdate(target, input)
      } catch {
        // Yjs may still throw, but only before it changed anything.
        const [snapshotAfter, pendingAfter, pendingDsAfter] = state(target)
        expect(Y.equalSnapshots(snapshot as Y.Snapshot, snapshotAfter as Y.Snapshot)).toBe(true)
        expect(pendingAfter).toEqual(pending)
        expect(pendingDsAfter).toEqual(pendingDs)
      }
    }), { seed: 20261130, numRuns: 10_000 })
  })
})

describe('checkUpdate under the text policy', () => {
  it('lets through only strings and deletions in the root text: 3 000 mutated updates, applied to a document of text', () => {
    const textPolicy: UpdatePolicy = { content: 'text', maxContentDepth: 32 }
    const random = seededRandom(7)
    const typist = new Y.Doc()
    const textUpdates: Uint8Array[] = []
    typist.on('update', (update: Uint8Array) => textUpdates.push(update))
    for (let i = 0; i < 30; i++) {
      const text = typist.getText('text')
      if (random.int(3) === 0 && text.length > 0) text.delete(random.int(text.length), 1 + random.int(3))
      else text.insert(random.int(text.length + 1), random.word(1 + random.int(4)))
    }
    const corpus = [...textUpdates, Y.encodeStateAsUpdate(typist), ...sampleDocs(8, 6).flatMap(({ doc }) => [Y.encodeStateAsUpdate(doc)])]
    let accepted = 0
    fc.assert(fc.property(fc.nat({ max: corpus.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 3 }), fc.nat(), (base, mutations, split) => {
      const input = mutate(corpus[base], mutations, corpus)
      const target = new Y.Doc()
      for (const update of textUpdates.slice(0, split % (textUpdates.length + 1))) Y.applyUpdate(target, update)
      try {
        checkUpdate(input, textPolicy, target)
      } catch (err) {
        expect(err).toBeInstanceOf(ProtocolError)
        return
      }
      accepted++
      try {
        Y.applyUpdate(target, input)
      } catch {
        // Yjs may throw on a mutated update; what it integrated is checked below.
      }
      expect([...target.share.keys()].filter((name) => name !== 'text')).toEqual([])
      const text = target.share.get('text')
      for (const structs of target.store.clients.values()) {
        for (const struct of structs) {
          if (!(struct instanceof Y.Item)) continue
          expect([Y.ContentString, Y.ContentDeleted]).toContain(struct.content.constructor)
          expect(struct.parent).toBe(text)
          expect(struct.parentSub).toBeNull()
        }
      }
    }), { seed: 20261201, numRuns: 3_000 })
    expect(accepted).toBeGreaterThan(300)
  })
})

describe('rooms under mutated updates, through a real relay', () => {
  it('take or refuse each of 200 mutated updates; refused ones change nothing, and the witness always matches the server', async () => {
    const store = createMemoryStore()
    const relay = await startTestRelay({ store, maxPendingBytesPerRoom: 16 * 1024, content: 'any' })
    const room = 'fuzz'
    const witness = connectClient(relay, room)
    const writer = connectClient(relay, room)
    await Promise.all([synced(witness), synced(writer)])
    // Shared history with every kind of content, so mutations hit real references.
    const [{ doc: seedDoc }] = sampleDocs(4, 1)
    Y.applyUpdate(writer.doc, Y.encodeStateAsUpdate(seedDoc))
    const serverDoc = (): Y.Doc => relay.registry.get(room)!.doc
    const converged = (): boolean => witness.text.toString() === serverDoc().getText('text').toString() &&
      Y.encodeStateVector(witness.doc).toString() === Y.encodeStateVector(serverDoc()).toString()
    const seeded = Y.encodeStateVector(writer.doc).toString()
    await waitFor(() => Y.encodeStateVector(serverDoc()).toString() === seeded && converged(), 5_000, 'the seed document at the witness')

    // Real updates of a client that shares the room's history: the corpus to mutate.
    const source = new Y.Doc()
    Y.applyUpdate(source, Y.encodeStateAsUpdate(writer.doc))
    const corpus: Uint8Array[] = []
    source.on('update', (update: Uint8Array) => corpus.push(update))
    const random = seededRandom(5)
    for (let i = 0; i < 40; i++) {
      const text = source.getText('text')
      if (random.int(3) === 0 && text.length > 0) text.delete(random.int(text.length), 1)
      else if (random.int(4) === 0) source.getMap('map').set(random.word(1), random.word(4))
      else text.insert(random.int(text.length + 1), random.word(3))
    }
    corpus.push(Y.encodeStateAsUpdate(source))

    let attacker: WebSocket | null = null
    const outcomes = new Map<string, number>()
    await fc.assert(fc.asyncProperty(fc.nat({ max: corpus.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 3 }), async (base, mutations) => {
      const update = mutate(corpus[base], mutations, corpus)
      const before = Y.encodeStateVector(serverDoc())
      const textBefore = serverDoc().getText('text').toString()
      if (!attacker || attacker.readyState !== attacker.OPEN) attacker = await openWebSocket(relay, room)
      const outcome = await sendThenProbe(attacker, encodeUpdate(update))
      outcomes.set(String(outcome), (outcomes.get(String(outcome)) ?? 0) + 1)
      expect(['answered', 1007, 1008, 1009, 4413, 4422]).toContain(outcome)
      if (outcome !== 'answered') {
        await fetchDocument(relay, room) // waits for a rebuild, if one happened
        expect(Y.encodeStateVector(serverDoc())).toEqual(before)
        expect(serverDoc().getText('text').toString()).toBe(textBefore)
      }
      await waitFor(converged, 2_000, 'the witness to match the server')
    }), { seed: 20261131, numRuns: 200 })
    expect(outcomes.get('answered')).toBeGreaterThan(0)
    expect(outcomes.get('1007')).toBeGreaterThan(0)

    // Healthy editing goes on, and what is stored loads to the same document.
    writer.text.insert(0, 'after the fuzz ')
    await waitFor(() => witness.text.toString() === writer.text.toString(), 2_000, 'a healthy edit at the witness')
    await waitFor(converged, 2_000, 'the witness to match the server')
    const expected = serverDoc().getText('text').toString()
    await relay.registry.get(room)!.whenDurable()
    const restarted = await startTestRelay({ store, content: 'any' })
    const fresh = connectClient(restarted, room)
    await synced(fresh)
    expect(fresh.text.toString()).toBe(expected)
  })
})
