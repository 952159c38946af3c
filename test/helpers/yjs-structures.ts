/**
 * Yjs structures for tests of what a document may cost: fast-check
 * arbitraries that build updates with real Yjs (several documents with
 * chosen client ids editing text, maps, arrays, XML, nested types and
 * subdocuments, and pulling in each other's state), updates built byte by
 * byte with lib0 for what Yjs never writes (delete sets that split one item
 * into thousands, deletions aimed at clients nobody has, structs whose
 * dependencies never arrive, JSON nested thousands deep), and measures of
 * a document's size in the units the relay's budgets use.
 */
import fc from 'fast-check'
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import { textName } from '../../server/protocol/document.js'

/** What an update holds, as far as a content policy is concerned. */
export type ContentClass =
  /** Strings in a `Y.Text` and deletions, parents unknown from the bytes alone: all the `text` policy accepts. */
  | 'text-like'
  /** Something the `text` policy refuses whatever the document: another content type, another root, a map key. */
  | 'rich'

/** One update of a scenario and the client that sends it. */
export interface Step {
  /** Index of the sending client (one connection each). */
  readonly actor: number
  readonly update: Uint8Array
  readonly content: ContentClass
  /** What made it, for failure reports. */
  readonly label: string
}

/** JSON or `any` value nested `depth` levels deep (`depth` 0 is the leaf), alternating objects and arrays. */
export function nested (depth: number, leaf: unknown = 1): unknown {
  let value = leaf
  for (let i = 0; i < depth; i++) value = i % 2 === 0 ? { d: value } : [value]
  return value
}

/** JSON text nested `depth` objects deep, written directly: `JSON.stringify` of it would exceed the stack. */
export function nestedJsonText (depth: number): string {
  return '{"d":'.repeat(depth) + '1' + '}'.repeat(depth)
}

/** One edit a scenario makes; see `scenarioArbitrary`. Fractions place edits in whatever length there is. */
export type Op =
  | { readonly kind: 'insert-text', readonly actor: number, readonly at: number, readonly text: string }
  | { readonly kind: 'delete-text', readonly actor: number, readonly at: number, readonly length: number }
  | { readonly kind: 'format', readonly actor: number, readonly at: number, readonly length: number, readonly key: string, readonly value: unknown }
  | { readonly kind: 'embed', readonly actor: number, readonly at: number, readonly value: unknown }
  | { readonly kind: 'map-set', readonly actor: number, readonly key: string, readonly value: unknown }
  | { readonly kind: 'array-insert', readonly actor: number, readonly at: number, readonly values: unknown[] }
  | { readonly kind: 'xml', readonly actor: number, readonly tag: string, readonly attribute: string, readonly text: string }
  | { readonly kind: 'nested-types', readonly actor: number, readonly depth: number }
  | { readonly kind: 'subdocuments', readonly actor: number, readonly count: number }
  | { readonly kind: 'merge', readonly actor: number, readonly from: number }
  | { readonly kind: 'delete-every-other', readonly actor: number }
  | { readonly kind: 'unknown-client-deletes', readonly actor: number, readonly ranges: number }
  | { readonly kind: 'orphans', readonly actor: number, readonly updates: number, readonly structsEach: number }
  | { readonly kind: 'many-clients', readonly actor: number, readonly clients: number }
  | { readonly kind: 'deep-embed', readonly actor: number, readonly depth: number }
  | { readonly kind: 'deep-any', readonly actor: number, readonly depth: number }

/** Sizes that bound a generated scenario; pick them around the relay's budgets so both sides are hit. */
export interface ScenarioBounds {
  /** Clients taking part (client ids `firstClientId` …). */
  readonly actors: number
  /** Edits per scenario. */
  readonly maxOps: number
  /** Longest text one insertion adds (the item that `delete-every-other` later splits). */
  readonly maxTextLength: number
  /** Deepest nesting of values and types Yjs itself writes (shallow ones stay at 3 or less). */
  readonly maxDepth: number
  /** Most elements in one array insertion. */
  readonly maxArrayLength: number
  /** Most subdocuments one edit adds. */
  readonly maxSubdocuments: number
  /** Most ranges one hand-built delete set aims at a client nobody has. */
  readonly maxUnknownRanges: number
  /** Most small updates (and structs in each) whose dependencies never arrive. */
  readonly maxOrphanUpdates: number
  /** Most client ids in one hand-built update. */
  readonly maxClients: number
  /** Depth of the hand-built nested embed (past what `JSON.stringify` can write back) and `any` value. */
  readonly rawEmbedDepth: number
  readonly rawAnyDepth: number
}

