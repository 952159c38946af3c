/**
 * One client socket in one room: queues what arrives while the room loads,
 * decodes each message, hands it to the room, and turns every error into a
 * close code and a log line for this socket alone.
 */
import type { Duplex } from 'node:stream'
import type { Socket } from 'node:net'
import type { WebSocket, RawData } from 'ws'
import { decodeClientMessage, encodePong, isPing } from '../protocol/messages.js'
import { CloseCode, ProtocolError } from '../protocol/errors.js'
import type { Room, RoomConnection } from '../rooms/room.js'
import { RegistryClosedError, RoomLimitError, type RoomRegistry } from '../rooms/registry.js'
import { CorruptDocumentError, DeletedDocumentError } from '../storage/store.js'
import type { Logger } from '../log.js'
import { TokenBucket } from './rate-limit.js'
import type { FrameCache } from './frame.js'

/**
 * Where a connection reports its traffic. Called for every message: keep
 * each call to a few additions.
 */
export interface ConnectionMetrics {
  /** A message arrived (`data` as received; text frames have `isBinary` false). */
  received (data: Uint8Array, isBinary: boolean): void
  /** A message was queued for the client (`message` before WebSocket framing). */
  sent (message: Uint8Array): void
  /** The connection was closed for breaking a limit or rule, named by its error code (`rate-limit`, `too-large`…). */
  refused (reason: string): void
  /** The socket is gone, with the close code the close line logs. */
  closed (code: number): void
}

/** What a connection needs from the relay. */
export interface ConnectionContext {
  readonly registry: RoomRegistry
  readonly logger: Logger
  /** Bytes queued unsent before a non-reading client is dropped. */
  readonly maxBufferedBytes: number
  /** Bytes a client may send before its room has loaded. */
  readonly maxQueuedBytesWhileLoading: number
  /** How long to wait for the client to answer a close frame before dropping the socket. */
  readonly closeTimeoutMs: number
  readonly maxMessagesPerSecond: number
  readonly maxMessageBurst: number
  readonly maxBytesPerSecond: number
  readonly maxByteBurst: number
  /** Shared by the relay's connections: a broadcast is framed once. */
  readonly frames: FrameCache
  readonly metrics: ConnectionMetrics
}

/** How a connection joins: its room and the rights it was granted at upgrade. */
export interface ConnectionGrant {
  readonly room: string
  readonly readOnly: boolean
  readonly wantsSaved: boolean
  /** Whether the client asked for `messageSyncProgress` notices. */
  readonly wantsProgress: boolean
  /** Remote address, for log lines and per-address limits. */
  readonly address: string
  /** The name others see, fixed by the access token; null lets the client choose. */
  readonly displayName: string | null
  /** When the access token expires (ms since the epoch); the connection closes then with 4401. */
  readonly expiresAtMs: number | null
  /** Identifies the access token, for the rooms-per-token budget; null when the server runs open. */
  readonly tokenId: string | null
}

/** Longest delay `setTimeout` takes (about 24.8 days). */
const maxTimerMs = 2 ** 31 - 1

/** Where a socket keeps its connection, for the listeners every socket shares. */
const connectionOfSocket = Symbol('connection')

/** A socket with the connection it was given to. */
type OwnedSocket = WebSocket & { [connectionOfSocket]: Connection }

/** The connection that `socket` was given to. */
function connectionOf (socket: WebSocket): Connection {
  return (socket as OwnedSocket)[connectionOfSocket]
}

/** A WebSocket taking part in a room. */
export class Connection implements RoomConnection {
  readonly readOnly: boolean
  readonly wantsSaved: boolean
  readonly wantsProgress: boolean
  readonly displayName: string | null
  private room: Room | null = null
  private readonly messageBudget: TokenBucket
  private readonly byteBudget: TokenBucket
  private expiryTimer: NodeJS.Timeout | null = null
  private queued: Buffer[] | null = []
  private queuedBytes = 0
  private closed = false
  /** The close code and reason this side sent, once it decided to close. */
  private sentClose: { code: number, reason: string } | null = null
  /** When the socket was handed over (`performance.now()`), for the close line's duration. */
  private readonly openedAt = performance.now()
  /**
   * Bytes of one sync answer message (for a large document, one piece of
   * it) still on their way out. They do not count against `maxBufferedBytes`,
   * so a client on a slow link can download a large document while others
   * edit. One message at a time: the room sends the next once it has left.
   */
  private syncAnswerBytes = 0

