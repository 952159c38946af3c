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
 *
 * An update that throws inside Yjs may have been applied in part. Nothing of
 * it was stored or sent, so the room rebuilds its document from the store
 * and holds every message until then: the bad bytes never reach anyone.
 */
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import type { ClientMessage } from '../protocol/messages.js'
import {
  encodeAwareness, encodePermissionDenied, encodeSaved, encodeSyncStep1, encodeSyncStep2, encodeUpdate
} from '../protocol/messages.js'
import { decodeAwarenessUpdate, encodeAwarenessUpdate, type AwarenessEntry } from '../protocol/awareness.js'
import { changesDocument, checkUpdate } from '../protocol/update.js'
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
  /** The name others see for this connection, fixed by its token; null lets the client choose. */
  readonly displayName: string | null
  /** Queues bytes for the client. Never throws; a dead connection drops them. */
  send (frame: Uint8Array): void
  /**
   * Queues a sync step 2 answering the client's state vector, which may be
   * the whole document: unlike `send`, may exceed the connection's limit on
   * queued bytes while it goes out.
   */
  sendSyncAnswer (frame: Uint8Array): void
  /** Ends the connection with a WebSocket close code. */
  close (code: number, reason: string): void
  /** Ends the connection for a message that broke the protocol, with a log line. */
  reject (error: ProtocolError): void
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
  /** Largest stored size (snapshot plus log) a document may reach. */
  readonly maxDocumentBytes: number
  /** Awareness client ids one connection may introduce. */
  readonly maxAwarenessClientsPerConnection: number
  /** Bytes of updates waiting for missing dependencies the document may hold. */
  readonly maxPendingBytesPerRoom: number
  readonly logger: Logger
}

/** The Y.Text every coedit client edits. Clients name it the same way. */
export const textName = 'text'

interface PresenceEntry {
  clock: number
  state: string | null
  /** The connection that introduced this client id. */
  readonly owner: RoomConnection
}

interface Outgoing {
  /** Send once appends up to this sequence number are durable. */
  readonly afterSeq: number
  readonly frame: Uint8Array
  /** Whether `frame` answers a sync step 1 (then `to` is set). */
  readonly syncAnswer: boolean
  /** Only to this connection… */
  readonly to: RoomConnection | null
  /** …or to every connection but this one. */
  readonly except: RoomConnection | null
}

const storeOrigin: UpdateOrigin = { kind: 'store' }

/** Departed client ids a room remembers to tell echoes from returns. */
const maxDepartedClients = 1000