/** Bounds for a run of a few seconds. */
export const defaultBounds: ScenarioBounds = {
  actors: 3,
  maxOps: 14,
  maxTextLength: 3_000,
  maxDepth: 24,
  maxArrayLength: 3_000,
  maxSubdocuments: 8,
  maxUnknownRanges: 400,
  maxOrphanUpdates: 12,
  maxClients: 800,
  rawEmbedDepth: 20_000,
  rawAnyDepth: 1_500
}

/** The client id of actor `index`. Hand-built updates use ids far above these. */
export const firstClientId = 1001

const smallJson = fc.jsonValue({ maxDepth: 2 })
const depth = (bounds: ScenarioBounds): fc.Arbitrary<number> =>
  fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 0, max: 3 }) }, { weight: 1, arbitrary: fc.integer({ min: 4, max: bounds.maxDepth }) })
const anyValue = (bounds: ScenarioBounds): fc.Arbitrary<unknown> => fc.oneof(
  smallJson,
  fc.uint8Array({ maxLength: 64 }),
  fc.tuple(depth(bounds), smallJson).map(([d, leaf]) => nested(d, leaf)),
  fc.integer({ min: 0, max: bounds.maxArrayLength }).map((n) => Array.from({ length: n }, (_, i) => i))
)
const fraction = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true })
/** ASCII words, with some non-ASCII characters of the Basic Multilingual Plane (no surrogate pairs to split). */
const word = fc.array(fc.constantFrom('a', 'b', 'c', ' ', '\n', 'é', '✓', 'ß', 'z'), { minLength: 1, maxLength: 12 }).map((cs) => cs.join(''))

