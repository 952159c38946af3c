/**
 * Splits one Yjs update (V1) into a sequence of smaller updates, each at
 * most a given number of bytes, that a client applies one after another to
 * end with exactly what the whole update gives: the same structs, the same
 * state vector, the same delete set.
 *
 * The structs are put in causal order first: a struct comes after
 * everything it refers to (its left and right origin, its parent, the
 * struct before it of the same client) that the update holds. So every
 * piece, applied after the ones before it, integrates at once; nothing
 * waits in the receiver's pending structs. Deletions come last, when every
 * struct they name is there. A struct larger than a piece is cut into
 * consecutive parts where its content can be cut (text, JSON values,
 * deleted ranges; never inside a UTF-16 surrogate pair).
 *
 * Pure: yjs and lib0 only, no I/O.
 */
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'

/** One decoded struct: an item, a garbage-collected range, or a gap. */
type Struct = Y.Item | Y.GC | Y.Skip

/** A range of deleted clocks of one client. */
interface DeleteRange {
  readonly client: number
  readonly clock: number
  readonly len: number
}

/** Bytes lib0 writes for `value` as a varUint. */
function varUintBytes (value: number): number {
  let bytes = 1
  while (value > 0x7f) {
    value = Math.floor(value / 128)
    bytes++
  }
  return bytes
}

/** Bytes a measuring encoder may hold before it is replaced by a fresh one. */
const maxScratchBytes = 1 << 20

/** Measures structs by writing them to a scratch encoder, replaced once it holds `maxScratchBytes`. */
class StructSizer {
  private scratch = new Y.UpdateEncoderV1()

  /** Bytes `struct` takes in a V1 update (the client's header not included). */
  bytes (struct: Struct): number {
    let before = encoding.length(this.scratch.restEncoder)
    if (before > maxScratchBytes) {
      this.scratch = new Y.UpdateEncoderV1()
      before = 0
    }
    struct.write(this.scratch, 0)
    return encoding.length(this.scratch.restEncoder) - before
  }
}

/** Bytes `struct` takes in a V1 update, measured on an encoder of its own (for structs that may be huge). */
function structBytes (struct: Struct): number {
  const encoder = new Y.UpdateEncoderV1()
  struct.write(encoder, 0)
  return encoding.length(encoder.restEncoder)
}

/**
 * Cuts `struct` after its first `diff` clock units: `struct` keeps them and
 * the returned struct holds the rest, continuing from it.
 */
function cut (struct: Struct, diff: number): Struct {
  const { client, clock } = struct.id
  const id = Y.createID(client, clock + diff)
  let rest: Struct
  if (struct instanceof Y.Item) {
    rest = new Y.Item(id, null, Y.createID(client, clock + diff - 1), null, struct.rightOrigin, struct.parent, struct.parentSub, struct.content.splice(diff))
  } else if (struct instanceof Y.GC) {
    rest = new Y.GC(id, struct.length - diff)
  } else {
    rest = new Y.Skip(id, struct.length - diff)
  }
  struct.length = diff
  return rest
}

/** Whether `struct` can be cut at all: a run of more than one unit of splittable content. */
function cuttable (struct: Struct): boolean {
  if (struct.length < 2) return false
  if (!(struct instanceof Y.Item)) return true
  const content = struct.content
  return content instanceof Y.ContentString || content instanceof Y.ContentAny ||
    content instanceof Y.ContentJSON || content instanceof Y.ContentDeleted
}

/** Moves a cut after `diff` units back so that it does not fall inside a surrogate pair of a text struct. */
function cutPoint (struct: Struct, diff: number): number {
  if (struct instanceof Y.Item && struct.content instanceof Y.ContentString) {
    const code = struct.content.str.charCodeAt(diff - 1)
    if (code >= 0xd800 && code <= 0xdbff) return diff > 1 ? diff - 1 : diff + 1
  }
  return diff
}

/** The bytes of the first `diff` units of `struct`, measured on a copy. */
function prefixBytes (struct: Struct, diff: number): number {
  if (!(struct instanceof Y.Item)) return structBytes(new Y.GC(struct.id, diff))
  const content = struct.content.copy()
  content.splice(diff)
  return structBytes(new Y.Item(struct.id, null, struct.origin, null, struct.rightOrigin, struct.parent, struct.parentSub, content))
}

/**
 * `struct` as consecutive structs of at most `maxBytes` each, where it can
 * be cut; a struct that cannot be cut stays whole, whatever its size.
 */
