/**
 * Checking and applying one client update to a room's document, within the
 * document's budgets: content policy, items held in memory, work per
 * update, subdocuments, and state waiting for missing dependencies. No I/O:
 * the room stores and relays what `apply` says changed.
 */
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import { checkUpdate, readDeleteSet, type UpdatePolicy, type UpdateShape } from '../protocol/update.js'
import { ProtocolError } from '../protocol/errors.js'

/** Budgets of one document; fields as in `Config`. */
export interface DocumentBudget extends UpdatePolicy {
  readonly maxDocumentItems: number
  readonly maxUpdateItems: number
  readonly maxSubdocumentsPerDocument: number
  readonly maxPendingItemsPerRoom: number
  readonly maxPendingBytesPerRoom: number
}

/** What applying a client update did. */
export type AppliedUpdate =
  | { readonly changed: false }
  | {
    readonly changed: true
    /** What to store and relay: the update itself, or the part of it that was kept. */
    readonly update: Uint8Array
    /** Whether `update` is the update as received (so the received frame may be forwarded). */
    readonly verbatim: boolean
    /** Items `update` may have created or split, as charged against the budget. */
    readonly items: number
    /** Set when part of the update was refused after the rest applied: store `update`, then close the sender with it. */
    readonly refusal?: ProtocolError
  }

/**
 * Thrown by `apply` when Yjs threw while integrating: the document may hold
 * part of the update, so the room must rebuild it from the store.
 */
export class BrokenDocumentError extends Error {
  override readonly name = 'BrokenDocumentError'
}

/** Committed updates were checked by the process that accepted them; here only their shape is read. */
const committedContent: UpdatePolicy = { content: 'any', maxContentDepth: Number.MAX_SAFE_INTEGER }

/** Delete ranges up to which an update is charged two items per range without looking at the document. */
const rangesChargedBlindly = 16

/**
 * Items applying an update to `doc` may create or split: each struct is one
 * item and may split the item it is inserted into; each deleted range may
 * split an item at either end, and one that reaches past what `doc` holds
 * waits as one pending range. With more than a few ranges (a reconnecting
 * client's sync step 2 carries its whole delete set, mostly of items `doc`
 * holds deleted already) the ends are looked up in `doc`, stopping once the
 * cost passes `limit`.
 */
export function itemCost (doc: Y.Doc, update: Uint8Array, shape: UpdateShape, limit: number): number {
  let cost = 2 * shape.structs
  if (shape.deleteRanges <= rangesChargedBlindly) return cost + 2 * shape.deleteRanges
  const store = doc.store
  readDeleteSet(update, shape, (client, clock, length) => {
    const structs = store.clients.get(client)
    const state = structs ? Y.getState(store, client) : 0
    const end = clock + length
    if (!structs || clock >= state) {
      cost += 1
    } else {
      const first = structs[Y.findIndexSS(structs, clock)]
      if (!first.deleted && first.id.clock < clock) cost++
      if (end > state) {
        cost++
      } else {
        const last = structs[Y.findIndexSS(structs, end - 1)]
        if (!last.deleted && end < last.id.clock + last.length) cost++
      }
    }
    return cost <= limit
  })
  return cost
}

/**
 * Applies client updates to one Y.Doc. Keeps an upper bound of the items
 * the document holds, counted exactly whenever the bound would pass the
 * budget, so the count costs nothing per update.
 */
export class ClientUpdates {
  /** At least the items in the document's struct store. */
  private items: number
  /** At least the structs and delete ranges waiting for missing dependencies. */
  private pendingItems: number
  /**
   * The transactions the last `apply` ran. Usually one; Yjs opens a second
   * one during cleanup when an update replaces a subdocument (destroying the
   * loser), and that one may hold the only change.
   */
  private readonly transactions: Y.Transaction[] = []