/** An arbitrary edit of any kind, by one of `bounds.actors` clients. */
export function opArbitrary (bounds: ScenarioBounds = defaultBounds): fc.Arbitrary<Op> {
  const actor = fc.nat({ max: bounds.actors - 1 })
  const text = fc.oneof(
    { weight: 4, arbitrary: word },
    { weight: 1, arbitrary: fc.integer({ min: 100, max: bounds.maxTextLength }).map((n) => 'ab'.repeat(n).slice(0, n)) }
  )
  // A few values of any kind, or one long run of numbers: a single struct that later insertions split.
  const manyValues = fc.oneof(
    fc.array(anyValue(bounds), { minLength: 1, maxLength: 4 }),
    fc.integer({ min: 1, max: bounds.maxArrayLength }).map((n) => Array.from({ length: n }, (_, i) => i))
  )
  return fc.oneof(
    { weight: 6, arbitrary: fc.record({ kind: fc.constant('insert-text' as const), actor, at: fraction, text }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('delete-text' as const), actor, at: fraction, length: fc.integer({ min: 1, max: 20 }) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('format' as const), actor, at: fraction, length: fc.integer({ min: 1, max: 10 }), key: fc.constantFrom('bold', 'link', 'x'), value: fc.oneof(fc.constant(true), smallJson, depth(bounds).map((d) => nested(d))) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('embed' as const), actor, at: fraction, value: fc.tuple(depth(bounds), smallJson).map(([d, leaf]) => nested(d, leaf)) }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('map-set' as const), actor, key: fc.constantFrom('a', 'b', 'c'), value: anyValue(bounds) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('array-insert' as const), actor, at: fraction, values: manyValues }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('xml' as const), actor, tag: fc.constantFrom('p', 'h1', 'li'), attribute: word, text: word }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('nested-types' as const), actor, depth: fc.integer({ min: 1, max: bounds.maxDepth }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('subdocuments' as const), actor, count: fc.integer({ min: 1, max: bounds.maxSubdocuments }) }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('merge' as const), actor, from: fc.nat({ max: bounds.actors - 1 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete-every-other' as const), actor }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('unknown-client-deletes' as const), actor, ranges: fc.integer({ min: 1, max: bounds.maxUnknownRanges }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('orphans' as const), actor, updates: fc.integer({ min: 1, max: bounds.maxOrphanUpdates }), structsEach: fc.integer({ min: 1, max: 20 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('many-clients' as const), actor, clients: fc.integer({ min: 1, max: bounds.maxClients }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('deep-embed' as const), actor, depth: fc.constant(bounds.rawEmbedDepth) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('deep-any' as const), actor, depth: fc.constant(bounds.rawAnyDepth) }) }
  )
}

/** A scenario: edits, and the updates real Yjs (or the hand-built encoders) made of them, in sending order. */
export interface Scenario {
  readonly ops: readonly Op[]
  readonly steps: readonly Step[]
}

/**
 * Scenarios of up to `bounds.maxOps` edits; shrinking removes and
 * simplifies edits. A counterexample prints as its edits, long values cut.
 */
export function scenarioArbitrary (bounds: ScenarioBounds = defaultBounds): fc.Arbitrary<Scenario> {
  return fc.array(opArbitrary(bounds), { minLength: 1, maxLength: bounds.maxOps }).map((ops) => scenarioOf(ops, bounds.actors))
}

/** The scenario of `ops` played by `actors` clients, as `scenarioArbitrary` makes them (for fixed examples). */
export function scenarioOf (ops: readonly Op[], actors: number = defaultBounds.actors): Scenario {
  return { ops, steps: buildSteps(ops, actors), [fc.toStringMethod]: () => describeOps(ops) } as Scenario
}

/** One line per edit, values cut to 60 characters. */
export function describeOps (ops: readonly Op[]): string {
  return ops.map((op) => {
    const fields = Object.entries(op).filter(([key]) => key !== 'kind').map(([key, value]) => {
      const text = value instanceof Uint8Array ? `<${value.length} bytes>` : JSON.stringify(value) ?? String(value)
      return `${key}=${text.length > 60 ? `${text.slice(0, 57)}…(${text.length})` : text}`
    })
    return `${op.kind}(${fields.join(' ')})`
  }).join('\n')
}

/**
 * Plays `ops` on `actors` documents (client ids `firstClientId + i`) and
 * returns the update each edit produced, in order. Hand-built updates are
 * applied to their author's document too (but for the deep embed, which
 * Yjs could not encode again), so later edits build on them as a real
 * client's would. Deterministic: the same ops give the same bytes.
 */
export function buildSteps (ops: readonly Op[], actors: number): Step[] {
  const docs = Array.from({ length: actors }, (_, i) => {
    const doc = new Y.Doc({ guid: `actor-${i}`, gc: true })
    doc.clientID = firstClientId + i
    return doc
  })
  const steps: Step[] = []
  let crafted = 0
  for (const op of ops) {
    const doc = docs[op.actor]
    const push = (update: Uint8Array, label: string): void => {
      steps.push({ actor: op.actor, update, content: classify(update), label })
    }
    if (op.kind === 'merge') {
      if (op.from !== op.actor) Y.applyUpdate(doc, Y.encodeStateAsUpdate(docs[op.from]), 'merge')
      continue
    }
    const raw = craft(op, doc, firstClientId + 1_000_000 + 10_000 * crafted++)
    if (raw) {
      for (const update of raw) {
        // Yjs could not encode the author's document again with a deep embed in it: keep it out.
        if (op.kind !== 'deep-embed') Y.applyUpdate(doc, update, 'crafted')
        push(update, op.kind)
      }
      continue
    }
    const captured: Uint8Array[] = []
    const capture = (update: Uint8Array, origin: unknown): void => { if (origin === 'local') captured.push(update) }
    doc.on('update', capture)
    doc.transact(() => edit(op, doc), 'local')
    doc.off('update', capture)
    for (const update of captured) push(update, op.kind)
  }
  for (const doc of docs) doc.destroy()
  return steps
}

/** Makes an edit with the Yjs API, inside the caller's transaction. */
function edit (op: Op, doc: Y.Doc): void {
  const text = doc.getText(textName)
  const place = (at: number, length: number): number => Math.floor(at * (length + 1))
  switch (op.kind) {
    case 'insert-text':
      text.insert(place(op.at, text.length), op.text)
      break
    case 'delete-text': {
      if (text.length === 0) break
      const index = Math.min(place(op.at, text.length), text.length - 1)
      text.delete(index, Math.min(op.length, text.length - index))
      break
    }
    case 'format':
      if (text.length > 0) text.format(Math.min(place(op.at, text.length), text.length - 1), op.length, { [op.key]: op.value })
      break
    case 'embed':
      text.insertEmbed(place(op.at, text.length), { embed: op.value })
      break
    case 'map-set':
      doc.getMap('map').set(op.key, op.value)
      break
    case 'array-insert': {
      const array = doc.getArray('array')
      array.insert(place(op.at, array.length), op.values)
      break
    }
    case 'xml': {
      const element = new Y.XmlElement(op.tag)
      const inner = new Y.XmlText()
      doc.getXmlFragment('xml').insert(0, [element])
      element.setAttribute('title', op.attribute)
      element.insert(0, [inner])
      inner.insert(0, op.text, { bold: true })
      break
    }
    case 'nested-types': {
      let parent: Y.Map<unknown> | Y.Array<unknown> = doc.getMap('types')
      for (let i = 0; i < op.depth; i++) {
        const child: Y.Map<unknown> | Y.Array<unknown> = i % 2 === 0 ? new Y.Array<unknown>() : new Y.Map<unknown>()
        if (parent instanceof Y.Map) parent.set('child', child)
        else parent.insert(0, [child])
        parent = child
      }
      break
    }
    case 'subdocuments': {
      const docsMap = doc.getMap('docs')
      const base = docsMap.size
      for (let i = 0; i < op.count; i++) docsMap.set(`sub-${base + i}`, new Y.Doc({ guid: `${doc.clientID}-sub-${base + i}` }))
      break
    }
    default:
      throw new Error(`${op.kind} is not made with the Yjs API`)
  }
}

/** The hand-built updates of an edit Yjs would never write, or null for edits made with the Yjs API. */
function craft (op: Op, doc: Y.Doc, freshClient: number): Uint8Array[] | null {
  switch (op.kind) {
    case 'delete-every-other': {
      const item = longestLiveString(doc)
      return item ? [everyOtherDeletion(item.id.client, item.id.clock, item.length)] : []
    }
    case 'unknown-client-deletes':
      return [deletionsForUnknownClient(freshClient, op.ranges)]
    case 'orphans':
      return Array.from({ length: op.updates }, (_, i) => orphanStructs(freshClient, 1_000 + i * op.structsEach, op.structsEach))
    case 'many-clients':
      return [manyClients(freshClient, op.clients)]
    case 'deep-embed':
      return [deepEmbed(freshClient, op.depth)]
    case 'deep-any':
      return [deepAny(freshClient, op.depth)]
    default:
      return null
  }
}

/** The longest live string item of the document's text, if it holds one of at least 4 characters. */
function longestLiveString (doc: Y.Doc): Y.Item | null {
  let best: Y.Item | null = null
  for (let item = doc.getText(textName)._start; item; item = item.right) {
    if (!item.deleted && item.content instanceof Y.ContentString && item.length >= 4 && (!best || item.length > best.length)) best = item
  }
  return best
}

/** Whether the update can only be content that the `text` policy refuses, judging from its bytes alone. */
export function classify (update: Uint8Array): ContentClass {
  const { structs } = Y.decodeUpdate(update)
  for (const struct of structs) {
    if (!(struct instanceof Y.Item)) continue
    if (!(struct.content instanceof Y.ContentString) && !(struct.content instanceof Y.ContentDeleted)) return 'rich'
    if (struct.parentSub !== null) return 'rich'
    if (typeof struct.parent === 'string' && struct.parent !== textName) return 'rich'
  }
  return 'text-like'
}

// Hand-built updates (Yjs update format v1). Info byte of an item: bit 8 origin, bit 7 right origin,
// bit 6 parent key, low 5 bits the content type.

const hasOrigin = 0x80
const contentString = 4
const contentEmbed = 5
const contentAny = 8
const contentDoc = 9

/** One client's structs as the update encoder writes them: count, client, first clock, then the structs. */
interface ClientStructs {
  readonly client: number
  readonly clock: number
  readonly structs: number
  readonly write: (encoder: encoding.Encoder) => void
}

/** An update of `clients`' structs and a delete set of `deletions` (client → ranges of [clock, length]). */
export function rawUpdate (clients: readonly ClientStructs[], deletions: ReadonlyMap<number, ReadonlyArray<readonly [number, number]>> = new Map()): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, clients.length)
  for (const c of clients) {
    encoding.writeVarUint(encoder, c.structs)
    encoding.writeVarUint(encoder, c.client)
    encoding.writeVarUint(encoder, c.clock)
    c.write(encoder)
  }
  encoding.writeVarUint(encoder, deletions.size)
  for (const [client, ranges] of deletions) {
    encoding.writeVarUint(encoder, client)
    encoding.writeVarUint(encoder, ranges.length)
    for (const [clock, length] of ranges) {
      encoding.writeVarUint(encoder, clock)
      encoding.writeVarUint(encoder, length)
    }
  }
  return encoding.toUint8Array(encoder)
}

