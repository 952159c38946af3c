/**
 * Whether this page's changes are durably stored on the relay.
 *
 * A provider that connects with `?saved=1` receives message type 100 once
 * on joining and once after each document frame it sends (sync step 2 or
 * update), when every write made before that frame's handling is durable:
 * a state vector, then `handled`, the number of this connection's document
 * frames the relay has handled so far, whether or not they changed the
 * document.
 *
 * The page counts the document frames it sends on each socket, and notes,
 * for every change it makes (insertions and deletions alike), which frame
 * carries it. A change sent while no socket is open, or on a socket that
 * closed before confirming it, is carried by the sync step 2 of a later
 * socket: that frame holds everything the relay lacks, deletions included.
 * The page is saved when the frame carrying its latest change is confirmed.
 * A state vector cannot tell this: a deletion does not advance the
 * deleter's clock.
 */
import type * as Y from 'yjs'
import * as decoding from 'lib0/decoding'
import type { WebsocketProvider } from 'y-websocket'
import { carriesDocument, type FrameKind, type OutgoingFrames } from './outgoing.js'

/** Outer message type of the relay's saved confirmation. */
export const messageSaved = 100

/** Query parameter that asks the relay for saved confirmations. */
export const savedQueryParam = 'saved'

/** `saved`: the relay has stored every change made on this page; `saving`: some are not confirmed yet. */
export type SaveState = 'saved' | 'saving'

/** The `n`th document frame (counted from 1) sent on `socket`. */
interface SentFrame {
  readonly socket: object
  readonly frame: number
}

/**
 * The bookkeeping behind `trackSaved`, without a provider: told of frames
 * sent, changes made, confirmations received and sockets closed, it says
 * whether every change is confirmed. Sockets are told apart by identity.
 */
export class SaveLedger {
  /** Document frames sent on each socket. */
  private readonly sent = new WeakMap<object, number>()
  /** The frame whose confirmation covers every change made so far, while it is unconfirmed. */
  private awaited: SentFrame | null = null
  /** Whether some change is in no frame of an open socket: the next sync step 2 must carry it. */
  private unsent = false
  /** The update frame sent since the last change was noted, if any. */
  private lastUpdate: SentFrame | null = null

  /** `saved` when every change noted is in a frame the relay confirmed. */
  get state (): SaveState {
    return this.awaited === null && !this.unsent ? 'saved' : 'saving'
  }

  /** `socket` has sent a frame of `kind`. */
  frameSent (socket: object, kind: FrameKind): void {
    if (!carriesDocument(kind)) return
    const frame = (this.sent.get(socket) ?? 0) + 1
    this.sent.set(socket, frame)
    if (kind === 'update') {
      this.lastUpdate = { socket, frame }
    } else if (this.unsent || this.awaited !== null) {
      // A sync step 2 holds everything the relay lacked when it asked: every change so far.
      this.awaited = { socket, frame }
      this.unsent = false
    }
  }

  /**
   * A change was made. Call it after the change's update frame, if any, was
   * sent: the update frame sent since the previous change carries this one;
   * without one, the next sync step 2 will.
   */
  changed (): void {
    const carrier = this.lastUpdate
    this.lastUpdate = null
    // An unsent change stays unsent: an update frame carries only its own change, not what waits for the sync step 2.
    if (carrier === null) this.unsent = true
    else this.awaited = carrier
  }

  /** The relay has handled the first `handled` document frames of `socket`, and everything they changed is durable. */
  confirmed (socket: object, handled: number): void {
    if (this.awaited !== null && this.awaited.socket === socket && handled >= this.awaited.frame) this.awaited = null
  }

  /** `socket` closed: what it carried unconfirmed goes in the next socket's sync step 2. */
  closed (socket: object): void {
    if (this.awaited?.socket !== socket) return
    this.awaited = null
    this.unsent = true
  }
}

/**
 * Tracks whether `doc`'s changes are stored, and calls `onChange` whenever
 * the state flips (it starts `saved`: a new page has no changes). `outgoing`
 * must see the frames of `provider`'s sockets (its `socketClass` is the
 * provider's `WebSocketPolyfill`). Install it before the provider connects.
 *
 * A change is any update the provider sends: every update whose origin is
 * not the provider itself (those came from the relay or another tab).
 */
export function trackSaved (doc: Y.Doc, provider: WebsocketProvider, outgoing: OutgoingFrames, onChange: (state: SaveState) => void): void {
  const ledger = new SaveLedger()
  let state: SaveState = ledger.state
  const report = (): void => {
    if (ledger.state === state) return
    state = ledger.state
    onChange(state)
  }
  outgoing.listen((socket, kind) => ledger.frameSent(socket, kind))
  provider.messageHandlers[messageSaved] = (_encoder, decoder, _provider, fromRelay) => {
    // Messages from other tabs of this browser arrive here too (`fromRelay` false); only the relay confirms.
    if (!fromRelay || provider.ws === null) return
    decoding.readVarUint8Array(decoder)
    if (!decoding.hasContent(decoder)) return
    ledger.confirmed(provider.ws, decoding.readVarUint(decoder))
    report()
  }
  // The provider sends an update from its own `update` listener, added when it was made: it has run by now.
  doc.on('update', (_update: Uint8Array, origin: unknown) => {
    if (origin === provider) return
    ledger.changed()
    report()
  })
  // Emitted while `provider.ws` is still the socket that closed.
  provider.on('connection-close', () => {
    if (provider.ws === null) return
    ledger.closed(provider.ws)
    report()
  })
}
