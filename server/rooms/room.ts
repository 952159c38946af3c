/**
 * A room: one shared document, the presence of the people in it, and the
 * connections that take part. Transport-free: a connection is anything that
 * can `send` bytes and be `close`d. The room composes the parts that do the
 * work: `ClientUpdates` (checking and applying edits within budgets),
 * `StoredLog` (sizes and compaction), `Outbox` (the write-ahead rule) and
 * `Presence`.
 *
 * The write-ahead rule: an update from a client is applied to the in-memory
 * document and appended to the store at once, but everything that reveals
 * document state (forwarded updates, sync answers, saved confirmations)
 * waits in the outbox until every append made before it is durable.
 *
 * An update that throws inside Yjs may have been applied in part. Nothing of
 * it was stored or sent, so the room rebuilds its document from the store
 * and holds every message until then: the bad bytes never reach anyone. Any
 * failure to store, encode or rebuild fails the room alone: its connections
 * are closed with 1011 and it leaves memory; the next connection loads it
 * again from the store.
 */
import * as Y from 'yjs'
import type { ClientMessage } from '../protocol/messages.js'
import {
  encodeAwareness, encodePermissionDenied, encodeSaved, encodeSyncStep1, encodeUpdate
} from '../protocol/messages.js'
import { decodeAwarenessUpdate, encodeAwarenessUpdate } from '../protocol/awareness.js'
import { changesDocument } from '../protocol/update.js'
import { CloseCode, ProtocolError } from '../protocol/errors.js'
import { applyStoredDocument, textName } from '../protocol/document.js'
import { DeletedDocumentError, type DocStore, type StoredDocument } from '../storage/store.js'
import type { ClusterBus, ClusterMessage } from '../cluster/bus.js'
import type { Logger } from '../log.js'
import { BrokenDocumentError, ClientUpdates, type DocumentBudget } from './client-update.js'
import { Outbox, type Recipient } from './outbox.js'
import { Presence, type PresenceLimits } from './presence.js'
import { StoredLog, type StoredLogLimits } from './stored-log.js'
import { SequencePosition } from './sequence.js'
import { minimalTextEdit } from './text-edit.js'
import { AnswerQueue, syncAnswer, type SyncAnswer } from './sync-answer.js'

/** What a room needs of a connection. */
export interface RoomConnection {
  /** Unique within the process; used in log lines. */
  readonly id: number
  /** Read-only connections receive everything, and their updates are refused. */
  readonly readOnly: boolean
  /** Whether the connection asked for `messageSaved` confirmations. */
  readonly wantsSaved: boolean
  /** Whether the connection asked to be told how large a sync answer in several messages is (`messageSyncProgress`). */
  readonly wantsProgress: boolean
  /** The name others see for this connection, fixed by its token; null lets the client choose. */
  readonly displayName: string | null
  /** Queues bytes for the client. Never throws; a dead connection drops them. */
  send (frame: Uint8Array): void
  /**
   * Queues a message of the answer to the client's sync step 1: unlike
   * `send`, may exceed the connection's limit on queued bytes while it goes
   * out. Calls `sent` once the message has left the process (never, if the
   * connection is gone).
   */
  sendSyncAnswer (frame: Uint8Array, sent: () => void): void
  /**
   * Counts `messages` more against the connection's message rate, for a
   * request that costs as much work as that many messages. False when that
   * passes its budget (the room then refuses the request).
   */
  charge (messages: number): boolean
  /** Ends the connection with a WebSocket close code. */
  close (code: number, reason: string): void
  /** Ends the connection for a message that broke the protocol, with a log line. */
  reject (error: ProtocolError): void
}

/** Who made a change to a room's document: tags every Yjs transaction. */
export type UpdateOrigin =
  /** A client of this process; the room stores it. */
  | { readonly kind: 'client', readonly connection: RoomConnection }
  /** Read from the store: at load, or catching up. */
  | { readonly kind: 'store' }
  /** Another process committed it and published it on the bus. */
  | { readonly kind: 'cluster', readonly process: string }
  /** `replaceText` made it (the document API); the room stores it. */
  | { readonly kind: 'api' }

/** The people another process serves, as owners of presence in this room. */
interface RemoteProcess {
  readonly process: string
}

/** Who presents an awareness client id in a room. */
type PresenceOwner = RoomConnection | RemoteProcess