  constructor (private readonly doc: Y.Doc, private readonly budget: DocumentBudget) {
    this.items = countItems(doc)
    this.pendingItems = countPendingItems(doc)
    doc.on('afterTransaction', (transaction: Y.Transaction) => { this.transactions.push(transaction) })
  }

  /** The document's items, as counted for the budget (an upper bound). */
  get itemCount (): number {
    return this.items
  }

  /**
   * Checks `update` and applies it with `origin`. `fits` says whether the
   * store takes an update of so many bytes that may create or split so many
   * items. Throws `ProtocolError` when it does not parse, breaks the content
   * policy or a budget — nothing of it is applied then — and
   * `BrokenDocumentError` when Yjs threw part way. What would only wait for missing dependencies beyond the pending
   * budget is dropped, and reported as `refusal` beside what integrated.
   */
  apply (update: Uint8Array, origin: unknown, fits: (bytes: number, items: number) => boolean): AppliedUpdate {
    if (isEmptyUpdate(update)) return { changed: false }
    const budget = this.budget
    const shape = checkUpdate(update, budget, this.doc)
    const cost = itemCost(this.doc, update, shape, budget.maxUpdateItems)
    if (cost > budget.maxUpdateItems) {
      throw new ProtocolError('too-large', `one update may create or split at most ${budget.maxUpdateItems} items; this one up to ${cost}`)
    }
    if (!fits(update.length, cost)) {
      throw new ProtocolError('too-large', 'the document has reached its size limit')
    }
    if (this.items + cost > budget.maxDocumentItems) {
      this.items = countItems(this.doc)
      if (this.items + cost > budget.maxDocumentItems) {
        throw new ProtocolError('too-large', `the document may hold at most ${budget.maxDocumentItems} items`)
      }
    }
    if (shape.subdocuments > 0 && this.doc.subdocs.size + shape.subdocuments > budget.maxSubdocumentsPerDocument) {
      throw new ProtocolError('content-refused', `a document may hold at most ${budget.maxSubdocumentsPerDocument} subdocuments`)
    }
    const store = this.doc.store
    const pendingBefore = store.pendingStructs && { missing: new Map(store.pendingStructs.missing), update: store.pendingStructs.update }
    const pendingDsBefore = store.pendingDs
    this.transactions.length = 0
    try {
      Y.applyUpdate(this.doc, update, origin)
    } catch (err) {
      throw new BrokenDocumentError(`update does not apply: ${(err as Error).message}`)
    }
    this.items += cost
    const transactions = this.transactions.splice(0)
    const integrated = transactions.some(changedDocument)
    // Yjs re-encodes what waits on every update, so compare contents: a client that reconnects
    // sends back what it holds waiting, and that must not be stored and relayed again.
    const pendingChanged = !sameBytes(store.pendingStructs?.update, pendingBefore?.update) || !sameBytes(store.pendingDs, pendingDsBefore)
    if (store.pendingStructs === null && store.pendingDs === null) this.pendingItems = 0
    else if (pendingChanged) this.pendingItems += shape.structs + shape.deleteRanges
    const refusal = pendingChanged ? this.pendingRefusal() : null
    if (refusal) {
      // Keep what integrated, forget what waits: it is neither stored nor relayed.
      store.pendingStructs = pendingBefore
      store.pendingDs = pendingDsBefore
      this.pendingItems = countPendingItems(this.doc)
      if (!integrated) throw refusal
      const kept = Y.encodeStateAsUpdate(this.doc, encodeStateVectorMap(transactions[0].beforeState))
      return { changed: true, update: kept, verbatim: false, items: cost, refusal }
    }
    if (!integrated && !pendingChanged) return { changed: false }
    return { changed: true, update, verbatim: true, items: cost }
  }

