/**
 * A room: one shared document, the presence of the people in it, and the
 * connections that take part. Transport-free: a connection is anything that
 * can `send` bytes and be `close`d.
 *
 * The write-ahead rule lives here. An update from a client is applied to the
 * in-memory document and appended to the store at once, but everything that
 * reveals document state (forwarded updates, sync answers, saved
 * confirmations) waits in `outbox` until every append made before it is
 * durable. Appends resolve in call order, so the outbox drains in order.
 */
import * as Y from 'yjs'
import type { ClientMessage } from '../protocol/messages.js'
import {
  encodeAwareness, encodePermissionDenied, encodeSaved, encodeSyncStep1, encodeSyncStep2, encodeUpdate
} from '../protocol/messages.js'
import { decodeAwarenessUpdate, encodeAwarenessUpdate, type AwarenessEntry } from '../protocol/awareness.js'
import { CloseCode, ProtocolError } from '../protocol/errors.js'
import { CorruptDocumentError, type DocStore, type StoredDocument } from '../storage/store.js'
import type { Logger } from '../log.js'

/** What a room needs of a connection. */
export interface RoomConnection {
  /** Unique within the process; used in log lines. */
  readonly id: number
  /** Read-only connections receive everything, and their updates are refused. */
  readonly readOnly: boolean
  /** Whether the connection asked for `messageSaved` confirmations. */
  readonly wantsSaved: boolean
  /** Queues bytes for the client. Never throws; a dead connection drops them. */
  send (frame: Uint8Array): void
  /** Ends the connection with a WebSocket close code. */
  close (code: number, reason: string): void
}

/** Who made a change to a room's document: tags every Yjs transaction. */
export type UpdateOrigin =
  | { readonly kind: 'client', readonly connection: RoomConnection }
  | { readonly kind: 'store' }

/** Room behaviour that comes from configuration. */
export interface RoomOptions {
  /** Compact the stored log once it holds this many updates. */
  readonly compactAfterUpdates: number
  /** Compact the stored log once its updates add up to this many bytes. */
  readonly compactAfterBytes: number
  readonly logger: Logger
}

/** The Y.Text every coedit client edits. Clients name it the same way. */
export const textName = 'text'

interface PresenceEntry {
  clock: number
  state: string | null
  /** The connection that introduced this client id; null once it left. */
  owner: RoomConnection | null
}

interface Outgoing {
  /** Send once appends up to this sequence number are durable. */
  readonly afterSeq: number
  readonly frame: Uint8Array
  /** Only to this connection… */
  readonly to: RoomConnection | null
  /** …or to every connection but this one. */
  readonly except: RoomConnection | null
}

const storeOrigin: UpdateOrigin = { kind: 'store' }

/** A loaded document with its connections. Create through `RoomRegistry`. */
export class Room {
  readonly doc = new Y.Doc()
  private readonly connections = new Set<RoomConnection>()
  private readonly presence = new Map<number, PresenceEntry>()
  private readonly outbox: Outgoing[] = []
  /** Appends issued / made durable, counted per room. */
  private appendedSeq = 0
  private durableSeq = 0
  /** Size of the stored log since the last compaction. */
  private logUpdates: number
  private logBytes: number
  private failed = false
  /** Settles after the latest store write (appends and replaces settle in call order). */
  private lastWrite: Promise<void> = Promise.resolve()

  /**
   * Builds the room from its stored state. Throws `CorruptDocumentError`
   * when the stored bytes do not apply.
   * `onFailure` is called once if a write fails; the room is then unusable.
   */
  constructor (
    readonly name: string,
    private readonly store: DocStore,
    stored: StoredDocument,
    private readonly options: RoomOptions,
    private readonly onFailure: (room: Room) => void
  ) {
    this.logUpdates = stored.updates.length
    this.logBytes = stored.updates.reduce((sum, u) => sum + u.length, 0)
    try {
      applyStoredDocument(this.doc, stored, name)
    } catch (err) {
      this.doc.destroy()
      throw err
    }
  }

  /** Number of connections in the room. */
  get size (): number {
    return this.connections.size
  }

