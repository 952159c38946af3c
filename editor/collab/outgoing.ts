/**
 * The frames this page sends to the relay, told to whoever listens as they
 * go out: the provider's sockets are made from a subclass of the browser's
 * `WebSocket` whose `send` reports each frame after handing it over.
 *
 * Only the outer message type and the sync sub-type are read; the relay is
 * told nothing new.
 */
import * as decoding from 'lib0/decoding'

/** What a y-websocket client frame is, by its outer type and sync sub-type. */
export type FrameKind = 'sync-step-1' | 'sync-step-2' | 'update' | 'awareness' | 'query-awareness' | 'other'

/**
 * Whether a frame of `kind` carries document state: a sync step 2 or an
 * update. These are the frames the relay counts and confirms one by one for
 * a connection that asked for saved confirmations.
 */
export function carriesDocument (kind: FrameKind): boolean {
  return kind === 'sync-step-2' || kind === 'update'
}

/** The kind of frame `data` is; `other` for anything that is not a y-websocket binary frame. */
export function frameKind (data: unknown): FrameKind {
  let bytes: Uint8Array
  if (data instanceof Uint8Array) bytes = data
  else if (data instanceof ArrayBuffer) bytes = new Uint8Array(data)
  else return 'other'
  try {
    const decoder = decoding.createDecoder(bytes)
    switch (decoding.readVarUint(decoder)) {
      case 0:
        switch (decoding.readVarUint(decoder)) {
          case 0: return 'sync-step-1'
          case 1: return 'sync-step-2'
          case 2: return 'update'
          default: return 'other'
        }
      case 1: return 'awareness'
      case 3: return 'query-awareness'
      default: return 'other'
    }
  } catch {
    return 'other'
  }
}

/** What this module needs of a WebSocket: that it sends. */
export interface SendingSocket {
  send (data: never): void
}

/** A WebSocket class, as the browser's `WebSocket` is one. */
export type SocketClass = new (url: string, protocols?: string | string[]) => SendingSocket

/** Told of each frame a socket has handed to the browser. */
export type FrameListener = (socket: object, kind: FrameKind) => void

/** The frames sent by sockets made from `socketClass`, reported to every listener. */
export class OutgoingFrames {
  private readonly listeners: FrameListener[] = []

  /** Calls `listener` for every frame sent from now on, right after `send` returned. */
  listen (listener: FrameListener): void {
    this.listeners.push(listener)
  }

  /**
   * A subclass of `base` whose sockets report each frame they send here;
   * give it to the provider as its `WebSocketPolyfill`. A `send` that throws
   * (the socket is not open) reports nothing.
   */
  socketClass<C extends SocketClass> (base: C): C {
    const listeners = this.listeners
    return class extends (base as SocketClass) {
      override send (data: never): void {
        super.send(data)
        const kind = frameKind(data)
        for (const listener of listeners) listener(this, kind)
      }
    } as C
  }
}
