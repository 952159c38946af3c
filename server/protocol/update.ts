/**
 * Looks at Yjs updates before they touch a document: whether they are safe
 * to apply and what applying them can cost (`checkUpdate`), and whether they
 * would change anything (`changesDocument`).
 *
 * `Y.applyUpdate` integrates structs as it reads them and reads the delete
 * set last, so an update that is cut short or garbled there, or that points
 * at structs its own client never made, can throw after part of it is in the
 * document. Checking first keeps such updates away from the document: the
 * room then rejects them without rebuilding it from the store, which costs as
 * much as loading the document.
 *
 * Content that parses can still be unsafe to keep: Yjs writes JSON values
 * with the recursive `JSON.stringify` and `any` values with lib0's recursive
 * `writeAny`, and deletes and serialises nested shared types recursively, so
 * a value or type nested thousands of levels deep is accepted, stored and
 * relayed, and then throws whenever the document is encoded again (for every
 * newcomer, at every compaction). The content policy bounds that nesting, and
 * can narrow documents to plain text.
 */
import * as Y from 'yjs'
import * as decoding from 'lib0/decoding'
import { parseFailure, ProtocolError } from './errors.js'
import { jsonDepth } from './json-depth.js'

/**
 * Which Yjs content the relay accepts.
 * - `text`: only strings (and deletions) in the root `Y.Text` named `text`.
 * - `structured`: any shared types holding JSON and binary values, values
 *   and types nested at most `maxContentDepth` deep; no subdocuments.
 * - `any`: `structured` plus subdocuments.
 */
export type ContentPolicy = 'text' | 'structured' | 'any'

/** What the relay accepts; fields as in the server's configuration. */
export interface UpdatePolicy {
  /** Which content documents may hold. */
  readonly content: ContentPolicy
  /**
   * Deepest nesting of arrays and objects in a JSON or `any` value (an
   * embed, a format, a map or array entry, subdocument options), and of
   * shared types inside one another (a root type is depth 0, a map in it 1).
   */
  readonly maxContentDepth: number
}

/** The shape of a checked update: what applying it can cost. */
export interface UpdateShape {
  /** Structs (items and GC ranges, not skips) it carries. */
  readonly structs: number
  /** Ranges in its delete set. */
  readonly deleteRanges: number
  /** Subdocument items it carries. */
  readonly subdocuments: number
  /** Offset in the update where its delete set begins (see `readDeleteSet`). */
  readonly deleteSetOffset: number
}

/** The root type that the `text` policy allows, the one the editor binds. */
const textRootName = 'text'

/**
 * Checks an update a client sent and returns its shape.
 *
 * Throws a `ProtocolError` 'invalid-update' unless `update` parses
 * completely as a Yjs update (format v1, structs and delete set) and every
 * reference an item makes to its own client (origin, right origin, parent)
 * names an earlier clock, as it does in every update Yjs writes: an item can
 * only refer to what existed when it was made. Delete set ranges must not be
 * empty (Yjs never writes one, and throws re-encoding one it keeps waiting).
 * For those rules it accepts and refuses exactly what `Y.decodeUpdate` does,
 * reading the bytes with the same lib0 functions in the same order.
 *
 * Throws 'content-refused' for content `policy` does not allow: under
 * `text`, anything but strings and deleted content placed in the root type
 * `text` (no map keys, no nested types); under `structured`, subdocuments; and
 * under every policy, a JSON or `any` value nested deeper than
 * `policy.maxContentDepth`, or a shared type nested deeper. The depth of a
 * shared type counts the types it sits in, found in this update and, when
 * `doc` is given, in `doc`; with `doc` given, a shared type whose ancestry
 * leads to a struct in neither (its update would wait for a dependency that
 * may nest it arbitrarily deep) counts as too deep.
 *
 * Builds no Yjs structs and allocates little: this runs once for every
 * update a client sends. Under `structured` and `any` it keeps a small
 * record of each struct, to find the depth of the shared types the update
 * creates, if any.
 */