function isRemote (owner: PresenceOwner): owner is RemoteProcess {
  return 'process' in owner
}

/** Where a room reports its work. */
export interface RoomMetrics {
  /** A client update was checked and applied (or refused) in `seconds`. */
  updateApplied (seconds: number): void
  /** A compaction started. */
  compacted (): void
}

/** Who hears of every change to a room's document (the history recorder). */
export interface RoomEdits {
  /**
   * The document of `room` changed: by a client of this process named
   * `author`, or by someone unnamed (another process, the document API).
   */
  edited (room: Room, author: string | null): void
}

/** Room behaviour that comes from configuration. */
export interface RoomOptions extends DocumentBudget, PresenceLimits, StoredLogLimits {
  readonly logger: Logger
  /** Largest piece of a sync answer, in update bytes; a larger answer goes out in several messages. */
  readonly maxSyncPieceBytes: number
  /** Bytes of sync answers a connection may have waiting beyond the one it is reading (else 1008). */
  readonly maxBufferedBytes: number
  /** Defaults to reporting nothing. */
  readonly metrics?: RoomMetrics
  /** Defaults to telling no one. */
  readonly edits?: RoomEdits
}

/** What the room keeps per connection. */
interface Member {
  /** Document messages (sync step 2, update) of this connection handled so far. */
  handled: number
  /** The messages of sync answers on their way to this connection, one at a time. */
  readonly answers: AnswerQueue
}

/**
 * Items of a document per message of rate budget that computing a sync
 * answer not in the cache is charged: for a million-item document, a
 * hundred messages' worth.
 */
const itemsPerChargedMessage = 10_000

/** Sync answers a room keeps for the current document, besides the whole-document one. */
const maxCachedSyncAnswers = 4

/** How long a gap in the sequence may wait for the bus to fill it before the store is asked. */
const gapWaitMs = 200

/** How long a room waits before asking the store again after a catch-up failed. */
const catchUpRetryMs = 2_000

/**
 * Items a `replaceText` edit may create or split: the inserted text, and a
 * split at each end of the replaced range.
 */
const itemsPerTextEdit = 4

/** Bytes a `replaceText` update is charged beyond its inserted text (struct header, origins, delete set) before it is made. */
const textEditOverheadBytes = 256

/** Thrown by `replaceText` when the room failed or is unloading: load the document again and retry. */
export class RoomClosedError extends Error {
  override readonly name = 'RoomClosedError'
}

/** A loaded document with its connections. Create through `RoomRegistry`. */
export class Room {
  private ydoc: Y.Doc
  private updates: ClientUpdates
  private log: StoredLog
  private readonly members = new Map<RoomConnection, Member>()
  private readonly presence: Presence<PresenceOwner>
  /** Presence owners for the processes whose people are in this room. */
  private readonly remotes = new Map<string, RemoteProcess>()
  /** How far the stored updates of this document are integrated. */
  private position: SequencePosition
  private catchingUp = false
  private catchUpTimer: NodeJS.Timeout | null = null
  private readonly outbox: Outbox<RoomConnection>
  /** Sync answers for the current document, by the state vector they answer. */
  private readonly syncAnswers = new Map<string, SyncAnswer>()
  /** While the document is rebuilt, the work that arrived meanwhile; null otherwise. */
  private held: Array<() => void> | null = null
  private failed = false
  /** Set once the room is unloading: messages are no longer taken, so the last writes can settle. */
  private sealed = false
  /** Whether a client changed the document since it loaded. */
  private changedSinceLoad = false
  /** Settles after the latest store write (appends and replaces settle in call order). */
  private lastWrite: Promise<void> = Promise.resolve()

  /**
   * Builds the room from its stored state. Throws `CorruptDocumentError`
   * when the stored bytes do not apply.
   * `onFailure` is called once if the room fails; the room is then unusable.
   */
  constructor (
    readonly name: string,
    private readonly store: DocStore,
    stored: StoredDocument,
    private readonly options: RoomOptions,
    private readonly bus: ClusterBus,
    private readonly onFailure: (room: Room) => void
  ) {
    this.ydoc = this.createDoc(stored)
    this.updates = new ClientUpdates(this.ydoc, options)
    this.log = new StoredLog(options, stored)
    this.position = new SequencePosition(stored.seq)
    this.presence = new Presence<PresenceOwner>(options, (owner) => isRemote(owner) ? null : owner.displayName)
    this.outbox = new Outbox((frame, to) => this.deliver(frame, to))
    // Whoever serves people in this document elsewhere tells us who they are.
    bus.publish(name, { kind: 'awareness-query' })
  }