  /**
   * Charges `items` that an edit the room makes itself (not a client's
   * update) may create or split, or throws `ProtocolError('too-large')`
   * without charging when they would pass `maxDocumentItems` or `fits` says
   * an update of `bytes` does not fit. Call before making the edit.
   */
  chargeLocalEdit (bytes: number, items: number, fits: (bytes: number, items: number) => boolean): void {
    if (!fits(bytes, items)) throw new ProtocolError('too-large', 'the document has reached its size limit')
    if (this.items + items > this.budget.maxDocumentItems) {
      this.items = countItems(this.doc)
      if (this.items + items > this.budget.maxDocumentItems) {
        throw new ProtocolError('too-large', `the document may hold at most ${this.budget.maxDocumentItems} items`)
      }
    }
    this.items += items
  }

  /**
   * Applies an update that is committed already — another process checked
   * and stored it, or it was read back from the store — with `origin`,
   * counting its items. Throws what Yjs throws.
   */
  applyCommitted (update: Uint8Array, origin: unknown): void {
    const shape = checkUpdate(update, committedContent, this.doc)
    this.transactions.length = 0
    Y.applyUpdate(this.doc, update, origin)
    this.transactions.length = 0
    this.items += itemCost(this.doc, update, shape, Number.MAX_SAFE_INTEGER)
  }

  /** Why the state waiting for dependencies is over budget, or null. Counts exactly only when the bound passes the budget. */
  private pendingRefusal (): ProtocolError | null {
    const budget = this.budget
    if (pendingBytes(this.doc.store) > budget.maxPendingBytesPerRoom) {
      return new ProtocolError('content-refused', `at most ${budget.maxPendingBytesPerRoom} bytes of updates may wait for missing dependencies`)
    }
    if (this.pendingItems > budget.maxPendingItemsPerRoom) {
      this.pendingItems = countPendingItems(this.doc)
      if (this.pendingItems > budget.maxPendingItemsPerRoom) {
        return new ProtocolError('content-refused', `at most ${budget.maxPendingItemsPerRoom} structs and deletions may wait for missing dependencies`)
      }
    }
    return null
  }
}

/** Items in a document's struct store. Costs one step per client, not per item. */
export function countItems (doc: Y.Doc): number {
  let count = 0
  for (const structs of doc.store.clients.values()) count += structs.length
  return count
}

/** Structs and delete ranges a document holds while their dependencies are missing. */
function countPendingItems (doc: Y.Doc): number {
  const store = doc.store
  let count = 0
  if (store.pendingStructs) count += Y.decodeUpdateV2(store.pendingStructs.update).structs.length
  if (store.pendingDs) {
    for (const ranges of Y.decodeUpdateV2(store.pendingDs).ds.clients.values()) count += ranges.length
  }
  return count
}

/** An update that carries nothing: no structs, no deletions (`[0, 0]`). */
function isEmptyUpdate (update: Uint8Array): boolean {
  return update.length === 2 && update[0] === 0 && update[1] === 0
}

/** Whether a transaction added structs or deleted anything. */
function changedDocument (transaction: Y.Transaction): boolean {
  if (transaction.deleteSet.clients.size > 0) return true
  for (const [client, clock] of transaction.afterState) {
    if (transaction.beforeState.get(client) !== clock) return true
  }
  return false
}

/** Whether two optional byte arrays hold the same bytes. */
function sameBytes (a: Uint8Array | null | undefined, b: Uint8Array | null | undefined): boolean {
  if (a === b) return true
  if (!a || !b || a.length !== b.length) return false
  return Buffer.compare(a, b) === 0
}

/** Bytes of updates the document holds while their dependencies are missing. */
function pendingBytes (store: Y.Doc['store']): number {
  return (store.pendingStructs?.update.length ?? 0) + (store.pendingDs?.length ?? 0)
}

/** Encodes a state vector held as a Map, in the format `Y.encodeStateVector` produces. */
function encodeStateVectorMap (stateVector: Map<number, number>): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, stateVector.size)
  for (const [client, clock] of stateVector) {
    encoding.writeVarUint(encoder, client)
    encoding.writeVarUint(encoder, clock)
  }
  return encoding.toUint8Array(encoder)
}
