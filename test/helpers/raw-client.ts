/**
 * A y-websocket protocol client without a provider, built on y-protocols and
 * lib0: it connects only when told (no reconnect of its own) and records
 * everything the server revealed of the document — every update it
 * received, the state vector of every sync step 1 the server sent, and
 * every `messageSaved` confirmation. Durability tests hold the restarted
 * server to all of it.
 */
import WebSocket from 'ws'
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import * as syncProtocol from 'y-protocols/sync'

/** Outer message types of the y-websocket protocol, and coedit's `messageSaved`. */
const messageSync = 0
const messageSaved = 100

/** What the client learnt from the server. */
export interface Revealed {
  /** Update payloads of sync step 2 and update messages, in arrival order. */
  readonly updates: Uint8Array[]
  /** State vectors the server claimed to hold: its sync step 1 and every saved confirmation. */
  readonly stateVectors: Uint8Array[]
  /** How many of `stateVectors` came from saved confirmations. */
  savedCount: number
}

/** A connection-controlled client of one room. */
export class RawClient {
  readonly doc = new Y.Doc()
  private socket: WebSocket | null = null
  private revealed: Revealed = { updates: [], stateVectors: [], savedCount: 0 }
  private synced = false
  /** Close codes of this client's sockets, oldest first. */
  readonly closeCodes: number[] = []
  /** Called after every message from the server has been recorded. */
  onMessage: () => void = () => {}

  constructor () {
    this.doc.on('update', (update: Uint8Array, origin: unknown) => {
      if (origin !== this) this.send((e) => syncProtocol.writeUpdate(e, update))
    })
  }

  /** Whether a socket is open. */
  get connected (): boolean {
    return this.socket?.readyState === WebSocket.OPEN
  }

  /**
   * Connects to `room` at `baseUrl` (`http://…` or `ws://…`), with
   * `?saved=1` when `saved`. Resolves once the server's sync step 2 has
   * been applied. Local changes are sent while the socket is open; those
   * made offline go up in the answer to the server's sync step 1. Rejects
   * if the socket closes first.
   */
  async connect (baseUrl: string, room: string, saved = false): Promise<void> {
    const url = `${baseUrl.replace(/^http/, 'ws')}/${encodeURIComponent(room)}${saved ? '?saved=1' : ''}`
    const socket = new WebSocket(url)
    this.socket = socket
    this.synced = false
    socket.binaryType = 'nodebuffer'
    socket.on('error', () => {}) // a refused or reset connection shows as 'close'
    await new Promise<void>((resolve, reject) => {
      socket.on('open', () => this.send((e) => syncProtocol.writeSyncStep1(e, this.doc)))
      socket.on('message', (data: Buffer) => {
        this.receive(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
        if (this.synced) resolve()
        this.onMessage()
      })
      socket.on('close', (code) => {
        this.closeCodes.push(code)
        if (this.socket === socket) this.socket = null
        this.synced = false
        reject(new Error(`socket closed with ${code} before sync`))
      })
    })
  }

  /** Resolves with the close code once the socket is closed (at once if none is open). */
  closed (): Promise<number> {
    const socket = this.socket
    if (!socket || socket.readyState === WebSocket.CLOSED) return Promise.resolve(1006)
    return new Promise((resolve) => socket.once('close', (code) => resolve(code)))
  }

  /** Drops the connection without a close handshake. */
  terminate (): void {
    this.socket?.terminate()
    this.socket = null
    this.synced = false
  }

  /** Hands over what the server revealed since the last call, and starts a new record. */
  takeRevealed (): Revealed {
    const revealed = this.revealed
    this.revealed = { updates: [], stateVectors: [], savedCount: 0 }
    return revealed
  }

  /** Terminates the connection and frees the document. */
  destroy (): void {
    this.terminate()
    this.doc.destroy()
  }

  private send (write: (encoder: encoding.Encoder) => void): void {
    if (!this.connected) return
    const encoder = encoding.createEncoder()
    encoding.writeVarUint(encoder, messageSync)
    write(encoder)
    this.socket!.send(encoding.toUint8Array(encoder))
  }

  private receive (message: Uint8Array): void {
    const decoder = decoding.createDecoder(message)
    const type = decoding.readVarUint(decoder)
    if (type === messageSaved) {
      this.revealed.stateVectors.push(decoding.readVarUint8Array(decoder))
      this.revealed.savedCount++
      return
    }
    if (type !== messageSync) return // presence is not document state
    const subtype = decoding.readVarUint(decoder)
    const payload = decoding.readVarUint8Array(decoder)
    switch (subtype) {
      case syncProtocol.messageYjsSyncStep1:
        this.revealed.stateVectors.push(payload)
        this.send((e) => syncProtocol.writeSyncStep2(e, this.doc, payload))
        break
      case syncProtocol.messageYjsSyncStep2:
        this.revealed.updates.push(payload)
        Y.applyUpdate(this.doc, payload, this)
        this.synced = true
        break
      case syncProtocol.messageYjsUpdate:
        this.revealed.updates.push(payload)
        Y.applyUpdate(this.doc, payload, this)
        break
    }
  }
}

/** Clocks per client id, as in a state vector. */
export type Clocks = Map<number, number>

/** For each client id, the highest clock among `vectors` (encoded state vectors). */
export function highestClocks (vectors: Iterable<Uint8Array>, into: Clocks = new Map()): Clocks {
  for (const vector of vectors) {
    for (const [client, clock] of Y.decodeStateVector(vector)) {
      if (clock > (into.get(client) ?? 0)) into.set(client, clock)
    }
  }
  return into
}

/**
 * What `doc` lacks of what the server revealed: `update` (everything
 * received, merged) and `claimed` (the highest clocks it said it held).
 * Returns one line per problem; an empty list means nothing is lost. Checks
 * clocks per client id (structs) and, by applying `update` to a copy of
 * `doc`, deletions too.
 */
export function missingFrom (doc: Y.Doc, update: Uint8Array, claimed: Clocks): string[] {
  const problems: string[] = []
  const held = Y.decodeStateVector(Y.encodeStateVector(doc))
  const check = (client: number, clock: number, what: string): void => {
    const have = held.get(client) ?? 0
    if (have < clock) problems.push(`client ${client}: ${what} up to clock ${clock}, the document holds ${have}`)
  }
  for (const [client, clock] of Y.parseUpdateMeta(update).to) check(client, clock, 'received')
  for (const [client, clock] of claimed) check(client, clock, 'claimed durable')
  const copy = new Y.Doc()
  Y.applyUpdate(copy, Y.encodeStateAsUpdate(doc))
  const pendingBefore = pendingBytes(copy)
  let changed = false
  copy.on('update', () => { changed = true })
  Y.applyUpdate(copy, update)
  if (changed) problems.push('applying what clients received changes the document (insertions or deletions are missing)')
  if (pendingBytes(copy) !== pendingBefore) problems.push('what clients received leaves updates waiting for content the document lacks')
  copy.destroy()
  return problems
}

/** The updates `doc` holds back for missing dependencies, as hex (empty when there are none). */
function pendingBytes (doc: Y.Doc): string {
  const { pendingStructs, pendingDs } = doc.store
  return Buffer.concat([pendingStructs?.update ?? new Uint8Array(), pendingDs ?? new Uint8Array()]).toString('hex')
}