function cutToSize (struct: Struct, maxBytes: number, sizer: StructSizer): Array<{ struct: Struct, bytes: number }> {
  const parts: Array<{ struct: Struct, bytes: number }> = []
  let rest = struct
  let bytes = sizer.bytes(rest)
  if (bytes <= maxBytes) return [{ struct, bytes }]
  while (bytes > maxBytes && cuttable(rest)) {
    // Content bytes are close to even per unit; shrink the guess until the part fits.
    let diff = Math.max(1, Math.min(rest.length - 1, Math.floor(rest.length * maxBytes / bytes)))
    let partBytes = prefixBytes(rest, cutPoint(rest, diff))
    while (partBytes > maxBytes && diff > 1) {
      diff = Math.max(1, Math.floor(diff * maxBytes / partBytes * 0.95))
      partBytes = prefixBytes(rest, cutPoint(rest, diff))
    }
    diff = cutPoint(rest, diff)
    if (diff >= rest.length) break
    const next = cut(rest, diff)
    parts.push({ struct: rest, bytes: partBytes })
    rest = next
    bytes = structBytes(rest)
  }
  parts.push({ struct: rest, bytes })
  return parts
}

/** The IDs `struct` refers to besides the struct before it of its own client. */
function references (struct: Struct): Y.ID[] {
  if (!(struct instanceof Y.Item)) return []
  const refs: Y.ID[] = []
  if (struct.origin) refs.push(struct.origin)
  if (struct.rightOrigin) refs.push(struct.rightOrigin)
  if (struct.parent instanceof Y.ID) refs.push(struct.parent)
  return refs
}

/**
 * The structs of `byClient` (each client's in clock order) in an order where
 * every struct follows those it refers to, as far as the update holds them.
 * Works like Yjs's own integration: a client whose next struct needs
 * another client's struct first gives way to that client until it has it.
 */
function causalOrder (byClient: Map<number, Struct[]>): Struct[] {
  const next = new Map<number, number>()
  const start = new Map<number, number>()
  const end = new Map<number, number>()
  for (const [client, structs] of byClient) {
    next.set(client, 0)
    start.set(client, structs[0].id.clock)
    const last = structs[structs.length - 1]
    end.set(client, last.id.clock + last.length)
  }
  /** Clock up to which each client's structs are placed. */
  const placed = new Map(start)
  /** The first reference of `struct` the update holds but the order does not have yet. */
  const missing = (struct: Struct): number | null => {
    for (const ref of references(struct)) {
      const reached = placed.get(ref.client)
      if (reached !== undefined && ref.clock >= reached && ref.clock < (end.get(ref.client) as number)) return ref.client
    }
    return null
  }
  const order: Struct[] = []
  for (const first of byClient.keys()) {
    const stack = [first]
    const waiting = new Set(stack)
    while (stack.length > 0) {
      const client = stack[stack.length - 1]
      const structs = byClient.get(client) as Struct[]
      const index = next.get(client) as number
      if (index >= structs.length) {
        waiting.delete(stack.pop() as number)
        continue
      }
      const struct = structs[index]
      const needed = missing(struct)
      if (needed !== null && !waiting.has(needed)) {
        stack.push(needed)
        waiting.add(needed)
        continue
      }
      // Placed (a reference cycle cannot come from a real document; Yjs would hold such a struct as pending).
      order.push(struct)
      next.set(client, index + 1)
      placed.set(client, struct.id.clock + struct.length)
      // Let the client that gave way check again whether it can go on.
      if (stack.length > 1) waiting.delete(stack.pop() as number)
    }
  }
  return order
}

/** A piece being filled: its structs by client (in clock order), its deletions, and its size. */
class PieceBuilder {
  private readonly groups = new Map<number, Struct[]>()
  private readonly deletes = new Map<number, DeleteRange[]>()
  /** Bytes the piece takes when encoded: no structs, no deletions. */
  bytes = 2

  get empty (): boolean {
    return this.groups.size === 0 && this.deletes.size === 0
  }

  /** Bytes `struct`, of `bytes` on its own, adds to the piece. */
  structCost (struct: Struct, bytes: number): number {
    const group = this.groups.get(struct.id.client)
    const header = group
      ? varUintBytes(group.length + 1) - varUintBytes(group.length)
      : varUintBytes(this.groups.size + 1) - varUintBytes(this.groups.size) +
        varUintBytes(1) + varUintBytes(struct.id.client) + varUintBytes(struct.id.clock)
    return header + bytes
  }

