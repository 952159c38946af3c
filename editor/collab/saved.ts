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
 * The page is saved when every frame carrying its changes is confirmed.
 * A state vector cannot tell this: a deletion does not advance the
 * deleter's clock.
 */
import type * as Y from 'yjs'
import * as decoding from 'lib0/decoding'
import type { WebsocketProvider } from 'y-websocket'
import { carriesDocument, messageSaved, type FrameKind, type OutgoingFrames } from './outgoing.js'

/** Query parameter that asks the relay for saved confirmations. */
export const savedQueryParam = 'saved'

/** `saved`: the relay has stored every change made on this page; `saving`: some are not confirmed yet. */
export type SaveState = 'saved' | 'saving'

/** A document frame awaiting confirmation: the `frame`th (counted from 1) sent on `socket`, and what it carries. */
interface AwaitedFrame {
  readonly socket: object
  readonly frame: number
  /** An update frame carries the one change numbered `change`; a sync step 2 carries every change up to `change`. */
  readonly carries: 'one' | 'all'
  readonly change: number
}

/**
 * The bookkeeping behind `trackSaved`, without a provider: told of frames
 * sent, changes made, confirmations received and sockets closed, it says
 * whether every change is confirmed, and how many are not. Sockets are told
 * apart by identity. Changes are numbered from 1 in the order they are made.
 */
export class SaveLedger {
  /** Document frames sent on each socket. */
  private readonly sent = new WeakMap<object, number>()
  /** Frames carrying unconfirmed changes, in the order sent. */
  private awaited: AwaitedFrame[] = []
  /** Changes noted so far. */
  private made = 0
  /** Every change up to this one is confirmed. */
  private confirmedUpTo = 0
  /** Changes after `confirmedUpTo` confirmed one by one (by their update frames). */
  private readonly confirmedSingly = new Set<number>()
  /** The update frame sent since the last change was noted, if any. */
  private lastUpdate: { readonly socket: object, readonly frame: number } | null = null

  /** `saved` when every change noted is in a frame the relay confirmed. */
  get state (): SaveState {
    return this.pending === 0 ? 'saved' : 'saving'
  }

  /** How many changes the relay has not confirmed yet. */
  get pending (): number {
    return this.made - this.confirmedUpTo - this.confirmedSingly.size
  }

  /**
   * `count` changes made before this page (on an earlier visit, kept in the
   * browser) wait for the server: the next sync step 2 carries them.
   */
  restored (count: number): void {
    this.made += count
  }

  /** `socket` has sent a frame of `kind`. */
  frameSent (socket: object, kind: FrameKind): void {
    if (!carriesDocument(kind)) return
    const frame = (this.sent.get(socket) ?? 0) + 1
    this.sent.set(socket, frame)
    if (kind === 'update') {
      this.lastUpdate = { socket, frame }
    } else if (this.pending > 0) {
      // A sync step 2 holds everything the relay lacked when it asked: every change so far.
      this.awaited.push({ socket, frame, carries: 'all', change: this.made })
    }
  }

  /**
   * A change was made. Call it after the change's update frame, if any, was
   * sent: the update frame sent since the previous change carries this one
   * (and only this one); without one, the next sync step 2 will.
   */
  changed (): void {
    this.made++
    const carrier = this.lastUpdate
    this.lastUpdate = null
    if (carrier !== null) this.awaited.push({ ...carrier, carries: 'one', change: this.made })
  }

  /** The relay has handled the first `handled` document frames of `socket`, and everything they changed is durable. */
  confirmed (socket: object, handled: number): void {
    const still: AwaitedFrame[] = []
    for (const frame of this.awaited) {
      if (frame.socket !== socket || frame.frame > handled) still.push(frame)
      else if (frame.carries === 'all') this.confirmedUpTo = Math.max(this.confirmedUpTo, frame.change)
      else if (frame.change > this.confirmedUpTo) this.confirmedSingly.add(frame.change)
    }
    this.awaited = still
    for (const change of this.confirmedSingly) if (change <= this.confirmedUpTo) this.confirmedSingly.delete(change)
  }

  /** `socket` closed: what it carried unconfirmed goes in the next socket's sync step 2. */
  closed (socket: object): void {
    this.awaited = this.awaited.filter((frame) => frame.socket !== socket)
  }
}

/** What `trackSaved` needs beyond the document and its provider. */
export interface TrackOptions {
  /** Changes made on an earlier visit and kept in the browser, still unconfirmed (see `SaveLedger.restored`). */
  readonly restored?: number
  /** Whether an update with this origin replays what is already counted (the browser's own copy loading), not a change. */
  readonly isReplay?: (origin: unknown) => boolean
}

/**
 * Tracks whether `doc`'s changes are stored, and calls `onChange` with the
 * state and the number of unconfirmed changes whenever either changes (it
 * starts `saved` with none: a new page has no changes). `outgoing` must see
 * the frames of `provider`'s sockets (its `socketClass` is the provider's
 * `WebSocketPolyfill`). Install it before the provider connects.
 *
 * A change is any update the provider sends: every update whose origin is
 * not the provider itself (those came from the relay or another tab), nor a
 * replay (see `TrackOptions.isReplay`).
 */
export function trackSaved (doc: Y.Doc, provider: WebsocketProvider, outgoing: OutgoingFrames, onChange: (state: SaveState, pending: number) => void, options: TrackOptions = {}): void {
  const { restored = 0, isReplay = () => false } = options
  const ledger = new SaveLedger()
  ledger.restored(restored)
  let pending = 0
  const report = (): void => {
    if (ledger.pending === pending) return
    pending = ledger.pending
    onChange(ledger.state, pending)
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
    if (origin === provider || isReplay(origin)) return
    ledger.changed()
    report()
  })
  // Emitted while `provider.ws` is still the socket that closed.
  provider.on('connection-close', () => {
    if (provider.ws === null) return
    ledger.closed(provider.ws)
    report()
  })
  report()
}