  /** The document's text, as clients see it. */
  get text (): string {
    return this.doc.getText(textName).toString()
  }

  /** Adds a connection and starts its sync: our state vector, then everyone's presence. */
  join (connection: RoomConnection): void {
    this.connections.add(connection)
    this.sendWhenDurable(encodeSyncStep1(Y.encodeStateVector(this.doc)), connection, null)
    const states = this.presentEntries()
    if (states.length > 0) connection.send(encodeAwareness(encodeAwarenessUpdate(states)))
  }

  /** Removes a connection and tells the others that its presence is gone. */
  leave (connection: RoomConnection): void {
    if (!this.connections.delete(connection)) return
    const removed: AwarenessEntry[] = []
    for (const [clientId, entry] of this.presence) {
      if (entry.owner !== connection) continue
      entry.owner = null
      if (entry.state !== null) {
        entry.clock++
        entry.state = null
        removed.push({ clientId, clock: entry.clock, state: null })
      }
    }
    if (removed.length > 0) this.broadcast(encodeAwareness(encodeAwarenessUpdate(removed)), null)
  }

  /**
   * Handles one decoded message from a connection in the room. Throws a
   * `ProtocolError` for content that cannot be accepted; nothing of such a
   * message is stored or relayed.
   * `raw` is the message as received, forwarded verbatim where possible.
   */
  receive (connection: RoomConnection, message: ClientMessage, raw: Uint8Array): void {
    if (this.failed) return
    switch (message.type) {
      case 'sync-step-1':
        this.answerSyncStep1(connection, message.stateVector)
        break
      case 'sync-step-2':
        this.applyClientUpdate(connection, message.update, null)
        break
      case 'update':
        this.applyClientUpdate(connection, message.update, raw)
        break
      case 'awareness':
        this.applyAwareness(connection, message.update, raw)
        break
      case 'query-awareness':
        connection.send(encodeAwareness(encodeAwarenessUpdate(this.presentEntries())))
        break
    }
  }

  /** Resolves once no write is in flight: everything applied is committed, or the room failed. */
  async whenDurable (): Promise<void> {
    let write: Promise<void>
    do {
      write = this.lastWrite
      await write
    } while (write !== this.lastWrite)
  }

  /** Writes the whole document as one snapshot in place of its log, if the log holds anything. */
  compact (): Promise<void> {
    if (this.logUpdates === 0 || this.failed) return Promise.resolve()
    this.logUpdates = 0
    this.logBytes = 0
    this.lastWrite = this.store.replace(this.name, Y.encodeStateAsUpdate(this.doc)).catch((err) => this.fail(err))
    return this.lastWrite
  }

  /** Closes every connection with `code` and frees the document. */
  destroy (code: number, reason: string): void {
    for (const connection of this.connections) connection.close(code, reason)
    this.connections.clear()
    this.doc.destroy()
  }

  private answerSyncStep1 (connection: RoomConnection, stateVector: Uint8Array): void {
    let update: Uint8Array
    try {
      update = Y.encodeStateAsUpdate(this.doc, stateVector)
    } catch (err) {
      throw new ProtocolError('invalid-update', `bad state vector: ${(err as Error).message}`)
    }
    this.sendWhenDurable(encodeSyncStep2(update), connection, null)
  }

  private applyClientUpdate (connection: RoomConnection, update: Uint8Array, raw: Uint8Array | null): void {
    if (connection.readOnly) {
      if (!isEmptyUpdate(update)) connection.send(encodePermissionDenied('read-only access: edits are not saved'))
      return
    }
    if (isEmptyUpdate(update)) return
    const store = this.doc.store
    const pendingBefore = store.pendingStructs?.update ?? null
    const deletesBefore = store.pendingDs
    let changed = false
    const onUpdate = (): void => { changed = true }
    this.doc.on('update', onUpdate)
    try {
      Y.applyUpdate(this.doc, update, { kind: 'client', connection } satisfies UpdateOrigin)
    } catch (err) {
      throw new ProtocolError('invalid-update', `update does not apply: ${(err as Error).message}`)
    } finally {
      this.doc.off('update', onUpdate)
    }
    const pendingChanged = (store.pendingStructs?.update ?? null) !== pendingBefore || store.pendingDs !== deletesBefore
    if (!changed && !pendingChanged) return
    const seq = ++this.appendedSeq
    this.logUpdates++
    this.logBytes += update.length
    this.lastWrite = this.store.append(this.name, update).then(() => this.markDurable(seq), (err) => this.fail(err))
    this.sendWhenDurable(raw ?? encodeUpdate(update), null, connection)
    if (connection.wantsSaved) this.sendWhenDurable(encodeSaved(Y.encodeStateVector(this.doc)), connection, null)
  }