  addStruct (struct: Struct, cost: number): void {
    const client = struct.id.client
    let group = this.groups.get(client)
    if (!group) {
      group = []
      this.groups.set(client, group)
    }
    group.push(struct)
    this.bytes += cost
  }

  /** Bytes `range` adds to the piece. */
  deleteCost (range: DeleteRange): number {
    const ranges = this.deletes.get(range.client)
    const header = ranges
      ? varUintBytes(ranges.length + 1) - varUintBytes(ranges.length)
      : varUintBytes(this.deletes.size + 1) - varUintBytes(this.deletes.size) + varUintBytes(range.client) + varUintBytes(1)
    return header + varUintBytes(range.clock) + varUintBytes(range.len)
  }

  addDelete (range: DeleteRange, cost: number): void {
    let ranges = this.deletes.get(range.client)
    if (!ranges) {
      ranges = []
      this.deletes.set(range.client, ranges)
    }
    ranges.push(range)
    this.bytes += cost
  }

  /** The piece as a V1 update. */
  encode (): Uint8Array {
    const encoder = new Y.UpdateEncoderV1()
    encoding.writeVarUint(encoder.restEncoder, this.groups.size)
    for (const [client, structs] of this.groups) {
      encoding.writeVarUint(encoder.restEncoder, structs.length)
      encoder.writeClient(client)
      encoding.writeVarUint(encoder.restEncoder, structs[0].id.clock)
      for (const struct of structs) struct.write(encoder, 0)
    }
    encoding.writeVarUint(encoder.restEncoder, this.deletes.size)
    for (const [client, ranges] of this.deletes) {
      encoder.resetDsCurVal()
      encoding.writeVarUint(encoder.restEncoder, client)
      encoding.writeVarUint(encoder.restEncoder, ranges.length)
      for (const range of ranges) {
        encoder.writeDsClock(range.clock)
        encoder.writeDsLen(range.len)
      }
    }
    return encoder.toUint8Array()
  }
}

/**
 * Splits the V1 update `update` into updates of at most `maxPieceBytes`
 * bytes each which, applied in order, give what `update` gives; each
 * integrates fully given the ones before it (and whatever the receiver had
 * that `update` builds on). An update that fits is returned as it is, alone.
 * A piece passes the bound only when it holds a single struct that cannot
 * be cut (an embed, a format mark, a binary) and is larger on its own.
 * Throws when `update` cannot be decoded.
 */
export function splitUpdate (update: Uint8Array, maxPieceBytes: number): Uint8Array[] {
  if (update.length <= maxPieceBytes) return [update]
  const { structs, ds } = Y.decodeUpdate(update)
  const byClient = new Map<number, Struct[]>()
  for (const struct of structs) {
    let list = byClient.get(struct.id.client)
    if (!list) {
      list = []
      byClient.set(struct.id.client, list)
    }
    list.push(struct)
  }
  // Room for the headers a piece may need around one struct: counts, client and clock.
  const structBudget = Math.max(1, maxPieceBytes - 24)
  const sized = new Map<Struct, number>()
  const sizer = new StructSizer()
  for (const [client, list] of byClient) {
    const parts: Struct[] = []
    for (const struct of list) {
      for (const part of cutToSize(struct, structBudget, sizer)) {
        parts.push(part.struct)
        sized.set(part.struct, part.bytes)
      }
    }
    byClient.set(client, parts)
  }
  const pieces: Uint8Array[] = []
  let piece = new PieceBuilder()
  for (const struct of causalOrder(byClient)) {
    const bytes = sized.get(struct) as number
    if (!piece.empty && piece.bytes + piece.structCost(struct, bytes) > maxPieceBytes) {
      pieces.push(piece.encode())
      piece = new PieceBuilder()
    }
    piece.addStruct(struct, piece.structCost(struct, bytes))
  }
  for (const [client, items] of ds.clients) {
    for (const item of items) {
      const range = { client, clock: item.clock, len: item.len }
      if (!piece.empty && piece.bytes + piece.deleteCost(range) > maxPieceBytes) {
        pieces.push(piece.encode())
        piece = new PieceBuilder()
      }
      piece.addDelete(range, piece.deleteCost(range))
    }
  }
  if (!piece.empty || pieces.length === 0) pieces.push(piece.encode())
  return pieces
}