/** A loaded document with its connections. Create through `RoomRegistry`. */
export class Room {
  private ydoc: Y.Doc
  private readonly connections = new Set<RoomConnection>()
  private readonly presence = new Map<number, PresenceEntry>()
  /**
   * The last clock of client ids whose connection left, oldest first. Other
   * clients echo what they heard, so a state at or below that clock is an
   * echo, not the client coming back, and must not claim its id.
   */
  private readonly departed = new Map<number, number>()
  private readonly outbox: Outgoing[] = []
  /** Document messages handled per connection that wants saved confirmations. */
  private readonly handled = new WeakMap<RoomConnection, number>()
  /** Appends issued / made durable, counted per room. */
  private appendedSeq = 0
  private durableSeq = 0
  /** Size of the stored log since the last compaction, and of everything stored. */
  private logUpdates = 0
  private logBytes = 0
  private storedBytes = 0
  /** Sync step 2 holding the whole document, kept while the document does not change. */
  private wholeDocument: Uint8Array | null = null
  /** The last transaction on the document, to tell whether an update changed anything. */
  private lastTransaction: Y.Transaction | null = null
  /** While the document is rebuilt, the work that arrived meanwhile; null otherwise. */
  private held: Array<() => void> | null = null
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
    this.ydoc = this.createDoc(stored)
  }

  /** The room's document. Read it; change it only through `receive`. */
  get doc (): Y.Doc {
    return this.ydoc
  }

  /** Number of connections in the room. */
  get size (): number {
    return this.connections.size
  }

  /** The document's text, as clients see it. */
  get text (): string {
    return this.ydoc.getText(textName).toString()
  }

  /**
   * Adds a connection and starts its sync: our state vector, then everyone's
   * presence, and for a client that wants saved confirmations the durable
   * state, so one lost with an earlier connection is not waited for forever.
   */
  join (connection: RoomConnection): void {
    this.connections.add(connection)
    this.whenReady(() => {
      if (!this.connections.has(connection)) return
      this.sendWhenDurable(encodeSyncStep1(Y.encodeStateVector(this.ydoc)), connection, null)
      if (connection.wantsSaved) this.sendWhenDurable(encodeSaved(Y.encodeStateVector(this.ydoc), 0), connection, null)
      const states = this.presentEntries()
      if (states.length > 0) connection.send(encodeAwareness(encodeAwarenessUpdate(states)))
    })
  }

  /** Removes a connection and tells the others that its presence is gone. */
  leave (connection: RoomConnection): void {
    if (!this.connections.delete(connection)) return
    const removed: AwarenessEntry[] = []
    for (const [clientId, entry] of this.presence) {
      if (entry.owner !== connection) continue
      this.presence.delete(clientId)
      this.departed.delete(clientId)
      this.departed.set(clientId, entry.clock)
      if (this.departed.size > maxDepartedClients) this.departed.delete(this.departed.keys().next().value as number)
      // Removal at the same clock is accepted by y-protocols, and lets the client
      // come back with its next clock without being taken for an old message.
      if (entry.state !== null) removed.push({ clientId, clock: entry.clock, state: null })
    }
    if (removed.length > 0) this.broadcast(encodeAwareness(encodeAwarenessUpdate(removed)), null)
  }

  /**
   * Handles one decoded message from a connection in the room. Content that
   * cannot be accepted rejects the connection (`connection.reject`); nothing
   * of such a message is stored or relayed.
   * `raw` is the message as received, forwarded verbatim where possible.
   */
  receive (connection: RoomConnection, message: ClientMessage, raw: Uint8Array): void {
    if (this.failed || !this.connections.has(connection)) return
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
          this.applyClientUpdate(connection, message.update, null)
          this.confirmHandled(connection)
          break
        case 'update':
          this.applyClientUpdate(connection, message.update, raw)
          this.confirmHandled(connection)
          break
        case 'awareness':
          this.applyAwareness(connection, message.update, raw)
          break
        case 'query-awareness':
          connection.send(encodeAwareness(encodeAwarenessUpdate(this.presentEntries())))
          break
      }
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err
      connection.reject(err)
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
    if (this.logUpdates === 0 || this.failed || this.held) return Promise.resolve()
    const snapshot = Y.encodeStateAsUpdate(this.ydoc)
    this.logUpdates = 0
    this.logBytes = 0
    this.storedBytes = snapshot.length
    this.lastWrite = this.store.replace(this.name, snapshot).catch((err) => this.fail(err))
    return this.lastWrite
  }

  /** Closes every connection with `code` and frees the document. */
  destroy (code: number, reason: string): void {
    for (const connection of this.connections) connection.close(code, reason)
    this.connections.clear()
    this.ydoc.destroy()
  }

  private createDoc (stored: StoredDocument): Y.Doc {
    this.wholeDocument = null
    // A guid of our own spares Yjs generating a random one per room.
    const doc = new Y.Doc({ guid: this.name })
    try {
      applyStoredDocument(doc, stored, this.name)
    } catch (err) {
      doc.destroy()
      throw err
    }
    doc.on('afterTransaction', (transaction: Y.Transaction) => { this.lastTransaction = transaction })
    this.logUpdates = stored.updates.length
    this.logBytes = stored.updates.reduce((sum, u) => sum + u.length, 0)
    this.storedBytes = this.logBytes + (stored.snapshot?.length ?? 0)
    return doc
  }

  private whenReady (work: () => void): void {
    if (this.held) this.held.push(work)
    else work()
  }

  private answerSyncStep1 (connection: RoomConnection, stateVector: Uint8Array): void {
    // A newcomer holds nothing: it gets the whole document, framed once until the next change.
    if (stateVector.length === 1 && stateVector[0] === 0) {
      this.wholeDocument ??= encodeSyncStep2(Y.encodeStateAsUpdate(this.ydoc))
      this.sendWhenDurable(this.wholeDocument, connection, null, true)
      return
    }
    let update: Uint8Array
    try {
      update = Y.encodeStateAsUpdate(this.ydoc, stateVector)
    } catch (err) {
      throw new ProtocolError('invalid-update', `bad state vector: ${(err as Error).message}`)
    }
    this.sendWhenDurable(encodeSyncStep2(update), connection, null, true)
  }

  private applyClientUpdate (connection: RoomConnection, update: Uint8Array, raw: Uint8Array | null): void {
    if (isEmptyUpdate(update)) return
    if (connection.readOnly) {
      // Up-to-date readers send the whole delete set back when they sync: that is no edit.
      if (changesDocument(this.ydoc, update)) connection.send(encodePermissionDenied('read-only access: your edits are not saved'))
      return
    }
    if (this.storedBytes + update.length > this.options.maxDocumentBytes) {
      throw new ProtocolError('too-large', `the document may not grow beyond ${this.options.maxDocumentBytes} bytes`)
    }
    // Refuses what Yjs would throw on after integrating part of it, without the cost of a rebuild.
    checkUpdate(update)
    const store = this.ydoc.store
    const pendingBefore = store.pendingStructs && { missing: new Map(store.pendingStructs.missing), update: store.pendingStructs.update }
    const pendingDsBefore = store.pendingDs
    this.lastTransaction = null
    try {
      Y.applyUpdate(this.ydoc, update, { kind: 'client', connection } satisfies UpdateOrigin)
    } catch (err) {
      this.rebuild()
      throw new ProtocolError('invalid-update', `update does not apply: ${(err as Error).message}`)
    }
    const transaction = this.lastTransaction as Y.Transaction | null
    this.lastTransaction = null
    const integrated = transaction !== null && changedDocument(transaction)
    // Yjs re-encodes what waits on every update, so compare contents: a client that reconnects
    // sends back what it holds waiting, and that must not be stored and relayed again.
    const pendingChanged = !sameBytes(store.pendingStructs?.update, pendingBefore?.update) || !sameBytes(store.pendingDs, pendingDsBefore)
    if (pendingChanged && pendingBytes(store) > this.options.maxPendingBytesPerRoom) {
      // Keep what integrated, forget what waits: it is neither stored nor relayed.
      store.pendingStructs = pendingBefore
      store.pendingDs = pendingDsBefore
      if (integrated) this.commit(connection, Y.encodeStateAsUpdate(this.ydoc, encodeStateVectorMap(transaction.beforeState)), null)
      throw new ProtocolError('policy', 'too many updates wait for missing dependencies')
    }
    if (integrated || pendingChanged) this.commit(connection, update, raw)
  }

  /** Appends `update` and queues it for the others (and a saved confirmation for its author) behind the append. */
  private commit (connection: RoomConnection, update: Uint8Array, raw: Uint8Array | null): void {
    this.wholeDocument = null
    const seq = ++this.appendedSeq
    this.logUpdates++
    this.logBytes += update.length
    this.storedBytes += update.length
    this.lastWrite = this.store.append(this.name, update).then(() => this.markDurable(seq), (err) => this.fail(err))
    this.sendWhenDurable(raw ?? encodeUpdate(update), null, connection)
  }

  /** Counts one handled document message of `connection` and, if it wants them, confirms it behind every write made so far. */
  private confirmHandled (connection: RoomConnection): void {
    if (!connection.wantsSaved) return
    const handled = (this.handled.get(connection) ?? 0) + 1
    this.handled.set(connection, handled)
    this.sendWhenDurable(encodeSaved(Y.encodeStateVector(this.ydoc), handled), connection, null)
  }

  private applyAwareness (connection: RoomConnection, update: Uint8Array, raw: Uint8Array): void {
    const entries = decodeAwarenessUpdate(update)
    const accepted: AwarenessEntry[] = []
    let rewritten = false
    for (const entry of entries) {
      const current = this.presence.get(entry.clientId)
      if (current && current.owner !== connection) continue
      // The stock client passes on every removal it hears. Removing someone who is not
      // here changes nothing, and must not claim their id: their own state, when they
      // come back, would be ignored, and the echoes would count against this connection's limit.
      if (!current && entry.state === null) continue
      if (!current && entry.clock <= (this.departed.get(entry.clientId) ?? -1)) continue
      const state = entry.state === null ? null : presentableState(entry.state, entry.value, connection.displayName)
      if (current) {
        const newer = current.clock < entry.clock || (current.clock === entry.clock && entry.state === null && current.state !== null)
        if (!newer) continue
        current.clock = entry.clock
        current.state = state
      } else {
        if (this.ownedClientCount(connection) >= this.options.maxAwarenessClientsPerConnection) {
          throw new ProtocolError('policy', `a connection may present at most ${this.options.maxAwarenessClientsPerConnection} awareness client ids`)
        }
        this.presence.set(entry.clientId, { clock: entry.clock, state, owner: connection })
      }
      if (state !== entry.state) rewritten = true
      accepted.push({ clientId: entry.clientId, clock: entry.clock, state })
    }
    if (accepted.length === 0) return
    const frame = accepted.length === entries.length && !rewritten ? raw : encodeAwareness(encodeAwarenessUpdate(accepted))
    // The sender gets its own presence back too: the stock client takes 30 s without
    // any message for a dead connection, and its presence renewal every 15 s is what
    // keeps a lone editor's connection alive.
    this.broadcast(frame, null)
  }

  private ownedClientCount (connection: RoomConnection): number {
    let count = 0
    for (const entry of this.presence.values()) if (entry.owner === connection) count++
    return count
  }

  private presentEntries (): AwarenessEntry[] {
    const entries: AwarenessEntry[] = []
    for (const [clientId, entry] of this.presence) {
      if (entry.state !== null) entries.push({ clientId, clock: entry.clock, state: entry.state })
    }
    return entries
  }

  private sendWhenDurable (frame: Uint8Array, to: RoomConnection | null, except: RoomConnection | null, syncAnswer = false): void {
    if (this.durableSeq === this.appendedSeq && this.outbox.length === 0) {
      this.deliver(frame, to, except, syncAnswer)
    } else {
      this.outbox.push({ afterSeq: this.appendedSeq, frame, syncAnswer, to, except })
    }
  }

  private markDurable (seq: number): void {
    this.durableSeq = seq
    let sent = 0
    while (sent < this.outbox.length && this.outbox[sent].afterSeq <= seq) {
      const item = this.outbox[sent++]
      this.deliver(item.frame, item.to, item.except, item.syncAnswer)
    }
    this.outbox.splice(0, sent)
    if (this.logUpdates >= this.options.compactAfterUpdates || this.logBytes >= this.options.compactAfterBytes) {
      void this.compact()
    }
  }

  private deliver (frame: Uint8Array, to: RoomConnection | null, except: RoomConnection | null, syncAnswer: boolean): void {
    if (to) {
      if (!this.connections.has(to)) return
      if (syncAnswer) to.sendSyncAnswer(frame)
      else to.send(frame)
    } else {
      this.broadcast(frame, except)
    }
  }

  private broadcast (frame: Uint8Array, except: RoomConnection | null): void {
    for (const connection of this.connections) {
      if (connection !== except) connection.send(frame)
    }
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
      const held = this.held ?? []
      this.held = null
      for (const work of held) work()
    }
    restore().catch((err) => this.fail(err))
  }

  private fail (err: unknown): void {
    if (this.failed) return
    this.failed = true
    this.held = null
    this.options.logger.error('room.failed', { room: this.name, error: err as Error })
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

/** Whether a transaction added structs or deleted anything. */
function changedDocument (transaction: Y.Transaction): boolean {
  if (transaction.deleteSet.clients.size > 0) return true
  for (const [client, clock] of transaction.afterState) {
    if (transaction.beforeState.get(client) !== clock) return true
  }
  return false
}

/** Whether two optional byte arrays hold the same bytes. */
function sameBytes (a: Uint8Array | null | undefined, b: Uint8Array | null | undefined): boolean {
  if (a === b) return true
  if (!a || !b || a.length !== b.length) return false
  return Buffer.compare(a, b) === 0
}

/** Bytes of updates the document holds while their dependencies are missing. */
function pendingBytes (store: Y.Doc['store']): number {
  return (store.pendingStructs?.update.length ?? 0) + (store.pendingDs?.length ?? 0)
}

/** Encodes a state vector held as a Map, in the format `Y.encodeStateVector` produces. */
function encodeStateVectorMap (stateVector: Map<number, number>): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, stateVector.size)
  for (const [client, clock] of stateVector) {
    encoding.writeVarUint(encoder, client)
    encoding.writeVarUint(encoder, clock)
  }
  return encoding.toUint8Array(encoder)
}

