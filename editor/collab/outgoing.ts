/**
 * The frames this page exchanges with the relay, told to whoever listens as
 * they pass: the provider's sockets are made from a subclass of the
 * browser's `WebSocket` whose `send` reports each frame after handing it
 * over, and which reports each frame it receives before the provider reads
 * it.
 *
 * Only the outer message type and the sync sub-type are read; the relay is
 * told nothing new.
 */
import { messageKind, messageKinds, type MessageKind } from '../../server/protocol/message-kind.js'

export { messagePing, messagePong, messageSaved } from '../../server/protocol/messages.js'

/** What a y-websocket frame is, by its outer type and sync sub-type. */
export type FrameKind = MessageKind

/** Every `FrameKind`, in the order a person would read them. */
export const frameKinds: readonly FrameKind[] = messageKinds

/**
 * Whether a frame of `kind` carries document state: a sync step 2 or an
 * update. These are the frames the relay counts and confirms one by one for
 * a connection that asked for saved confirmations.
 */
export function carriesDocument (kind: FrameKind): boolean {
  return kind === 'sync-step-2' || kind === 'update'
}

/** `data` as bytes, or null when it is not binary. */
function bytesOf (data: unknown): Uint8Array | null {
  if (data instanceof Uint8Array) return data
  if (data instanceof ArrayBuffer) return new Uint8Array(data)
  return null
}

/** The kind of frame `data` is; `other` for anything that is not a y-websocket binary frame. */
export function frameKind (data: unknown): FrameKind {
  const bytes = bytesOf(data)
  return bytes === null ? 'other' : messageKind(bytes)
}

/** The size of a frame in bytes (0 for anything that is not binary). */
function sizeOf (data: unknown): number {
  return bytesOf(data)?.byteLength ?? 0
}

/**
 * What this module needs of a WebSocket: that it sends, and, where it can,
 * that it takes event listeners (a socket without them reports no
 * incoming frames).
 */
export interface SendingSocket {
  send (data: never): void
  addEventListener?: (type: 'message', listener: (event: { readonly data: unknown }) => void) => void
}

/** A WebSocket class, as the browser's `WebSocket` is one. */
export type SocketClass = new (url: string, protocols?: string | string[]) => SendingSocket

/** Told of each frame a socket has sent or received, with its kind and size in bytes. */
export type FrameListener = (socket: object, kind: FrameKind, bytes: number) => void

/** The frames sent and received by sockets made from `socketClass`, reported to every listener. */
export class OutgoingFrames {
  private readonly sentListeners: FrameListener[] = []
  private readonly receivedListeners: FrameListener[] = []

  /** Calls `listener` for every frame sent from now on, right after `send` returned. */
  listen (listener: FrameListener): void {
    this.sentListeners.push(listener)
  }

  /** Calls `listener` for every frame received from now on, before the provider reads it. */
  listenIncoming (listener: FrameListener): void {
    this.receivedListeners.push(listener)
  }

  /**
   * A subclass of `base` whose sockets report each frame they send and
   * receive here; give it to the provider as its `WebSocketPolyfill`. A
   * `send` that throws (the socket is not open) reports nothing.
   */
  socketClass<C extends SocketClass> (base: C): C {
    const sent = this.sentListeners
    const received = this.receivedListeners
    return class extends (base as SocketClass) {
      constructor (url: string, protocols?: string | string[]) {
        super(url, protocols)
        // Added before the provider sets `onmessage`: it runs first.
        this.addEventListener?.('message', (event) => {
          const kind = frameKind(event.data)
          const bytes = sizeOf(event.data)
          for (const listener of received) listener(this, kind, bytes)
        })
      }

      override send (data: never): void {
        super.send(data)
        const kind = frameKind(data)
        const bytes = sizeOf(data)
        for (const listener of sent) listener(this, kind, bytes)
      }
    } as C
  }
}
