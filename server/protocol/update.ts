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
import { ProtocolError } from './errors.js'

/**
 * Throws a `ProtocolError` ('invalid-update') unless `update` parses
 * completely as a Yjs update (format v1, structs and delete set) and every
 * reference an item makes to its own client (origin, right origin, parent)
 * names an earlier clock, as it does in every update Yjs writes: an item can
 * only refer to what existed when it was made. Delete set ranges must not be
 * empty (Yjs never writes one, and throws re-encoding one it keeps waiting).
 */
export function checkUpdate (update: Uint8Array): void {
  let decoded: ReturnType<typeof Y.decodeUpdate>
  try {
    decoded = Y.decodeUpdate(update)
  } catch (err) {
    throw new ProtocolError('invalid-update', `update does not parse: ${(err as Error).message}`)
  }
  const { structs, ds } = decoded
  for (const struct of structs) {
    if (!(struct instanceof Y.Item)) continue
    const { client, clock } = struct.id
    const parent = struct.parent instanceof Y.ID ? struct.parent : null
    for (const ref of [struct.origin, struct.rightOrigin, parent]) {
      if (ref && ref.client === client && ref.clock >= clock) {
        throw new ProtocolError('invalid-update', 'an item refers to a later struct of its own client')
      }
    }
  }
  for (const ranges of ds.clients.values()) {
    if (ranges.some((range) => range.len <= 0)) throw new ProtocolError('invalid-update', 'the delete set holds an empty range')
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
