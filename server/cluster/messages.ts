/**
 * The bytes processes exchange over the bus, as pure encode/decode functions
 * over lib0. Every message is: a version byte (`clusterFormatVersion`), a
 * varUint kind, the sender's process id as a varString, then the kind's
 * fields. Document channels carry `ClusterMessage`s; the heartbeat channel
 * carries `Heartbeat`s.
 */
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import type { ClusterMessage } from './bus.js'

/** The first byte of every message; a process drops messages of other versions. */
export const clusterFormatVersion = 1

/** Longest process id a message may carry, in UTF-16 code units. */
export const maxProcessIdLength = 100

const kindUpdate = 0
const kindAwareness = 1
const kindAwarenessQuery = 2
const kindHeartbeat = 3
const kindDeleted = 4

/** The kind number of each document message. */
const documentKinds: Record<ClusterMessage['kind'], number> = {
  update: kindUpdate,
  awareness: kindAwareness,
  'awareness-query': kindAwarenessQuery,
  deleted: kindDeleted
}

/**
 * A process's sign of life on the heartbeat channel. `droppedPublishes`
 * counts the messages it failed to publish since it started; when it grows,
 * the others may have missed messages and must catch up from the store.
 */
export interface Heartbeat {
  readonly from: string
  readonly droppedPublishes: number
}

/** Bytes that are not a message of this format; `message` says why. */
export class MalformedClusterMessageError extends Error {
  override readonly name = 'MalformedClusterMessageError'
}

/**
 * Encodes a document message. Throws a `RangeError` for a `from` that is
 * empty or longer than `maxProcessIdLength`, or a `seq` that is not a
 * non-negative safe integer (those are bugs of the caller, never sent).
 */
export function encodeClusterMessage (message: ClusterMessage): Uint8Array {
  const encoder = header(documentKinds[message.kind], message.from)
  switch (message.kind) {
    case 'update':
      if (!Number.isSafeInteger(message.seq) || message.seq < 0) throw new RangeError(`seq ${message.seq} is not a non-negative safe integer`)
      encoding.writeVarUint(encoder, message.seq)
      encoding.writeVarUint8Array(encoder, message.update)
      break
    case 'awareness':
      encoding.writeVarUint8Array(encoder, message.update)
      break
    case 'awareness-query':
    case 'deleted':
      break
  }
  return encoding.toUint8Array(encoder)
}

/**
 * Decodes a document message. Byte fields are views into `bytes`. Throws a
 * `MalformedClusterMessageError` for another version, an unknown kind (a
 * heartbeat included), a bad process id, truncated input or trailing bytes;
 * never returns a partial message.
 */
export function decodeClusterMessage (bytes: Uint8Array): ClusterMessage {
  return decodeWhole(bytes, (decoder) => {
    const { kind, from } = readHeader(decoder)
    switch (kind) {
      case kindUpdate: {
        const seq = decoding.readVarUint(decoder)
        return { kind: 'update', from, seq, update: decoding.readVarUint8Array(decoder) }
      }
      case kindAwareness:
        return { kind: 'awareness', from, update: decoding.readVarUint8Array(decoder) }
      case kindAwarenessQuery:
        return { kind: 'awareness-query', from }
      case kindDeleted:
        return { kind: 'deleted', from }
      default:
        throw new MalformedClusterMessageError(`kind ${kind} is not a document message`)
    }
  })
}

/** Encodes a heartbeat; throws a `RangeError` for a bad `from` or count, as `encodeClusterMessage`. */
export function encodeHeartbeat (heartbeat: Heartbeat): Uint8Array {
  if (!Number.isSafeInteger(heartbeat.droppedPublishes) || heartbeat.droppedPublishes < 0) {
    throw new RangeError(`droppedPublishes ${heartbeat.droppedPublishes} is not a non-negative safe integer`)
  }
  const encoder = header(kindHeartbeat, heartbeat.from)
  encoding.writeVarUint(encoder, heartbeat.droppedPublishes)
  return encoding.toUint8Array(encoder)
}

/** Decodes a heartbeat; throws a `MalformedClusterMessageError` for anything else, as `decodeClusterMessage`. */
export function decodeHeartbeat (bytes: Uint8Array): Heartbeat {
  return decodeWhole(bytes, (decoder) => {
    const { kind, from } = readHeader(decoder)
    if (kind !== kindHeartbeat) throw new MalformedClusterMessageError(`kind ${kind} is not a heartbeat`)
    return { from, droppedPublishes: decoding.readVarUint(decoder) }
  })
}

function header (kind: number, from: string): encoding.Encoder {
  if (from.length === 0 || from.length > maxProcessIdLength) throw new RangeError(`process id must be 1 to ${maxProcessIdLength} characters`)
  const encoder = encoding.createEncoder()
  encoding.writeUint8(encoder, clusterFormatVersion)
  encoding.writeVarUint(encoder, kind)
  encoding.writeVarString(encoder, from)
  return encoder
}

function readHeader (decoder: decoding.Decoder): { kind: number, from: string } {
  if (!decoding.hasContent(decoder)) throw new MalformedClusterMessageError('empty')
  const version = decoding.readUint8(decoder)
  if (version !== clusterFormatVersion) throw new MalformedClusterMessageError(`version ${version} is not ${clusterFormatVersion}`)
  const kind = decoding.readVarUint(decoder)
  const from = decoding.readVarString(decoder)
  if (from.length === 0 || from.length > maxProcessIdLength) throw new MalformedClusterMessageError(`process id of ${from.length} characters`)
  return { kind, from }
}

/** Runs `read` over all of `bytes`, turning lib0's errors and leftovers into `MalformedClusterMessageError`. */
function decodeWhole<T> (bytes: Uint8Array, read: (decoder: decoding.Decoder) => T): T {
  const decoder = decoding.createDecoder(bytes)
  let result: T
  try {
    result = read(decoder)
  } catch (err) {
    if (err instanceof MalformedClusterMessageError) throw err
    throw new MalformedClusterMessageError(`unreadable: ${(err as Error).message}`)
  }
  if (decoding.hasContent(decoder)) throw new MalformedClusterMessageError(`${bytes.length - decoder.pos} trailing bytes`)
  return result
}