/** Colours as y-codemirror.next writes them into cursor styles: `#rgb`, `#rrggbb` or with alpha. */
const cssColor = /^#[0-9a-fA-F]{3,8}$/

/**
 * The awareness state others may see: `user.name` set to `displayName` when
 * a token fixes it, and `user.color` / `user.colorLight` dropped unless they
 * are plain hex colours, since editors put them into style attributes.
 * Returns `json` itself when nothing changes.
 */
function presentableState (json: string, value: unknown, displayName: string | null): string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return json
  const record = value as Record<string, unknown>
  const user = record.user
  if (typeof user !== 'object' || user === null || Array.isArray(user)) {
    return displayName === null ? json : JSON.stringify({ ...record, user: { name: displayName } })
  }
  const fields = user as Record<string, unknown>
  const badColor = (key: string): boolean => key in fields && !(typeof fields[key] === 'string' && cssColor.test(fields[key] as string))
  const rename = displayName !== null && fields.name !== displayName
  if (!rename && !badColor('color') && !badColor('colorLight')) return json
  const cleaned: Record<string, unknown> = { ...fields }
  if (badColor('color')) delete cleaned.color
  if (badColor('colorLight')) delete cleaned.colorLight
  if (displayName !== null) cleaned.name = displayName
  return JSON.stringify({ ...record, user: cleaned })
}