export function checkUpdate (update: Uint8Array, policy: UpdatePolicy, doc?: Y.Doc): UpdateShape {
  try {
    const records: StructRecord[] | null = policy.content === 'text' ? null : []
    const shape = scanUpdate(decoding.createDecoder(update), policy, records)
    if (records !== null && shape.types > 0) checkTypeDepth(records, policy.maxContentDepth, doc)
    return { structs: shape.structs, deleteRanges: shape.deleteRanges, subdocuments: shape.subdocuments, deleteSetOffset: shape.deleteSetOffset }
  } catch (err) {
    if (err instanceof ProtocolError) throw err
    throw new ProtocolError('invalid-update', `update does not parse: ${parseFailure(err)}`)
  }
}

const bit6 = 0x20
const bit7 = 0x40
const bit8 = 0x80
const bits5 = 0x1f
/** Struct info of a skip (a gap in a merged update). */
const skipInfo = 10

/** An update's shape, and how many shared types it creates. */
interface Scanned extends UpdateShape {
  readonly types: number
}

/**
 * How a struct of the update names its parent, as far as nesting depth goes:
 * not at all (a GC range), a root type by name (depth 0), the shared type
 * the item at `ref` holds, or the parent of the item at `ref` (its origin or
 * right origin).
 */
type ParentRef = 'none' | 'root' | 'typeOf' | 'sameAs'

/** What the type depth check needs to know of one struct of the update. */
interface StructRecord {
  readonly client: number
  readonly clock: number
  readonly length: number
  readonly parent: ParentRef
  readonly refClient: number
  readonly refClock: number
  /** Whether it is an item holding a shared type. */
  readonly isType: boolean
  /** Depth of the type it sits in, once known; `unresolved` or `visiting` before. */
  parentDepth: number
}

const unresolved = -1
const visiting = -2

/**
 * Reads an update as Yjs' lazy struct reader does, throwing where it throws,
 * and refuses content against `policy`. Fills `records`, when given, with
 * every struct but skips.
 */
function scanUpdate (decoder: decoding.Decoder, policy: UpdatePolicy, records: StructRecord[] | null): Scanned {
  const textOnly = policy.content === 'text'
  const counts = { structs: 0, deleteRanges: 0, subdocuments: 0, types: 0, deleteSetOffset: 0 }
  const clients = decoding.readVarUint(decoder)
  for (let c = 0; c < clients; c++) {
    const structs = decoding.readVarUint(decoder)
    const client = decoding.readVarUint(decoder)
    let clock = decoding.readVarUint(decoder)
    for (let s = 0; s < structs; s++) {
      const info = decoding.readUint8(decoder)
      if (info === skipInfo) {
        clock += decoding.readVarUint(decoder)
        continue
      }
      counts.structs++
      if ((info & bits5) === 0) { // GC
        const length = decoding.readVarUint(decoder)
        records?.push({ client, clock, length, parent: 'none', refClient: 0, refClock: 0, isType: false, parentDepth: 0 })
        clock += length
        continue
      }
      let parent: ParentRef = 'sameAs'
      let refClient = 0
      let refClock = 0
      if ((info & bit8) !== 0) {
        refClient = decoding.readVarUint(decoder)
        refClock = decoding.readVarUint(decoder)
        checkOwnReference(client, clock, refClient, refClock)
      }
      if ((info & bit7) !== 0) {
        const rightClient = decoding.readVarUint(decoder)
        const rightClock = decoding.readVarUint(decoder)
        checkOwnReference(client, clock, rightClient, rightClock)
        if ((info & bit8) === 0) {
          refClient = rightClient
          refClock = rightClock
        }
      }
      if ((info & (bit7 | bit8)) === 0) {
        if (decoding.readVarUint(decoder) === 1) {
          parent = 'root'
          const name = decoding.readVarString(decoder)
          if (textOnly && name !== textRootName) refuseInText(`content in the shared type '${name}'`)
        } else {
          parent = 'typeOf'
          refClient = decoding.readVarUint(decoder)
          refClock = decoding.readVarUint(decoder)
          checkOwnReference(client, clock, refClient, refClock)
          if (textOnly) refuseInText('content inside a nested shared type')
        }
        if ((info & bit6) !== 0) {
          decoding.readVarString(decoder)
          if (textOnly) refuseInText('a map entry')
        }
      }
      const contentType = info & bits5
      if (textOnly && contentType !== contentString && contentType !== contentDeleted) refuseInText(contentNames[contentType] ?? `content of type ${contentType}`)
      const length = readContent(decoder, contentType, policy, counts)
      records?.push({ client, clock, length, parent, refClient, refClock, isType: contentType === contentTypeRef, parentDepth: unresolved })
      clock += length
    }
  }
  counts.deleteSetOffset = decoder.pos
  const deleted = decoding.readVarUint(decoder)
  for (let c = 0; c < deleted; c++) {
    decoding.readVarUint(decoder) // client
    const ranges = decoding.readVarUint(decoder)
    for (let r = 0; r < ranges; r++) {
      decoding.readVarUint(decoder) // clock
      if (decoding.readVarUint(decoder) === 0) {
        throw new ProtocolError('invalid-update', 'the delete set holds an empty range')
      }
      counts.deleteRanges++
    }
  }
  return counts
}

