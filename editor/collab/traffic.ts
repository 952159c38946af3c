/**
 * What this page's sockets have exchanged with the relay: messages and
 * bytes each way, by frame kind, and how many connections were made. Each
 * frame costs two additions; the connection inspector reads the tallies.
 */
import { frameKinds, type FrameKind, type OutgoingFrames } from './outgoing.js'
import type { WebsocketProvider } from 'y-websocket'

/** Messages and bytes of one kind in one direction. */
export interface Tally {
  messages: number
  bytes: number
}

/** A tally per frame kind, all zero. */
function emptyTallies (): Record<FrameKind, Tally> {
  return Object.fromEntries(frameKinds.map((kind) => [kind, { messages: 0, bytes: 0 }])) as Record<FrameKind, Tally>
}

/** The traffic of one provider's sockets, counted from the moment it is made. */
export class Traffic {
  /** What the page sent, by kind. */
  readonly sent = emptyTallies()
  /** What the page received, by kind. */
  readonly received = emptyTallies()
  /** Connections that opened; every one after the first is a reconnection. */
  connections = 0
  /** Grows with every frame and connection: a reader redraws only when it changed. */
  version = 0

  /** Counts the frames `frames` reports and the connections `provider` opens. */
  constructor (frames: OutgoingFrames, provider: WebsocketProvider) {
    frames.listen((_socket, kind, bytes) => {
      const tally = this.sent[kind]
      tally.messages++
      tally.bytes += bytes
      this.version++
    })
    frames.listenIncoming((_socket, kind, bytes) => {
      const tally = this.received[kind]
      tally.messages++
      tally.bytes += bytes
      this.version++
    })
    provider.on('status', ({ status }) => {
      if (status !== 'connected') return
      this.connections++
      this.version++
    })
  }

  /** Connections made after the first: how often the page had to reconnect. */
  get reconnects (): number {
    return Math.max(0, this.connections - 1)
  }
}
