/**
 * The messages of the hostile scenario, written byte by byte with lib0 in
 * Yjs' update format v1, as an attacker would write them: each is a valid
 * update that Yjs applies, shaped to cost the receiver as much as possible.
 *
 * Struct layout (yjs `Item.write`): an info byte (content type in the low
 * five bits, 0x80 = has origin, 0x40 = has right origin), the origin ids,
 * the parent (only without origins: 1 and the root type's name), then the
 * content. An update is its structs grouped by client, then a delete set.
 */
import * as encoding from 'lib0/encoding'

const hasOrigin = 0x80
const hasRightOrigin = 0x40
const contentString = 4
const contentEmbed = 5
const contentDoc = 9

/** Root type every hostile document edits: the text coedit's editor uses. */
const rootText = 'text'
/** Client id of the attacker's structs: fixed, so runs are repeatable; far from the random ids of honest peers. */
export const attackerClient = 7
const absentClient = 8
const firstPendingClient = 1_000_000

/** Writes the header of one client's structs. */
function writeClientHeader (encoder: encoding.Encoder, structs: number, client: number, clock: number): void {
  encoding.writeVarUint(encoder, structs)
  encoding.writeVarUint(encoder, client)
  encoding.writeVarUint(encoder, clock)
}

/** Writes "this item starts in the root type `name`" (no origins). */
function writeRootParent (encoder: encoding.Encoder, name: string): void {
  encoding.writeVarUint(encoder, 1)
  encoding.writeVarString(encoder, name)
}

function writeId (encoder: encoding.Encoder, client: number, clock: number): void {
  encoding.writeVarUint(encoder, client)
  encoding.writeVarUint(encoder, clock)
}

/** An empty delete set. */
function writeNoDeletes (encoder: encoding.Encoder): void {
  encoding.writeVarUint(encoder, 0)
}

/**
 * One embed in the text whose JSON value is an array nested `depth` deep
 * (`[[[…]]]`, 2 bytes a level). Every parse and serialisation of it recurses
 * `depth` times.
 */
export function deepEmbedUpdate (depth: number): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, 1)
  writeClientHeader(encoder, 1, attackerClient, 0)
  encoding.writeUint8(encoder, contentEmbed)
  writeRootParent(encoder, rootText)
  encoding.writeVarString(encoder, '['.repeat(depth) + ']'.repeat(depth))
  writeNoDeletes(encoder)
  return encoding.toUint8Array(encoder)
}

/** One insertion of `length` characters ('x') into the text, by the attacker's client at clock 0. */
export function longInsertUpdate (length: number): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, 1)
  writeClientHeader(encoder, 1, attackerClient, 0)
  encoding.writeUint8(encoder, contentString)
  writeRootParent(encoder, rootText)
  encoding.writeVarString(encoder, 'x'.repeat(length))
  writeNoDeletes(encoder)
  return encoding.toUint8Array(encoder)
}

/**
 * No structs, and a delete set removing every other character of the
 * insertion of `longInsertUpdate(length)`: one range per deleted character,
 * each of which splits an item in two.
 */
export function everyOtherDeleteUpdate (length: number): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, 0)
  encoding.writeVarUint(encoder, 1)
  encoding.writeVarUint(encoder, attackerClient)
  const ranges = Math.floor(length / 2)
  encoding.writeVarUint(encoder, ranges)
  for (let i = 0; i < ranges; i++) {
    encoding.writeVarUint(encoder, 2 * i + 1)
    encoding.writeVarUint(encoder, 1)
  }
  return encoding.toUint8Array(encoder)
}

/**
 * `count` subdocuments in the text's root, one item each, chained by their
 * origins, with short guids and empty options: every one becomes a `Y.Doc`
 * in the receiver's memory.
 */
export function subdocumentFloodUpdate (count: number): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, 1)
  writeClientHeader(encoder, count, attackerClient, 0)
  for (let i = 0; i < count; i++) {
    if (i === 0) {
      encoding.writeUint8(encoder, contentDoc)
      writeRootParent(encoder, rootText)
    } else {
      encoding.writeUint8(encoder, contentDoc | hasOrigin)
      writeId(encoder, attackerClient, i - 1)
    }
    encoding.writeVarString(encoder, i.toString(36))
    encoding.writeAny(encoder, {})
  }
  writeNoDeletes(encoder)
  return encoding.toUint8Array(encoder)
}

/**
 * No structs, and a delete set of `ranges` one-character ranges of a client
 * that wrote nothing (clocks 0, 2, 4, …): the receiver keeps them pending
 * until that client's structs arrive, which they never do.
 */
export function absentClientDeletesUpdate (ranges: number): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, 0)
  encoding.writeVarUint(encoder, 1)
  encoding.writeVarUint(encoder, absentClient)
  encoding.writeVarUint(encoder, ranges)
  for (let i = 0; i < ranges; i++) {
    encoding.writeVarUint(encoder, 2 * i)
    encoding.writeVarUint(encoder, 1)
  }
  return encoding.toUint8Array(encoder)
}

/**
 * `count` updates, each one item of `textLength` characters by its own client
 * at clock 1, whose origin is that client's clock 0, which never arrives:
 * the receiver keeps every one pending.
 */
export function missingDependencyUpdates (count: number, textLength: number): Uint8Array[] {
  const text = 'p'.repeat(textLength)
  return Array.from({ length: count }, (_, i) => {
    const client = firstPendingClient + i
    const encoder = encoding.createEncoder()
    encoding.writeVarUint(encoder, 1)
    writeClientHeader(encoder, 1, client, 1)
    encoding.writeUint8(encoder, contentString | hasOrigin)
    writeId(encoder, client, 0)
    encoding.writeVarString(encoder, text)
    writeNoDeletes(encoder)
    return encoding.toUint8Array(encoder)
  })
}

/**
 * A document of `items` one-character items, each typed in front of the one
 * before (so no two merge), as updates of at most `perUpdate` items each, as
 * a client would send a large document within a server's work limit per
 * update: the text reads the characters in reverse. The whole document's
 * items, not its text, is what a server walks when it computes a delete set.
 */
export function manyItemsDocumentUpdates (items: number, perUpdate: number): Uint8Array[] {
  const updates: Uint8Array[] = []
  for (let first = 0; first < items; first += perUpdate) {
    const count = Math.min(perUpdate, items - first)
    const encoder = encoding.createEncoder()
    encoding.writeVarUint(encoder, 1)
    writeClientHeader(encoder, count, attackerClient, first)
    for (let i = first; i < first + count; i++) {
      if (i === 0) {
        encoding.writeUint8(encoder, contentString)
        writeRootParent(encoder, rootText)
      } else {
        encoding.writeUint8(encoder, contentString | hasRightOrigin)
        writeId(encoder, attackerClient, i - 1)
      }
      encoding.writeVarString(encoder, 'm')
    }
    writeNoDeletes(encoder)
    updates.push(encoding.toUint8Array(encoder))
  }
  return updates
}