/** Writes a string item placed at the start of the root type `parent` (no origin: Yjs puts it first). */
function writeRootString (encoder: encoding.Encoder, parent: string, text: string): void {
  encoding.writeUint8(encoder, contentString)
  encoding.writeVarUint(encoder, 1) // parent is a root type, named
  encoding.writeVarString(encoder, parent)
  encoding.writeVarString(encoder, text)
}

/** Writes a string item right after (`client`, `clock`). */
function writeStringAfter (encoder: encoding.Encoder, client: number, clock: number, text: string): void {
  encoding.writeUint8(encoder, hasOrigin | contentString)
  encoding.writeVarUint(encoder, client)
  encoding.writeVarUint(encoder, clock)
  encoding.writeVarString(encoder, text)
}

/**
 * A delete set removing every other character of the item of `length`
 * characters at (`client`, `clock`): `length / 2` ranges, each splitting
 * the item once more. Sent on a long item, a few bytes per range cost Yjs
 * an item (a few hundred bytes of heap) each.
 */
export function everyOtherDeletion (client: number, clock: number, length: number): Uint8Array {
  const ranges: Array<[number, number]> = []
  for (let offset = 1; offset < length; offset += 2) ranges.push([clock + offset, 1])
  return rawUpdate([], new Map([[client, ranges]]))
}