  /** The room's document. Read it; change it only through `receive`. */
  get doc (): Y.Doc {
    return this.ydoc
  }

  /** Number of connections in the room. */
  get size (): number {
    return this.members.size
  }

  /** The document's text, as clients see it. */
  get text (): string {
    return this.ydoc.getText(textName).toString()
  }

  /** Whether a client changed the document since the room loaded. */
  get written (): boolean {
    return this.changedSinceLoad
  }

  /**
   * The sequence number the document holds every stored update up to, and
   * nothing beyond: null while it holds more (an update of this process not
   * yet durable, one of another process above a gap) or is being rebuilt.
   */
  get committedSeq (): number | null {
    if (this.held || this.failed || this.position.hasGap || !this.outbox.idle) return null
    return this.position.seq
  }

  /** Items the document holds, as counted for `maxDocumentItems` (an upper bound). */
  get itemCount (): number {
    return this.updates.itemCount
  }

  /**
   * Adds a connection and starts its sync: our state vector, then everyone's
   * presence, and for a client that wants saved confirmations the durable
   * state, so one lost with an earlier connection is not waited for forever.
   */
  join (connection: RoomConnection): void {
    this.members.set(connection, { handled: 0, answers: new AnswerQueue((frame, sent) => connection.sendSyncAnswer(frame, sent)) })
    this.whenReady(() => {
      if (!this.members.has(connection)) return
      const stateVector = Y.encodeStateVector(this.ydoc)
      this.outbox.send(encodeSyncStep1(stateVector), { only: connection })
      if (connection.wantsSaved) this.outbox.send(encodeSaved(stateVector, 0), { only: connection })
      const states = this.presence.present()
      if (states.length > 0) connection.send(encodeAwareness(encodeAwarenessUpdate(states)))
    })
  }

  /** Removes a connection and tells the others that its presence is gone. */
  leave (connection: RoomConnection): void {
    if (!this.members.delete(connection)) return
    this.removePresenceOf(connection)
  }

  /**
   * Handles a message another process published about this document:
   * committed updates are applied and forwarded (never stored again), and
   * presence is kept per process.
   */
  receiveFromCluster (message: ClusterMessage): void {
    if (this.failed || this.sealed) return
    if (this.held) {
      this.held.push(() => this.receiveFromCluster(message))
      return
    }
    switch (message.kind) {
      case 'update':
        if (this.position.has(message.seq)) return
        this.applyCommitted(message.update, { kind: 'cluster', process: message.from } satisfies UpdateOrigin, true)
        this.position.integrated(message.seq)
        if (this.position.hasGap) this.scheduleCatchUp(gapWaitMs)
        break
      case 'awareness': {
        let entries
        try {
          entries = decodeAwarenessUpdate(message.update)
        } catch (err) {
          this.options.logger.warn('cluster.bad-awareness', { room: this.name, from: message.from, error: err as Error })
          return
        }
        const { accepted } = this.presence.apply(this.remote(message.from), entries, true)
        if (accepted.length > 0) this.broadcast(encodeAwareness(encodeAwarenessUpdate(accepted)), null)
        break
      }
      case 'awareness-query':
        this.publishLocalPresence()
        break
      case 'deleted':
        break // the registry unloads the room
    }
  }

  /** Forgets the presence of the people `process` served: it stopped. */
  processGone (process: string): void {
    const owner = this.remotes.get(process)
    if (!owner) return
    this.remotes.delete(process)
    this.removePresenceOf(owner)
  }

  /**
   * Called when the bus may have lost messages: reads what the room lacks of
   * its stored document (updates other processes committed) and forwards it
   * to this process's clients, and tells the others again who is here and
   * asks who is there (they may have taken this process for gone).
   */
  resync (): void {
    this.scheduleCatchUp(0)
    this.publishLocalPresence()
    this.bus.publish(this.name, { kind: 'awareness-query' })
  }