const contentDeleted = 1
const contentString = 4
const contentTypeRef = 7

/** What each content type is called in refusals. */
const contentNames: Record<number, string> = {
  2: 'JSON values',
  3: 'binary data',
  5: 'an embed',
  6: 'a format',
  7: 'a shared type',
  8: 'values',
  9: 'a subdocument'
}

function refuseInText (found: string): never {
  throw new ProtocolError('content-refused', `this server accepts only text in '${textRootName}'; found ${found}`)
}

function refuseDepth (what: string, limit: number): never {
  throw new ProtocolError('content-refused', `${what} nests deeper than ${limit} levels, which this server refuses`)
}

/**
 * Reads an item's content as Yjs does, refusing values nested past the
 * policy's depth before parsing them, and returns the clock length Yjs gives
 * it. Counts subdocuments and shared types into `counts`.
 */
function readContent (decoder: decoding.Decoder, contentType: number, policy: UpdatePolicy, counts: { subdocuments: number, types: number }): number {
  const limit = policy.maxContentDepth
  switch (contentType) {
    case 1: // deleted
      return decoding.readVarUint(decoder)
    case 2: { // JSON
      const length = decoding.readVarUint(decoder)
      for (let i = 0; i < length; i++) {
        const json = decoding.readVarString(decoder)
        if (json !== 'undefined') readJson(json, 'a JSON value', limit)
      }
      return length
    }
    case 3: // binary
      decoding.readVarUint8Array(decoder)
      return 1
    case 4: // string: one clock per UTF-16 code unit
      return decoding.readVarString(decoder).length
    case 5: // embed
      readJson(decoding.readVarString(decoder), 'an embed', limit)
      return 1
    case 6: // format: key and JSON value
      decoding.readVarString(decoder)
      readJson(decoding.readVarString(decoder), 'a format', limit)
      return 1
    case 7: { // type: XML elements and hooks carry a name
      const typeRef = decoding.readVarUint(decoder)
      if (typeRef === 3 || typeRef === 5) decoding.readVarString(decoder)
      else if (typeRef > 6) throw new Error(`unknown type ${typeRef}`)
      counts.types++
      return 1
    }
    case 8: { // any
      const length = decoding.readVarUint(decoder)
      for (let i = 0; i < length; i++) {
        if (readAnyDepth(decoder, limit) > limit) refuseDepth('a value', limit)
      }
      return length
    }
    case 9: { // subdocument: guid and options, which Yjs reads as an object
      if (policy.content !== 'any') {
        throw new ProtocolError('content-refused', `this server does not accept subdocuments (content policy '${policy.content}')`)
      }
      decoding.readVarString(decoder)
      const tag = decoder.arr[decoder.pos]
      if (readAnyDepth(decoder, limit) > limit) refuseDepth('subdocument options', limit)
      if (tag === anyNull || tag === anyUndefined) throw new Error('subdocument without options')
      counts.subdocuments++
      return 1
    }
    default:
      throw new Error(`unknown content type ${contentType}`)
  }
}

/** Parses `json` as Yjs will, after refusing it if it nests deeper than `limit`. */
function readJson (json: string, what: string, limit: number): void {
  if (jsonDepth(json, limit) > limit) refuseDepth(what, limit)
  JSON.parse(json)
}

/* Type tags of lib0's `writeAny`. */
const anyUndefined = 127
const anyNull = 126
const anyInteger = 125
const anyFloat32 = 124
const anyFloat64 = 123
const anyBigInt = 122
const anyFalse = 121
const anyTrue = 120
const anyString = 119
const anyObject = 118
const anyArray = 117
const anyBytes = 116

