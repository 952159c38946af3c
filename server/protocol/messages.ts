/**
 * The y-websocket wire protocol as pure encode/decode functions.
 *
 * Every message starts with a varUint outer type. The numbers are those of
 * y-protocols and the stock `y-websocket` client; `messageSaved` is coedit's
 * own, sent only to connections that ask for it (see `savedQueryParam`), and
 * so is `messageSyncProgress` (see `progressQueryParam`).
 */
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import { ProtocolError } from './errors.js'

/** Outer type: a Yjs sync message (step 1, step 2 or update). */
export const messageSync = 0
/** Outer type: an awareness (presence) update. */
export const messageAwareness = 1
/** Outer type: an auth message; the server only ever sends "permission denied". */
export const messageAuth = 2
/** Outer type: a request for every current awareness state. */
export const messageQueryAwareness = 3
/**
 * Outer type: the server's confirmation that edits are durable: a Yjs state
 * vector covering every stored update, then how many of the connection's
 * document messages are handled and durable (see `encodeSaved`). Sent only to
 * connections that opted in with `?saved=1`, since the stock client logs an
 * error for unknown types.
 */
export const messageSaved = 100

/**
 * Outer type: a client's heartbeat ping, a single byte. The relay answers it
 * with `messagePong` at once, even while the document loads. Sending pings is
 * the opt-in: the stock client never sends one, so it never receives a pong.
 * Pings count against the connection's message and byte budgets like any
 * other message.
 */
export const messagePing = 102

/** Outer type: the relay's answer to `messagePing`, a single byte. */
export const messagePong = 103

/** Whether `bytes` is a heartbeat ping: exactly the one byte `messagePing`. */
export function isPing (bytes: Uint8Array): boolean {
  return bytes.length === 1 && bytes[0] === messagePing
}

/** The pong frame: the one byte `messagePong`. */
export function encodePong (): Uint8Array {
  return Uint8Array.of(messagePong)
}

/** Query parameter by which a client opts in to `messageSaved`. */
export const savedQueryParam = 'saved'

/**
 * Outer type: the server's notice that the answer to the client's sync
 * step 1 comes in several messages: how many, and how many bytes they take
 * together (each whole message counted, as the client receives it). Sent
 * right before them, only to connections that opted in with `?progress=1`.
 */
export const messageSyncProgress = 101

/** Query parameter by which a client opts in to `messageSyncProgress`. */
export const progressQueryParam = 'progress'

/** Sync sub-type: the sender's state vector, asking for what it lacks. */
export const syncStep1 = 0
/** Sync sub-type: an update answering a step 1. */
export const syncStep2 = 1
/** Sync sub-type: an incremental update. */
export const syncUpdate = 2

/** Auth sub-type: the connection may not write (or may not access) the document. */
export const authPermissionDenied = 0

/** A message a client may send, decoded. Byte fields are views into the input. */
export type ClientMessage =
  | { readonly type: 'sync-step-1'; readonly stateVector: Uint8Array }
  | { readonly type: 'sync-step-2'; readonly update: Uint8Array }
  | { readonly type: 'update'; readonly update: Uint8Array }
  | { readonly type: 'awareness'; readonly update: Uint8Array }
  | { readonly type: 'query-awareness' }

/**
 * Decodes one client message. Never returns a partial result: truncated
 * input, trailing bytes, unknown types and messages a client must not send
 * (auth) throw a `ProtocolError` whose `code` says which.
 */
export function decodeClientMessage (bytes: Uint8Array): ClientMessage {
  const decoder = decoding.createDecoder(bytes)
  const message = readClientMessage(decoder, bytes)
  if (decoding.hasContent(decoder)) {
    throw new ProtocolError('malformed', `${bytes.length - decoder.pos} trailing bytes after message`)
  }
  return message
}

function readClientMessage (decoder: decoding.Decoder, bytes: Uint8Array): ClientMessage {
  if (bytes.length === 0) throw new ProtocolError('malformed', 'empty message')
  const type = readUint(decoder)
  switch (type) {
    case messageSync: {
      const subtype = readUint(decoder)
      const payload = readBytes(decoder)
      switch (subtype) {
        case syncStep1: return { type: 'sync-step-1', stateVector: payload }
        case syncStep2: return { type: 'sync-step-2', update: payload }
        case syncUpdate: return { type: 'update', update: payload }
        default: throw new ProtocolError('unknown-type', `unknown sync message type ${subtype}`)
      }
    }
    case messageAwareness:
      return { type: 'awareness', update: readBytes(decoder) }
    case messageQueryAwareness:
      return { type: 'query-awareness' }
    case messageAuth:
      throw new ProtocolError('unexpected', 'auth messages are sent by the server only')
    default:
      throw new ProtocolError('unknown-type', `unknown message type ${type}`)
  }
}