  /**
   * `socket` is the upgraded WebSocket and `wire` the network stream under
   * it: messages are written to `wire` pre-framed, in order with what `ws`
   * itself writes (it writes synchronously, since compression is off).
   */
  constructor (
    readonly id: number,
    private readonly socket: WebSocket,
    private readonly wire: Duplex,
    private readonly grant: ConnectionGrant,
    private readonly context: ConnectionContext
  ) {
    this.readOnly = grant.readOnly
    this.wantsSaved = grant.wantsSaved
    this.wantsProgress = grant.wantsProgress
    this.displayName = grant.displayName
    this.messageBudget = new TokenBucket(context.maxMessagesPerSecond, context.maxMessageBurst)
    this.byteBudget = new TokenBucket(context.maxBytesPerSecond, context.maxByteBurst)
    if (grant.expiresAtMs !== null) this.scheduleExpiry(grant.expiresAtMs)
    const owned = socket as OwnedSocket
    owned[connectionOfSocket] = this
    // Listeners shared by every socket (`this` is the socket): no closures per connection.
    socket.on('message', Connection.onSocketMessage)
    socket.on('error', Connection.onSocketError)
    socket.on('close', Connection.onSocketClose)
    context.logger.info('connection.opened', { id, room: grant.room, address: grant.address, readOnly: grant.readOnly })
    context.registry.join(grant.room, this, { address: grant.address, tokenId: grant.tokenId }).then(
      (room) => this.onJoined(room),
      (err) => this.onJoinFailed(err)
    )
  }

  private static onSocketMessage (this: WebSocket, data: RawData, isBinary: boolean): void {
    connectionOf(this).onMessage(data, isBinary)
  }

  private static onSocketError (this: WebSocket, error: Error): void {
    const { id, grant, context } = connectionOf(this)
    context.logger.warn('connection.error', { id, room: grant.room, address: grant.address, error })
  }

  private static onSocketClose (this: WebSocket, code: number): void {
    connectionOf(this).onClose(code)
  }

  send (frame: Uint8Array): void {
    if (!this.writable()) return
    this.context.metrics.sent(frame)
    this.wire.write(this.context.frames.frame(frame))
  }

  sendSyncAnswer (frame: Uint8Array, sent: () => void): void {
    if (!this.writable()) return
    this.context.metrics.sent(frame)
    const bytes = this.context.frames.frame(frame)
    if (this.syncAnswerBytes > 0) {
      this.wire.write(bytes, sent)
      return
    }
    this.syncAnswerBytes = bytes.length
    this.wire.write(bytes, () => {
      this.syncAnswerBytes = 0
      sent()
    })
  }

  /** Whether the socket is open and its reader keeps up; closes a connection that does not. */
  private writable (): boolean {
    if (this.closed || this.socket.readyState !== this.socket.OPEN) return false
    if (this.socket.bufferedAmount - this.syncAnswerBytes > this.context.maxBufferedBytes) {
      this.context.metrics.refused('slow-reader')
      this.close(CloseCode.policyViolation, 'not reading: too much data queued')
      return false
    }
    return true
  }

  charge (messages: number): boolean {
    return this.messageBudget.take(messages, performance.now())
  }

  reject (error: ProtocolError): void {
    this.rejectWith(error.closeCode, error.code, error.message)
  }

  close (code: number, reason: string): void {
    if (this.closed) return
    this.closed = true
    this.queued = null
    this.sentClose = { code, reason }
    if (this.expiryTimer) clearTimeout(this.expiryTimer)
    this.context.logger.debug('connection.close', { id: this.id, room: this.grant.room, code, reason })
    this.socket.close(code, closeReason(reason))
    const socket = this.socket
    setTimeout(() => { if (socket.readyState !== socket.CLOSED) socket.terminate() }, this.context.closeTimeoutMs).unref()
  }