/**
 * Reads one value as lib0's `readAny` does, throwing where it throws, but
 * without recursion or building the value (`readAny` and `writeAny` recurse
 * once per level, so only a value of bounded depth is safe to read and to
 * write back). Returns the most arrays and objects it nests (0 for a
 * scalar); stops reading at the first level past `limit` and returns
 * `limit + 1`.
 */
function readAnyDepth (decoder: decoding.Decoder, limit: number): number {
  // Values left to read in each enclosing array or object, outermost first,
  // stored as -1 - left for objects (whose values come after keys); made for
  // the first array or object only.
  let outer: number[] | null = null
  let deepest = 0
  let remaining = 1
  let keyed = false
  for (;;) {
    while (remaining === 0) {
      if (outer === null || outer.length === 0) return deepest
      const left = outer.pop()!
      keyed = left < 0
      remaining = keyed ? -1 - left : left
    }
    remaining--
    if (keyed) decoding.readVarString(decoder)
    const tag = decoding.readUint8(decoder)
    switch (tag) {
      case anyUndefined: case anyNull: case anyFalse: case anyTrue: break
      case anyInteger: decoding.readVarInt(decoder); break
      case anyFloat32: decoding.readFloat32(decoder); break
      case anyFloat64: decoding.readFloat64(decoder); break
      case anyBigInt: decoding.readBigInt64(decoder); break
      case anyString: decoding.readVarString(decoder); break
      case anyBytes: decoding.readVarUint8Array(decoder); break
      case anyObject:
      case anyArray: {
        const length = decoding.readVarUint(decoder)
        outer ??= []
        outer.push(keyed ? -1 - remaining : remaining)
        if (outer.length > deepest) {
          deepest = outer.length
          if (deepest > limit) return deepest
        }
        remaining = length
        keyed = tag === anyObject
        break
      }
      default:
        throw new Error(`unknown value type ${tag}`)
    }
  }
}

/** Throws unless a reference from the struct at `clock` of `client` to (`refClient`, `refClock`) points back in time. */
function checkOwnReference (client: number, clock: number, refClient: number, refClock: number): void {
  if (refClient === client && refClock >= clock) {
    throw new ProtocolError('invalid-update', 'an item refers to a later struct of its own client')
  }
}

/**
 * Refuses the update if a shared type it creates sits deeper than `limit`
 * types: Yjs deletes (`ContentType.delete`) and serialises (`toJSON`) nested
 * types recursively. An item's type is found as Yjs finds it: by root name,
 * by the item holding the type, or as its origin's (else right origin's)
 * type; in `doc` first, as Yjs skips structs the document already holds,
 * then among `records`. A chain that ends nowhere, or in a cycle, counts as
 * depth 0 without `doc` and as `limit` with it.
 */
function checkTypeDepth (records: StructRecord[], limit: number, doc: Y.Doc | undefined): void {
  const byClient = new Map<number, StructRecord[]>()
  for (const record of records) {
    const list = byClient.get(record.client)
    if (list === undefined) byClient.set(record.client, [record])
    else list.push(record)
  }
  for (const list of byClient.values()) list.sort((a, b) => a.clock - b.clock)
  const unknownDepth = doc === undefined ? 0 : limit
  const find = (client: number, clock: number): StructRecord | null => {
    const list = byClient.get(client)
    if (list === undefined) return null
    let low = 0
    let high = list.length - 1
    while (low <= high) {
      const middle = (low + high) >>> 1
      const record = list[middle]
      if (clock < record.clock) high = middle - 1
      else if (clock >= record.clock + record.length) low = middle + 1
      else return record
    }
    return null
  }
  // Each step of a chain adds 0 (same type as the referenced item) or 1 (the type the referenced item holds).
  const path: StructRecord[] = []
  const steps: number[] = []
  for (const start of records) {
    if (!start.isType) continue
    let record = start
    let base: number
    for (;;) {
      if (record.parentDepth >= 0) {
        base = record.parentDepth
        break
      }
      if (record.parentDepth === visiting) {
        base = unknownDepth
        break
      }
      record.parentDepth = visiting
      path.push(record)
      if (record.parent === 'none' || record.parent === 'root') {
        steps.push(0)
        base = 0
        break
      }
      const inDoc = doc === undefined ? null : docStructAt(doc, record.refClient, record.refClock)
      if (inDoc !== null) {
        steps.push(0)
        base = record.parent === 'typeOf' ? heldTypeDepth(inDoc, limit) : parentTypeDepth(inDoc, limit)
        break
      }
      const next = find(record.refClient, record.refClock)
      if (next === null) {
        steps.push(0)
        base = unknownDepth
        break
      }
      if (record.parent === 'typeOf') {
        if (!next.isType || next.clock !== record.refClock) {
          steps.push(0) // not a type: Yjs drops the item
          base = 0
          break
        }
        steps.push(1)
      } else {
        steps.push(0)
      }
      record = next
    }
    for (let i = path.length - 1; i >= 0; i--) {
      base += steps[i]
      path[i].parentDepth = base
    }
    path.length = 0
    steps.length = 0
    if (start.parentDepth + 1 > limit) refuseDepth('a shared type', limit)
  }
}