/**
 * Deletions of `ranges` one-character ranges of `client`, a client nobody
 * has: Yjs keeps them waiting for structs that never come, and re-reads
 * them with every later update.
 */
export function deletionsForUnknownClient (client: number, ranges: number): Uint8Array {
  return rawUpdate([], new Map([[client, Array.from({ length: ranges }, (_, i) => [2 * i, 1] as [number, number])]]))
}

/**
 * `count` one-character structs of `client` from `clock` on (above 0),
 * chained one after another: the clocks below `clock` never arrive, so
 * Yjs keeps them waiting.
 */
export function orphanStructs (client: number, clock: number, count: number): Uint8Array {
  return rawUpdate([{
    client,
    clock,
    structs: count,
    write: (encoder) => {
      writeStringAfter(encoder, client, clock - 1, 'x')
      for (let i = 1; i < count; i++) writeStringAfter(encoder, client, clock + i - 1, 'x')
    }
  }])
}

/** One character from each of `count` clients (`firstClient` …), each put at the start of the text. */
export function manyClients (firstClient: number, count: number): Uint8Array {
  return rawUpdate(Array.from({ length: count }, (_, i) => ({
    client: firstClient + i,
    clock: 0,
    structs: 1,
    write: (encoder: encoding.Encoder) => writeRootString(encoder, textName, 'x')
  })))
}

/**
 * An embed at the start of the text whose JSON nests `depth` objects deep.
 * Yjs parses it (JSON.parse does not recurse), but past a few thousand
 * levels it cannot write it back (`JSON.stringify` overflows the stack), so
 * no document holding it can be encoded for a newcomer or compacted.
 */
export function deepEmbed (client: number, depth: number): Uint8Array {
  return rawUpdate([{
    client,
    clock: 0,
    structs: 1,
    write: (encoder) => {
      encoding.writeUint8(encoder, contentEmbed)
      encoding.writeVarUint(encoder, 1)
      encoding.writeVarString(encoder, textName)
      encoding.writeVarString(encoder, nestedJsonText(depth))
    }
  }])
}

/** A value of the root map `map` under key `deep`, an `any` value nested `depth` levels deep. */
export function deepAny (client: number, depth: number): Uint8Array {
  return rawUpdate([{
    client,
    clock: 0,
    structs: 1,
    write: (encoder) => {
      encoding.writeUint8(encoder, 0x20 | contentAny) // with a parent key
      encoding.writeVarUint(encoder, 1)
      encoding.writeVarString(encoder, 'map')
      encoding.writeVarString(encoder, 'deep')
      encoding.writeVarUint(encoder, 1)
      encoding.writeAny(encoder, nested(depth) as encoding.AnyEncodable)
    }
  }])
}