  /**
   * Handles one decoded message from a connection in the room. Content that
   * cannot be accepted rejects the connection (`connection.reject`); nothing
   * of such a message is stored or relayed.
   * `raw` is the message as received, forwarded verbatim where possible.
   */
  receive (connection: RoomConnection, message: ClientMessage, raw: Uint8Array): void {
    if (this.failed || this.sealed || !this.members.has(connection)) return
    if (this.held) {
      this.held.push(() => this.receive(connection, message, raw))
      return
    }
    try {
      switch (message.type) {
        case 'sync-step-1':
          this.answerSyncStep1(connection, message.stateVector)
          break
        case 'sync-step-2':
          this.receiveUpdate(connection, message.update, null)
          break
        case 'update':
          this.receiveUpdate(connection, message.update, raw)
          break
        case 'awareness':
          this.receiveAwareness(connection, message.update, raw)
          break
        case 'query-awareness':
          connection.send(encodeAwareness(encodeAwarenessUpdate(this.presence.present())))
          break
      }
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err
      connection.reject(err)
    }
  }

  /**
   * Replaces the document's text with `text` as one minimal edit: the
   * longest common prefix and suffix stay as they are, so positions in them
   * (cursors, selections) keep their place. The edit is applied and
   * appended to the store at once, sent to every connection and published
   * to the other processes once durable, as a client's update is.
   * Resolves, once everything applied so far is durable, to whether the
   * text changed. Rejects with `ProtocolError('too-large')` when the edit
   * would pass the document's budgets, `ProtocolError('content-refused')`
   * when the text holds embedded content, and `RoomClosedError` when the
   * room failed or is unloading (nothing was applied then, or the write's
   * outcome is unknown).
   */
  async replaceText (text: string): Promise<boolean> {
    if (this.failed || this.sealed) throw new RoomClosedError('the document is unloading')
    if (this.held) throw new RoomClosedError('the document is being reloaded')
    const ytext = this.ydoc.getText(textName)
    const current = ytext.toString()
    if (current.length !== ytext.length) throw new ProtocolError('content-refused', 'the text holds embedded content, which cannot be replaced as text')
    const edit = minimalTextEdit(current, text)
    if (edit) {
      this.updates.chargeLocalEdit(Buffer.byteLength(edit.insert) + textEditOverheadBytes, itemsPerTextEdit, (bytes, items) => this.log.fits(bytes, items))
      const origin: UpdateOrigin = { kind: 'api' }
      let update: Uint8Array | null = null
      const collect = (change: Uint8Array, changeOrigin: unknown): void => {
        if (changeOrigin === origin) update = change
      }
      this.ydoc.on('update', collect)
      try {
        this.ydoc.transact(() => {
          if (edit.deleteCount > 0) ytext.delete(edit.index, edit.deleteCount)
          if (edit.insert.length > 0) ytext.insert(edit.index, edit.insert)
        }, origin)
      } finally {
        this.ydoc.off('update', collect)
      }
      if (update) this.commit(null, update, itemsPerTextEdit, null)
    }
    await this.whenDurable()
    if (this.failed) throw new RoomClosedError('the document failed; the edit may not be stored')
    return edit !== null
  }

  /** Resolves once no write is in flight: everything applied is committed, or the room failed. */
  async whenDurable (): Promise<void> {
    let write: Promise<void>
    do {
      write = this.lastWrite
      await write
    } while (write !== this.lastWrite)
  }

  /**
   * Stops taking messages, so that the writes made so far can settle while
   * the room unloads: a client that keeps typing cannot hold shutdown off.
   * What its connections send afterwards is dropped unconfirmed; they are
   * closed once the room is saved and send it again when they reconnect.
   */
  seal (): void {
    this.sealed = true
  }

  /**
   * Writes the whole document as one snapshot in place of its log, if the
   * log holds anything. Never rejects: a document that cannot be encoded or
   * stored fails the room.
   */
  compact (): Promise<void> {
    if (this.log.length === 0 || this.failed || this.held) return Promise.resolve()
    let snapshot: Uint8Array
    try {
      snapshot = Y.encodeStateAsUpdate(this.ydoc)
    } catch (err) {
      this.fail(err, 'the document cannot be encoded')
      return Promise.resolve()
    }
    this.log.compacted(snapshot.length)
    this.options.metrics?.compacted()
    this.lastWrite = this.store.replace(this.name, snapshot).catch((err) => this.fail(err, 'storage failure'))
    return this.lastWrite
  }