  private applyAwareness (connection: RoomConnection, update: Uint8Array, raw: Uint8Array): void {
    const entries = decodeAwarenessUpdate(update)
    const accepted: AwarenessEntry[] = []
    for (const entry of entries) {
      const current = this.presence.get(entry.clientId)
      if (current?.owner && current.owner !== connection) continue
      if (current) {
        const newer = current.clock < entry.clock || (current.clock === entry.clock && entry.state === null && current.state !== null)
        if (!newer) continue
        current.clock = entry.clock
        current.state = entry.state
        current.owner = connection
      } else {
        this.presence.set(entry.clientId, { clock: entry.clock, state: entry.state, owner: connection })
      }
      accepted.push(entry)
    }
    if (accepted.length === 0) return
    const frame = accepted.length === entries.length ? raw : encodeAwareness(encodeAwarenessUpdate(accepted))
    this.broadcast(frame, connection)
  }

  private presentEntries (): AwarenessEntry[] {
    const entries: AwarenessEntry[] = []
    for (const [clientId, entry] of this.presence) {
      if (entry.state !== null) entries.push({ clientId, clock: entry.clock, state: entry.state })
    }
    return entries
  }

  private sendWhenDurable (frame: Uint8Array, to: RoomConnection | null, except: RoomConnection | null): void {
    if (this.durableSeq === this.appendedSeq && this.outbox.length === 0) {
      this.deliver(frame, to, except)
    } else {
      this.outbox.push({ afterSeq: this.appendedSeq, frame, to, except })
    }
  }

  private markDurable (seq: number): void {
    this.durableSeq = seq
    let sent = 0
    while (sent < this.outbox.length && this.outbox[sent].afterSeq <= seq) {
      const item = this.outbox[sent++]
      this.deliver(item.frame, item.to, item.except)
    }
    this.outbox.splice(0, sent)
    if (this.logUpdates >= this.options.compactAfterUpdates || this.logBytes >= this.options.compactAfterBytes) {
      void this.compact()
    }
  }

  private deliver (frame: Uint8Array, to: RoomConnection | null, except: RoomConnection | null): void {
    if (to) {
      if (this.connections.has(to)) to.send(frame)
    } else {
      this.broadcast(frame, except)
    }
  }

  private broadcast (frame: Uint8Array, except: RoomConnection | null): void {
    for (const connection of this.connections) {
      if (connection !== except) connection.send(frame)
    }
  }

  private fail (err: unknown): void {
    if (this.failed) return
    this.failed = true
    this.options.logger.error('room.write-failed', { room: this.name, error: err as Error })
    this.destroy(CloseCode.internalError, 'storage failure')
    this.outbox.length = 0
    this.onFailure(this)
  }
}

/**
 * Applies a stored document (snapshot, then log) to `doc` in one transaction
 * tagged as coming from the store. Throws `CorruptDocumentError` when the
 * stored bytes do not apply.
 */
export function applyStoredDocument (doc: Y.Doc, stored: StoredDocument, name = ''): void {
  try {
    doc.transact(() => {
      if (stored.snapshot) Y.applyUpdate(doc, stored.snapshot)
      for (const update of stored.updates) Y.applyUpdate(doc, update)
    }, storeOrigin)
  } catch (err) {
    throw new CorruptDocumentError(name, (err as Error).message)
  }
}

/** An update that carries nothing: no structs, no deletions (`[0, 0]`). */
function isEmptyUpdate (update: Uint8Array): boolean {
  return update.length === 2 && update[0] === 0 && update[1] === 0
}
