/**
 * One benchmark client: a Yjs peer speaking the y-websocket protocol over
 * `ws`, built to cost the load generator little. It does not observe its
 * Y.Text; it finds the edits of others by scanning each received update for
 * markers (see `wire.ts`). A peer that keeps updates applies them only when
 * asked (for the convergence check, after the measurement); any other peer
 * applies the server's state (sync step 2) on arrival and only scans updates.
 */
import WebSocket from 'ws'
import * as Y from 'yjs'
import { encodeAwareness, encodeSync, decodeSync, markerText, nowUs, scanMarkers, syncStep1, syncStep2, syncUpdate } from './wire.js'

/** The Y.Text every coedit client edits. */
export const textName = 'text'

/** Where a peer counts what it receives; shared by the peers of one thread. */
export interface Tally {
  /** Edits of other peers received. */
  delivered: number
  /** Own edits the server sent back. */
  echoed: number
  /** Edits of others received again (counted by peers with a `serverIndex` only; not in `delivered`). */
  duplicates: number
  /** Sync updates received, with or without markers. */
  updates: number
  /** Send-to-receive time of every delivered edit, in µs. */
  readonly latenciesUs: number[]
  /**
   * With several server processes: which process each peer (by index) talks
   * to, for the peers of the whole run, so that a receiver can tell whether
   * an edit crossed from one process to another.
   */
  readonly serverOf: Map<number, number>
  /** The edits of `latenciesUs` whose sender and receiver talk to the same process (both in `serverOf`). */
  readonly sameServerLatenciesUs: number[]
  /** The edits of `latenciesUs` whose sender and receiver talk to different processes. */
  readonly crossServerLatenciesUs: number[]
}

/** Creates an empty tally. */
export function createTally (): Tally {
  return { delivered: 0, echoed: 0, duplicates: 0, updates: 0, latenciesUs: [], serverOf: new Map(), sameServerLatenciesUs: [], crossServerLatenciesUs: [] }
}

/** How a peer behaves. */
export interface PeerOptions {
  /** `ws://host:port` of the server. */
  readonly url: string
  readonly room: string
  /** Unique in the run; carried in this peer's edit markers. */
  readonly index: number
  /** Loopback source address to connect from; the system picks one when absent. */
  readonly localAddress?: string
  /** Run the sync handshake. False against the bare relay, where an open socket counts as synced. */
  readonly sync: boolean
  /** Announce a presence state once connected, as the stock client does. */
  readonly awareness: boolean
  /** Keep every received update for `applyReceived`; otherwise they are only scanned. */
  readonly keepUpdates: boolean
  readonly tally: Tally
  /**
   * Which of several server processes `url` is (a value of `tally.serverOf`);
   * absent with one server. With it, edits received twice are counted as
   * duplicates, not as delivered.
   */
  readonly serverIndex?: number
  /** Called after each sync update (not the server's sync step 2) is received and counted. */
  readonly onUpdate?: () => void
}

const localOrigin = Symbol('local edit')

/** A connected (or connecting) benchmark client. */
export class Peer {
  readonly doc = new Y.Doc()
  /** Time from opening the socket to receiving the server's sync step 2 (or to open, without sync), in µs. */
  connectUs = NaN
  /** Time spent applying the server's sync step 2, in µs. */
  applySyncUs = NaN
  private ws: WebSocket | null = null
  private closed = false
  private readonly kept: Uint8Array[] = []
  /** With a `serverIndex`: the edits of others received so far, as `sender * 2^20 + seq`. */
  private readonly seen = new Set<number>()

  constructor (readonly options: PeerOptions) {
    this.doc.on('update', (update: Uint8Array, origin: unknown) => {
      if (origin === localOrigin) this.ws?.send(encodeSync(syncUpdate, update))
    })
  }