  /**
   * Closes every connection with `code` and frees the document. Other
   * processes are told at once that this process's people left.
   */
  destroy (code: number, reason: string): void {
    if (this.catchUpTimer) clearTimeout(this.catchUpTimer)
    this.catchUpTimer = null
    for (const connection of this.members.keys()) this.removePresenceOf(connection)
    for (const connection of this.members.keys()) connection.close(code, reason)
    this.members.clear()
    this.ydoc.destroy()
  }

  /** A Y.Doc holding the stored document. Throws `CorruptDocumentError`. */
  private createDoc (stored: StoredDocument): Y.Doc {
    // A guid of our own spares Yjs generating a random one per room.
    const doc = new Y.Doc({ guid: this.name })
    try {
      applyStoredDocument(doc, stored, this.name)
    } catch (err) {
      doc.destroy()
      throw err
    }
    return doc
  }

  private whenReady (work: () => void): void {
    if (this.held) this.held.push(work)
    else work()
  }

  /**
   * Answers a state vector with what the client lacks. The last few answers
   * (a newcomer's is the whole document; an up-to-date client's, the delete
   * set) are kept until the document changes. Computing one takes time in
   * proportion to the document, so it is charged to the asking connection's
   * message rate by the document's size.
   *
   * An answer larger than `maxSyncPieceBytes` goes out as several messages
   * (see `syncAnswer`), each once the one before has left the process:
   * the stock client hears from the relay all along instead of waiting for
   * one huge message, and a slow reader costs one piece of buffer. Updates
   * made meanwhile reach it at once, between the pieces; Yjs holds any that
   * build on a piece still to come until that piece arrives.
   */
  private answerSyncStep1 (connection: RoomConnection, stateVector: Uint8Array): void {
    const key = Buffer.from(stateVector.buffer, stateVector.byteOffset, stateVector.byteLength).toString('latin1')
    let answer = this.syncAnswers.get(key)
    if (!answer) {
      if (!connection.charge(Math.floor(this.updates.itemCount / itemsPerChargedMessage))) {
        throw new ProtocolError('policy', 'too many sync requests for the size of this document')
      }
      try {
        Y.decodeStateVector(stateVector)
      } catch (err) {
        throw new ProtocolError('invalid-update', `bad state vector: ${(err as Error).message}`)
      }
      try {
        answer = syncAnswer(Y.encodeStateAsUpdate(this.ydoc, stateVector), this.options.maxSyncPieceBytes)
      } catch (err) {
        this.fail(err, 'the document cannot be encoded')
        return
      }
      if (this.syncAnswers.size >= maxCachedSyncAnswers + 1) this.syncAnswers.clear()
      this.syncAnswers.set(key, answer)
    }
    // Answers wait in the room, not in the socket, where they would count as unread bytes. One
    // answer at a time is free; a client asking again before reading is held to that limit.
    const answers = (this.members.get(connection) as Member).answers
    const progress = connection.wantsProgress ? answer.progress : null
    const bytes = answer.bytes + (progress?.length ?? 0)
    if (answers.pendingBytes > 0 && answers.pendingBytes + bytes > this.options.maxBufferedBytes) {
      throw new ProtocolError('policy', 'sync requests faster than their answers are read')
    }
    answers.promise(bytes)
    if (progress) this.outbox.send(progress, { syncAnswerTo: connection })
    for (const frame of answer.frames) this.outbox.send(frame, { syncAnswerTo: connection })
  }

  private receiveUpdate (connection: RoomConnection, update: Uint8Array, raw: Uint8Array | null): void {
    const member = this.members.get(connection) as Member
    member.handled++
    if (connection.readOnly) {
      // Up-to-date readers send the whole delete set back when they sync: that is no edit.
      if (changesDocument(this.ydoc, update)) connection.send(encodePermissionDenied('read-only access: your edits are not saved'))
    } else {
      this.applyClientUpdate(connection, update, raw)
    }
    if (connection.wantsSaved) this.outbox.send(encodeSaved(Y.encodeStateVector(this.ydoc), member.handled), { only: connection })
  }