  private onMessage (data: RawData, isBinary: boolean): void {
    if (this.closed) return
    this.context.metrics.received(data as Buffer, isBinary)
    if (!isBinary) {
      this.rejectWith(CloseCode.unsupportedData, 'text-frame', 'binary messages only')
      return
    }
    const bytes = data as Buffer
    const now = performance.now()
    if (!this.messageBudget.take(1, now) || !this.byteBudget.take(bytes.length, now)) {
      this.rejectWith(CloseCode.policyViolation, 'rate-limit', 'too many messages or bytes per second')
      return
    }
    // A ping asks only whether this socket is alive: answered at once, even while the room loads.
    if (isPing(bytes)) {
      this.send(encodePong())
      return
    }
    if (this.queued) {
      this.queuedBytes += bytes.length
      if (this.queuedBytes > this.context.maxQueuedBytesWhileLoading) {
        this.rejectWith(CloseCode.policyViolation, 'queue-full', 'too much data sent while the document loads')
        return
      }
      this.queued.push(bytes)
      return
    }
    this.handle(bytes)
  }

  private handle (bytes: Buffer): void {
    const room = this.room as Room
    try {
      room.receive(this, decodeClientMessage(bytes), bytes)
    } catch (err) {
      if (err instanceof ProtocolError) {
        this.reject(err)
      } else {
        this.context.logger.error('connection.internal-error', { id: this.id, room: this.grant.room, error: err as Error })
        this.close(CloseCode.internalError, 'internal error')
      }
    }
  }

  private rejectWith (code: number, error: string, reason: string): void {
    this.context.logger.warn('connection.rejected', { id: this.id, room: this.grant.room, address: this.grant.address, error, reason, code })
    this.context.metrics.refused(error)
    this.close(code, reason)
  }

  private onJoined (room: Room): void {
    if (this.closed) {
      this.context.registry.leave(room, this)
      return
    }
    this.room = room
    const queued = this.queued ?? []
    this.queued = null
    for (const bytes of queued) {
      if (this.closed) break
      this.handle(bytes)
    }
  }

  private onJoinFailed (err: unknown): void {
    if (err instanceof CorruptDocumentError) {
      this.context.logger.error('room.corrupt', { room: this.grant.room, error: err })
      this.close(CloseCode.documentUnavailable, 'document damaged; it was not changed')
    } else if (err instanceof DeletedDocumentError) {
      this.close(CloseCode.documentDeleted, 'document deleted')
    } else if (err instanceof RegistryClosedError) {
      this.close(CloseCode.serviceRestart, 'server shutting down')
    } else if (err instanceof RoomLimitError) {
      this.rejectWith(CloseCode.tryAgainLater, 'room-limit', err.message)
    } else {
      this.context.logger.error('room.load-failed', { room: this.grant.room, error: err as Error })
      this.close(CloseCode.internalError, 'document could not be loaded')
    }
  }

  private scheduleExpiry (expiresAtMs: number): void {
    const delay = Math.max(0, expiresAtMs - Date.now())
    this.expiryTimer = setTimeout(() => {
      if (Date.now() < expiresAtMs) {
        this.scheduleExpiry(expiresAtMs)
        return
      }
      this.context.logger.info('connection.token-expired', { id: this.id, room: this.grant.room })
      this.close(CloseCode.tokenExpired, 'access token expired')
    }, Math.min(delay, maxTimerMs))
    this.expiryTimer.unref()
  }

  /**
   * The socket is gone: logs one line with the close code (the one this side
   * sent if it closed first, else the client's; 1006 when the socket ended
   * without a close frame), who closed, how long the connection lasted and
   * the bytes it moved on the wire (WebSocket framing and the upgrade request
   * included). Never document content.
   */
  private onClose (receivedCode: number): void {
    const wire = this.wire as Partial<Pick<Socket, 'bytesRead' | 'bytesWritten'>>
    const code = this.sentClose?.code ?? receivedCode
    this.context.metrics.closed(code)
    this.context.logger.info('connection.closed', {
      id: this.id,
      room: this.grant.room,
      address: this.grant.address,
      code,
      by: this.sentClose ? 'server' : 'client',
      reason: this.sentClose?.reason,
      durationMs: Math.round(performance.now() - this.openedAt),
      bytesIn: wire.bytesRead,
      bytesOut: wire.bytesWritten
    })
    this.closed = true
    this.queued = null
    if (this.expiryTimer) clearTimeout(this.expiryTimer)
    if (this.room) this.context.registry.leave(this.room, this)
  }
}

/** Cuts a close reason to the 123 bytes a close frame can carry. */
function closeReason (reason: string): string {
  let text = reason
  while (Buffer.byteLength(text) > 123) text = text.slice(0, -1)
  return text
}
