/**
 * Whether this page's edits are durably stored on the relay.
 *
 * A provider that connects with `?saved=1` receives message type 100 after
 * each update it sends has been committed: its payload is a Yjs state
 * vector, and every update it covers is stored. Our edits are saved when the
 * confirmed clock for our client id has reached our own clock.
 */
import * as Y from 'yjs'
import * as decoding from 'lib0/decoding'
import type { WebsocketProvider } from 'y-websocket'

/** Outer message type of the relay's saved confirmation. */
export const messageSaved = 100

/** Query parameter that asks the relay for saved confirmations. */
export const savedQueryParam = 'saved'

/** `saved`: the relay has stored every edit made on this page; `saving`: some are not confirmed yet. */
export type SaveState = 'saved' | 'saving'

/** How far our own edits go: the next clock of `doc.clientID` (0 before any edit). */
function localClock (doc: Y.Doc): number {
  return Y.decodeStateVector(Y.encodeStateVector(doc)).get(doc.clientID) ?? 0
}

/**
 * Tracks whether `doc`'s local edits are stored, reading the confirmations
 * that arrive on `provider`, and calls `onChange` whenever the state flips
 * (it starts as `saved`: a new page has no edits). Install it before the
 * provider connects. Confirmations only move forward: the highest clock
 * confirmed so far counts, across reconnects.
 */
export function trackSaved (doc: Y.Doc, provider: WebsocketProvider, onChange: (state: SaveState) => void): void {
  let confirmed = 0
  let state: SaveState = 'saved'
  const update = (): void => {
    const next: SaveState = confirmed >= localClock(doc) ? 'saved' : 'saving'
    if (next === state) return
    state = next
    onChange(state)
  }
  provider.messageHandlers[messageSaved] = (_encoder, decoder) => {
    const stored = Y.decodeStateVector(decoding.readVarUint8Array(decoder)).get(doc.clientID) ?? 0
    confirmed = Math.max(confirmed, stored)
    update()
  }
  doc.on('update', update)
}