  private applyClientUpdate (connection: RoomConnection, update: Uint8Array, raw: Uint8Array | null): void {
    let applied
    const start = performance.now()
    try {
      applied = this.updates.apply(update, { kind: 'client', connection } satisfies UpdateOrigin, (bytes, items) => this.log.fits(bytes, items))
    } catch (err) {
      if (!(err instanceof BrokenDocumentError)) throw err
      this.rebuild()
      throw new ProtocolError('invalid-update', err.message)
    } finally {
      this.options.metrics?.updateApplied((performance.now() - start) / 1000)
    }
    if (!applied.changed) return
    this.commit(connection, applied.update, applied.items, applied.verbatim ? raw : null)
    if (applied.refusal) throw applied.refusal
  }

  /** Appends `update` and queues it for every connection but its author (null: every one) behind the append. */
  private commit (connection: RoomConnection | null, update: Uint8Array, items: number, raw: Uint8Array | null): void {
    this.syncAnswers.clear()
    this.changedSinceLoad = true
    const seq = this.outbox.issued()
    this.log.appended(update.length, items)
    this.lastWrite = this.store.append(this.name, update)
      .then((stored) => {
        this.markDurable(seq)
        this.published(stored, update)
      }, (err) => this.fail(err, 'storage failure'))
      .catch((err) => this.fail(err, 'internal error'))
    this.outbox.send(raw ?? encodeUpdate(update), { allBut: connection })
    this.options.edits?.edited(this, connection === null ? null : this.authorName(connection))
  }

  /** The name `connection` edits under: the one its token fixes, else the one its presence shows. */
  private authorName (connection: RoomConnection): string | null {
    if (connection.displayName !== null) return connection.displayName
    for (const entry of this.presence.present((owner) => owner === connection)) {
      try {
        const name = (JSON.parse(entry.state as string) as { user?: { name?: unknown } }).user?.name
        if (typeof name === 'string' && name !== '') return name
      } catch {}
    }
    return null
  }

  private receiveAwareness (connection: RoomConnection, message: Uint8Array, raw: Uint8Array): void {
    const entries = decodeAwarenessUpdate(message)
    const { accepted, verbatim } = this.presence.apply(connection, entries)
    if (accepted.length === 0) return
    const update = verbatim ? message : encodeAwarenessUpdate(accepted)
    this.bus.publish(this.name, { kind: 'awareness', update })
    const frame = verbatim ? raw : encodeAwareness(update)
    // The sender gets its own presence back too: the stock client takes 30 s without
    // any message for a dead connection, and its presence renewal every 15 s is what
    // keeps a lone editor's connection alive.
    this.broadcast(frame, null)
  }

  private markDurable (seq: number): void {
    this.outbox.durable(seq)
    if (this.log.wantsCompaction) void this.compact()
  }

  private deliver (frame: Uint8Array, to: Recipient<RoomConnection>): void {
    if ('allBut' in to) {
      this.broadcast(frame, to.allBut)
    } else if ('only' in to) {
      if (this.members.has(to.only)) to.only.send(frame)
    } else {
      this.members.get(to.syncAnswerTo)?.answers.push(frame)
    }
  }

  private broadcast (frame: Uint8Array, except: RoomConnection | null): void {
    for (const connection of this.members.keys()) {
      if (connection !== except) connection.send(frame)
    }
  }

  /** Tells the other processes about an update this process committed as number `seq`. */
  private published (seq: number, update: Uint8Array): void {
    this.position.integrated(seq)
    this.bus.publish(this.name, { kind: 'update', seq, update })
    if (this.position.hasGap) this.scheduleCatchUp(gapWaitMs)
  }

  /**
   * Applies an update that is committed already and forwards it to this
   * process's clients. One from another process (`verbatim`) is new here
   * (its sequence number says so) and goes out as it came. One read back
   * from the store may repeat what the document holds: what goes out then
   * is the change Yjs made of it (nothing, when it held it all), told apart
   * by origin from follow-up transactions Yjs may run. Listening for changes
   * only here keeps Yjs from encoding every client update on the hot path.
   */
  private applyCommitted (update: Uint8Array, origin: UpdateOrigin, verbatim: boolean): void {
    const changes: Uint8Array[] = []
    const collect = (change: Uint8Array, changeOrigin: unknown): void => {
      if (changeOrigin === origin) changes.push(change)
    }
    if (!verbatim) this.ydoc.on('update', collect)
    try {
      this.updates.applyCommitted(update, origin)
    } catch (err) {
      // Committed elsewhere, so it is in the store: reloading the document takes it in whole.
      this.options.logger.warn('room.committed-update-failed', { room: this.name, error: err as Error })
      this.rebuild()
      return
    } finally {
      if (!verbatim) this.ydoc.off('update', collect)
    }
    this.log.storedElsewhere(update.length)
    if (verbatim) changes.push(update)
    if (changes.length === 0) return
    this.syncAnswers.clear()
    for (const change of changes) this.outbox.send(encodeUpdate(change), { allBut: null })
    this.options.edits?.edited(this, null)
  }

