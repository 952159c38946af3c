/**
 * Looks at Yjs updates before they touch a document: whether they are safe
 * to apply (`checkUpdate`), and whether they would change anything
 * (`changesDocument`).
 *
 * `Y.applyUpdate` integrates structs as it reads them and reads the delete
 * set last, so an update that is cut short or garbled there, or that points
 * at structs its own client never made, can throw after part of it is in the
 * document. Checking first keeps such updates away from the document: the
 * room then rejects them without rebuilding it from the store, which costs as
 * much as loading the document.
 */
import * as Y from 'yjs'
import * as decoding from 'lib0/decoding'
import { ProtocolError } from './errors.js'

/**
 * Throws a `ProtocolError` ('invalid-update') unless `update` parses
 * completely as a Yjs update (format v1, structs and delete set) and every
 * reference an item makes to its own client (origin, right origin, parent)
 * names an earlier clock, as it does in every update Yjs writes: an item can
 * only refer to what existed when it was made. Delete set ranges must not be
 * empty (Yjs never writes one, and throws re-encoding one it keeps waiting).
 *
 * Accepts and refuses exactly what `Y.decodeUpdate` does, reading the bytes
 * with the same lib0 functions in the same order, but builds no structs:
 * this runs once for every update a client sends.
 */
export function checkUpdate (update: Uint8Array, _policy: UpdatePolicy, _doc?: Y.Doc): UpdateShape {
  try {
    return scanUpdate(decoding.createDecoder(update))
  } catch (err) {
    if (err instanceof ProtocolError) throw err
    throw new ProtocolError('invalid-update', `update does not parse: ${(err as Error).message}`)
  }
}

/** Which content the relay accepts. */
export type ContentPolicy = 'text' | 'structured' | 'any'

/** What the relay accepts; fields as in `Config`. */
export interface UpdatePolicy {
  readonly content: ContentPolicy
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

const bit6 = 0x20
const bit7 = 0x40
const bit8 = 0x80
const bits5 = 0x1f
/** Struct info of a skip (a gap in a merged update). */
const skipInfo = 10

/** Reads an update as Yjs' lazy struct reader does, throwing where it throws. */
function scanUpdate (decoder: decoding.Decoder): UpdateShape {
  let structCount = 0
  let deleteRanges = 0
  let subdocuments = 0
  const clients = decoding.readVarUint(decoder)
  for (let c = 0; c < clients; c++) {
    const structs = decoding.readVarUint(decoder)
    const client = decoding.readVarUint(decoder)
    let clock = decoding.readVarUint(decoder)
    for (let s = 0; s < structs; s++) {
      const info = decoding.readUint8(decoder)
      if (info === skipInfo || (info & bits5) === 0) {
        if (info !== skipInfo) structCount++
        clock += decoding.readVarUint(decoder)
        continue
      }
      structCount++
      if ((info & bits5) === 9) subdocuments++
      if ((info & bit8) !== 0) checkOwnReference(client, clock, decoding.readVarUint(decoder), decoding.readVarUint(decoder))
      if ((info & bit7) !== 0) checkOwnReference(client, clock, decoding.readVarUint(decoder), decoding.readVarUint(decoder))
      if ((info & (bit7 | bit8)) === 0) {
        if (decoding.readVarUint(decoder) === 1) decoding.readVarString(decoder)
        else checkOwnReference(client, clock, decoding.readVarUint(decoder), decoding.readVarUint(decoder))
        if ((info & bit6) !== 0) decoding.readVarString(decoder)
      }
      clock += contentLength(decoder, info & bits5)
    }
  }
  const deleteSetOffset = decoder.pos
  const deleted = decoding.readVarUint(decoder)
  for (let c = 0; c < deleted; c++) {
    decoding.readVarUint(decoder) // client
    const ranges = decoding.readVarUint(decoder)
    deleteRanges += ranges
    for (let r = 0; r < ranges; r++) {
      decoding.readVarUint(decoder) // clock
      if (decoding.readVarUint(decoder) === 0) {
        throw new ProtocolError('invalid-update', 'the delete set holds an empty range')
      }
    }
  }
  return { structs: structCount, deleteRanges, subdocuments, deleteSetOffset }
}

/** Reads an item's content as Yjs does and returns the clock length Yjs gives it. */
function contentLength (decoder: decoding.Decoder, contentType: number): number {
  switch (contentType) {
    case 1: // deleted
      return decoding.readVarUint(decoder)
    case 2: { // JSON
      const length = decoding.readVarUint(decoder)
      for (let i = 0; i < length; i++) {
        const json = decoding.readVarString(decoder)
        if (json !== 'undefined') JSON.parse(json)
      }
      return length
    }
    case 3: // binary
      decoding.readVarUint8Array(decoder)
      return 1
    case 4: // string: one clock per UTF-16 code unit
      return decoding.readVarString(decoder).length
    case 5: // embed
      JSON.parse(decoding.readVarString(decoder))
      return 1
    case 6: // format: key and JSON value
      decoding.readVarString(decoder)
      JSON.parse(decoding.readVarString(decoder))
      return 1
    case 7: { // type: XML elements and hooks carry a name
      const typeRef = decoding.readVarUint(decoder)
      if (typeRef === 3 || typeRef === 5) decoding.readVarString(decoder)
      else if (typeRef > 6) throw new Error(`unknown type ${typeRef}`)
      return 1
    }
    case 8: { // any
      const length = decoding.readVarUint(decoder)
      for (let i = 0; i < length; i++) decoding.readAny(decoder)
      return length
    }
    case 9: { // subdocument: guid and options, which Yjs reads as an object
      decoding.readVarString(decoder)
      const options: unknown = decoding.readAny(decoder)
      if (options === null || options === undefined) throw new Error('subdocument without options')
      return 1
    }
    default:
      throw new Error(`unknown content type ${contentType}`)
  }
}

/** Throws unless a reference from the struct at `clock` of `client` to (`refClient`, `refClock`) points back in time. */
function checkOwnReference (client: number, clock: number, refClient: number, refClock: number): void {
  if (refClient === client && refClock >= clock) {
    throw new ProtocolError('invalid-update', 'an item refers to a later struct of its own client')
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