/** Largest integer a varUint may carry here; lib0 itself goes beyond 2^53 silently. */
const maxVarUint = 0xffffffff

function readUint (decoder: decoding.Decoder): number {
  if (!decoding.hasContent(decoder)) throw new ProtocolError('malformed', 'message ends early')
  let value: number
  try {
    value = decoding.readVarUint(decoder)
  } catch {
    throw new ProtocolError('malformed', 'message ends inside a number')
  }
  if (value > maxVarUint) throw new ProtocolError('malformed', 'number out of range')
  return value
}

function readBytes (decoder: decoding.Decoder): Uint8Array {
  const length = readUint(decoder)
  if (length > decoder.arr.length - decoder.pos) {
    throw new ProtocolError('malformed', `declared length ${length} exceeds the message`)
  }
  return decoding.readUint8Array(decoder, length)
}

function frame (type: number, write: (encoder: encoding.Encoder) => void): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, type)
  write(encoder)
  return encoding.toUint8Array(encoder)
}

/** Encodes sync step 1: "here is my state vector, send me what I lack". */
export function encodeSyncStep1 (stateVector: Uint8Array): Uint8Array {
  return frame(messageSync, (e) => { encoding.writeVarUint(e, syncStep1); encoding.writeVarUint8Array(e, stateVector) })
}

/** Encodes sync step 2: the update answering a step 1. */
export function encodeSyncStep2 (update: Uint8Array): Uint8Array {
  return frame(messageSync, (e) => { encoding.writeVarUint(e, syncStep2); encoding.writeVarUint8Array(e, update) })
}

/** Encodes an incremental document update. */
export function encodeUpdate (update: Uint8Array): Uint8Array {
  return frame(messageSync, (e) => { encoding.writeVarUint(e, syncUpdate); encoding.writeVarUint8Array(e, update) })
}

/** Encodes an awareness message around an encoded awareness update. */
export function encodeAwareness (awarenessUpdate: Uint8Array): Uint8Array {
  return frame(messageAwareness, (e) => encoding.writeVarUint8Array(e, awarenessUpdate))
}

/** Encodes a query-awareness request. */
export function encodeQueryAwareness (): Uint8Array {
  return frame(messageQueryAwareness, () => {})
}

/** Encodes "permission denied" with a human-readable reason, as y-protocols/auth reads it. */
export function encodePermissionDenied (reason: string): Uint8Array {
  return frame(messageAuth, (e) => { encoding.writeVarUint(e, authPermissionDenied); encoding.writeVarString(e, reason) })
}

/**
 * Encodes a saved confirmation: every update covered by `stateVector` is
 * durable, and so is everything of the first `handled` document messages
 * (sync step 2 and update) the receiving connection sent — whether or not
 * they changed the document, deletions included.
 */
export function encodeSaved (stateVector: Uint8Array, handled: number): Uint8Array {
  return frame(messageSaved, (e) => {
    encoding.writeVarUint8Array(e, stateVector)
    encoding.writeVarUint(e, handled)
  })
}

/** A decoded saved confirmation; see `encodeSaved`. */
export interface SavedConfirmation {
  readonly stateVector: Uint8Array
  readonly handled: number
}

/**
 * Decodes a saved confirmation (`messageSaved`); throws a `ProtocolError`
 * for anything else.
 */
export function decodeSaved (bytes: Uint8Array): SavedConfirmation {
  const decoder = decoding.createDecoder(bytes)
  if (readUint(decoder) !== messageSaved) throw new ProtocolError('unknown-type', 'not a saved message')
  const stateVector = readBytes(decoder)
  const handled = readUint(decoder)
  if (decoding.hasContent(decoder)) throw new ProtocolError('malformed', 'trailing bytes after message')
  return { stateVector, handled }
}

/** A decoded sync progress notice; see `messageSyncProgress`. */
export interface SyncProgress {
  /** Messages the sync answer takes: sync updates, then a final sync step 2. */
  readonly messages: number
  /** Bytes of those messages together. */
  readonly bytes: number
}

/** Encodes a sync progress notice (`messageSyncProgress`). */
export function encodeSyncProgress (progress: SyncProgress): Uint8Array {
  return frame(messageSyncProgress, (e) => {
    encoding.writeVarUint(e, progress.messages)
    encoding.writeVarUint(e, progress.bytes)
  })
}

/** Decodes a sync progress notice; throws a `ProtocolError` for anything else. */
export function decodeSyncProgress (bytes: Uint8Array): SyncProgress {
  const decoder = decoding.createDecoder(bytes)
  if (readUint(decoder) !== messageSyncProgress) throw new ProtocolError('unknown-type', 'not a sync progress message')
  const messages = readUint(decoder)
  const total = readUint(decoder)
  if (decoding.hasContent(decoder)) throw new ProtocolError('malformed', 'trailing bytes after message')
  return { messages, bytes: total }
}