  private scheduleCatchUp (delayMs: number): void {
    if (this.catchUpTimer || this.failed || this.sealed) return
    this.catchUpTimer = setTimeout(() => {
      this.catchUpTimer = null
      this.readMissing()
    }, delayMs)
    this.catchUpTimer.unref()
  }

  private readMissing (): void {
    if (this.catchingUp || this.failed || this.sealed) return
    if (this.held) {
      this.held.push(() => this.readMissing())
      return
    }
    this.catchingUp = true
    this.store.readSince(this.name, this.position.seq).then((missing) => {
      this.catchingUp = false
      if (this.failed || this.sealed) return
      if (this.held) {
        this.held.push(() => this.readMissing())
        return
      }
      const origin: UpdateOrigin = { kind: 'store' }
      if (missing.snapshot) this.applyCommitted(missing.snapshot, origin, false)
      for (const update of missing.updates) this.applyCommitted(update, origin, false)
      this.position.caughtUp(missing.seq)
      if (this.position.hasGap) this.scheduleCatchUp(gapWaitMs)
    }, (err) => {
      this.catchingUp = false
      if (err instanceof DeletedDocumentError) {
        // The bus lost the deletion notice; the store tells.
        this.fail(err, 'document deleted', CloseCode.documentDeleted)
        return
      }
      this.options.logger.warn('room.catch-up-failed', { room: this.name, error: err as Error })
      this.scheduleCatchUp(catchUpRetryMs)
    })
  }

  /** Tells the other processes the presence of this process's people. */
  private publishLocalPresence (): void {
    const local = this.presence.present((owner) => !isRemote(owner))
    if (local.length > 0) this.bus.publish(this.name, { kind: 'awareness', update: encodeAwarenessUpdate(local) })
  }

  /** The presence owner standing for the people `process` serves. */
  private remote (process: string): RemoteProcess {
    let owner = this.remotes.get(process)
    if (!owner) {
      owner = { process }
      this.remotes.set(process, owner)
    }
    return owner
  }

  /** Removes every presence `owner` held, telling this process's clients, and the others when it was local. */
  private removePresenceOf (owner: PresenceOwner): void {
    const removed = this.presence.remove(owner)
    if (removed.length === 0) return
    const update = encodeAwarenessUpdate(removed)
    this.broadcast(encodeAwareness(update), null)
    if (!isRemote(owner)) this.bus.publish(this.name, { kind: 'awareness', update })
  }

  /**
   * Replaces the document with the stored one, once every write issued so
   * far is durable. Messages and joins that arrive meanwhile wait, then run
   * in order.
   */
  private rebuild (): void {
    if (this.held) return
    this.held = []
    this.options.logger.warn('room.rebuild', { room: this.name, reason: 'an update failed inside Yjs' })
    const restore = async (): Promise<void> => {
      await this.whenDurable()
      const stored = await this.store.load(this.name)
      if (this.failed) return
      const doc = this.createDoc(stored)
      this.ydoc.destroy()
      this.ydoc = doc
      this.updates = new ClientUpdates(doc, this.options)
      this.log = new StoredLog(this.options, stored)
      this.position = new SequencePosition(stored.seq)
      this.syncAnswers.clear()
      const held = this.held ?? []
      this.held = null
      for (const work of held) work()
    }
    restore().catch((err) => this.fail(err, 'the document could not be reloaded'))
  }

  /** Fails the room: logs why, closes every connection with `code` (1011 unless given), drops what waits, and leaves memory. */
  private fail (err: unknown, reason: string, code: number = CloseCode.internalError): void {
    if (this.failed) return
    this.failed = true
    this.held = null
    if (code === CloseCode.internalError) this.options.logger.error('room.failed', { room: this.name, reason, error: err as Error })
    else this.options.logger.info('room.closed', { room: this.name, reason })
    this.outbox.clear()
    try {
      this.destroy(code, reason)
    } finally {
      this.onFailure(this)
    }
  }
}