  /** Opens the socket and resolves once synced; rejects on error, early close or after `timeoutMs`. */
  connect (timeoutMs: number): Promise<void> {
    const { url, room, sync, awareness, localAddress } = this.options
    const startUs = nowUs()
    const ws = new WebSocket(`${url}/${encodeURIComponent(room)}`, { perMessageDeflate: false, localAddress })
    ws.binaryType = 'nodebuffer'
    this.ws = ws
    return new Promise<void>((resolve, reject) => {
      let settled = false
      const settle = (err: Error | null): void => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        if (err) {
          ws.terminate()
          reject(err)
        } else {
          resolve()
        }
      }
      const timer = setTimeout(() => settle(new Error(`not synced within ${timeoutMs} ms`)), timeoutMs)
      ws.on('error', (err) => settle(err))
      ws.on('close', (code) => settle(new Error(`closed with ${code} before sync`)))
      ws.on('open', () => {
        if (sync) ws.send(encodeSync(syncStep1, Y.encodeStateVector(this.doc)))
        if (awareness) ws.send(encodeAwareness(this.doc.clientID, 1, { user: { name: `peer-${this.options.index}`, color: '#30bced' } }))
        if (!sync) {
          this.connectUs = nowUs() - startUs
          settle(null)
        }
      })
      ws.on('message', (data: Buffer) => {
        const message = decodeSync(data)
        if (!message) return
        switch (message.subtype) {
          case syncStep1:
            ws.send(encodeSync(syncStep2, Y.encodeStateAsUpdate(this.doc, message.payload)))
            break
          case syncStep2:
            if (!settled) this.connectUs = nowUs() - startUs
            this.receiveState(message.payload)
            settle(null)
            break
          case syncUpdate:
            this.receiveUpdate(message.payload)
            break
        }
      })
    })
  }

  /** Applies `update` to the document without sending it: before `connect`, a peer arriving with offline edits. */
  preload (update: Uint8Array): void {
    Y.applyUpdate(this.doc, update)
  }

  /** Appends the marker of edit `seq` to this peer's text and sends the update. */
  edit (seq: number): void {
    const text = this.doc.getText(textName)
    this.doc.transact(() => text.insert(text.length, markerText(this.options.index, seq, nowUs())), localOrigin)
  }

  /** Inserts `text` at the end of this peer's text and sends the update, as a user typing there would. */
  typeAtEnd (text: string): void {
    const ytext = this.doc.getText(textName)
    this.doc.transact(() => ytext.insert(ytext.length, text), localOrigin)
  }

  /** Applies every kept update to the document, in one transaction. */
  applyReceived (): void {
    const updates = this.kept.splice(0)
    this.doc.transact(() => {
      for (const update of updates) Y.applyUpdate(this.doc, update)
    })
  }

  /** The document's text. */
  text (): string {
    return this.doc.getText(textName).toString()
  }

  /** Closes the socket and resolves once it closed, terminating it after `timeoutMs`. */
  async close (timeoutMs: number): Promise<void> {
    if (this.closed) return
    this.closed = true
    const ws = this.ws
    this.ws = null
    if (ws && ws.readyState !== WebSocket.CLOSED) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => { ws.terminate(); resolve() }, timeoutMs)
        ws.once('close', () => { clearTimeout(timer); resolve() })
        ws.close()
      })
    }
    this.doc.destroy()
  }

  private receiveState (update: Uint8Array): void {
    if (this.options.keepUpdates) {
      this.kept.push(update)
      return
    }
    const start = nowUs()
    Y.applyUpdate(this.doc, update)
    this.applySyncUs = nowUs() - start
  }

  private receiveUpdate (update: Uint8Array): void {
    const { tally, index, keepUpdates, serverIndex } = this.options
    const receivedUs = nowUs()
    tally.updates++
    scanMarkers(update, (peer, seq, sentUs) => {
      if (peer === index) {
        tally.echoed++
        return
      }
      const latencyUs = receivedUs - sentUs
      if (serverIndex !== undefined) {
        const key = peer * 2 ** 20 + seq
        if (this.seen.has(key)) {
          tally.duplicates++
          return
        }
        this.seen.add(key)
      }
      tally.delivered++
      tally.latenciesUs.push(latencyUs)
      const senderServer = tally.serverOf.get(peer)
      if (serverIndex === undefined || senderServer === undefined) return
      if (senderServer === serverIndex) tally.sameServerLatenciesUs.push(latencyUs)
      else tally.crossServerLatenciesUs.push(latencyUs)
    })
    if (keepUpdates) this.kept.push(update)
    this.options.onUpdate?.()
  }
}