/** The struct of `doc` that holds clock `clock` of `client`, or null if `doc` has not seen it. */
function docStructAt (doc: Y.Doc, client: number, clock: number): Y.Item | Y.GC | null {
  const structs = doc.store.clients.get(client)
  if (structs === undefined || clock >= Y.getState(doc.store, client)) return null
  return structs[Y.findIndexSS(structs, clock)] as Y.Item | Y.GC
}

/** Depth of the shared type `struct` holds (a type in a root type is 1), at most `limit + 1`; 0 if it holds none. */
function heldTypeDepth (struct: Y.Item | Y.GC, limit: number): number {
  return struct instanceof Y.Item && struct.content instanceof Y.ContentType ? typeDepth(struct.content.type, limit) : 0
}

/** Depth of the shared type `struct` sits in (a root type is 0), at most `limit + 1`. */
function parentTypeDepth (struct: Y.Item | Y.GC, limit: number): number {
  return struct instanceof Y.Item && struct.parent instanceof Y.AbstractType ? typeDepth(struct.parent, limit) : 0
}

/** How many types `type` sits in, counting itself unless it is a root type; at most `limit + 1`. */
function typeDepth (type: Y.AbstractType<unknown>, limit: number): number {
  let depth = 0
  for (let item = type._item; item !== null && depth <= limit; depth++) {
    item = item.parent instanceof Y.AbstractType ? item.parent._item : null
  }
  return depth
}

/**
 * Calls `range` for every range of the delete set of a checked update, in
 * order, until it returns false. `shape` is what `checkUpdate` returned for
 * `update`.
 */
export function readDeleteSet (update: Uint8Array, shape: UpdateShape, range: (client: number, clock: number, length: number) => boolean): void {
  const decoder = decoding.createDecoder(update)
  decoder.pos = shape.deleteSetOffset
  const clients = decoding.readVarUint(decoder)
  for (let c = 0; c < clients; c++) {
    const client = decoding.readVarUint(decoder)
    const ranges = decoding.readVarUint(decoder)
    for (let r = 0; r < ranges; r++) {
      if (!range(client, decoding.readVarUint(decoder), decoding.readVarUint(decoder))) return
    }
  }
}

/**
 * Whether applying `update` to `doc` would add a struct or delete an item
 * that `doc` does not already hold deleted. Does not change `doc`. An update
 * that does not parse counts as a change. A sync step 2 of a client that is
 * up to date carries the whole delete set again, and changes nothing.
 */
export function changesDocument (doc: Y.Doc, update: Uint8Array): boolean {
  let decoded: ReturnType<typeof Y.decodeUpdate>
  try {
    decoded = Y.decodeUpdate(update)
  } catch {
    return true
  }
  const store = doc.store
  for (const struct of decoded.structs) {
    if (struct instanceof Y.Skip) continue
    if (struct.id.clock + struct.length > Y.getState(store, struct.id.client)) return true
  }
  for (const [client, ranges] of decoded.ds.clients) {
    const structs = store.clients.get(client)
    for (const { clock, len } of ranges) {
      if (len <= 0) continue
      if (!structs || clock + len > Y.getState(store, client)) return true
      for (let i = Y.findIndexSS(structs, clock); i < structs.length && structs[i].id.clock < clock + len; i++) {
        if (!structs[i].deleted) return true
      }
    }
  }
  return false
}