/** `count` subdocuments appended to the root array `subdocs` by `client`, a few bytes each. */
export function manySubdocuments (client: number, count: number): Uint8Array {
  return rawUpdate([{
    client,
    clock: 0,
    structs: count,
    write: (encoder) => {
      for (let i = 0; i < count; i++) {
        if (i === 0) {
          encoding.writeUint8(encoder, contentDoc)
          encoding.writeVarUint(encoder, 1)
          encoding.writeVarString(encoder, 'subdocs')
        } else {
          encoding.writeUint8(encoder, hasOrigin | contentDoc)
          encoding.writeVarUint(encoder, client)
          encoding.writeVarUint(encoder, i - 1)
        }
        encoding.writeVarString(encoder, `s${i}`)
        encoding.writeAny(encoder, {})
      }
    }
  }])
}

/** A text insertion of `length` characters by `client` at the start of the text: one item. */
export function longText (client: number, length: number): Uint8Array {
  return rawUpdate([{ client, clock: 0, structs: 1, write: (encoder) => writeRootString(encoder, textName, 'ab'.repeat(Math.ceil(length / 2)).slice(0, length)) }])
}

// Measures of a document, in the units of the relay's budgets.

/** Structs the document holds in memory (items and garbage-collected ranges). */
export function itemCount (doc: Y.Doc): number {
  let count = 0
  for (const structs of doc.store.clients.values()) count += structs.length
  return count
}

/** Structs and delete ranges the document holds waiting for missing dependencies. */
export function pendingItemCount (doc: Y.Doc): number {
  const { pendingStructs, pendingDs } = doc.store
  let count = 0
  if (pendingStructs) count += Y.decodeUpdateV2(pendingStructs.update).structs.filter((s) => !(s instanceof Y.Skip)).length
  if (pendingDs) for (const ranges of Y.decodeUpdateV2(pendingDs).ds.clients.values()) count += ranges.length
  return count
}

/** Nesting of a JSON or `any` value (a scalar is 0), counted without recursion. */
export function valueDepth (value: unknown): number {
  let deepest = 0
  const stack: Array<[unknown, number]> = [[value, 0]]
  while (stack.length > 0) {
    const [v, d] = stack.pop()!
    if (v === null || typeof v !== 'object' || v instanceof Uint8Array) continue
    deepest = Math.max(deepest, d + 1)
    for (const child of Object.values(v)) stack.push([child, d + 1])
  }
  return deepest
}

/** What a document holds, measured for the content budgets. */
export interface ContentMeasure {
  /** Deepest JSON or `any` value (embeds, formats, map and array values). */
  readonly valueDepth: number
  /** Deepest nesting of shared types inside shared types (a root type's direct child type is 1). */
  readonly typeDepth: number
  /** Subdocuments in the document. */
  readonly subdocuments: number
  /** Whether all it holds is strings in the root text `text`, without formats or embeds. */
  readonly plainText: boolean
}

/** Measures the live content of `doc` (deleted content is gone after garbage collection). */
export function measureContent (doc: Y.Doc): ContentMeasure {
  let deepestValue = 0
  let deepestType = 0
  let plainText = true
  const text = doc.share.get(textName)
  for (const structs of doc.store.clients.values()) {
    for (const struct of structs) {
      if (!(struct instanceof Y.Item) || struct.deleted) continue
      const content = struct.content
      if (!(content instanceof Y.ContentString) || struct.parent !== text) plainText = false
      if (content instanceof Y.ContentAny || content instanceof Y.ContentJSON) {
        for (const value of content.getContent()) deepestValue = Math.max(deepestValue, valueDepth(value))
      } else if (content instanceof Y.ContentEmbed) {
        deepestValue = Math.max(deepestValue, valueDepth(content.embed))
      } else if (content instanceof Y.ContentFormat) {
        deepestValue = Math.max(deepestValue, valueDepth(content.value))
      } else if (content instanceof Y.ContentType) {
        let d = 0
        for (let item: Y.Item | null = struct; item; item = (item.parent as Y.AbstractType<unknown>)._item) d++
        deepestType = Math.max(deepestType, d)
      }
    }
  }
  for (const [name, type] of doc.share) {
    if (name !== textName && type._start !== null) plainText = false
    if (name !== textName && type._map.size > 0) plainText = false
  }
  return { valueDepth: deepestValue, typeDepth: deepestType, subdocuments: doc.getSubdocs().size, plainText }
}
