/**
 * What a benchmark peer puts on the wire: y-websocket messages (the numbers
 * of y-protocols), and the marker each edit carries inside its inserted
 * text so that a receiver can tell, from the raw update bytes alone, who
 * sent the edit and when.
 */
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'

/** Outer type of a Yjs sync message. */
export const messageSync = 0
/** Outer type of an awareness message. */
export const messageAwareness = 1
/** Sync sub-types. */
export const syncStep1 = 0
export const syncStep2 = 1
export const syncUpdate = 2

/** Encodes a sync message of `subtype` around `payload` (a state vector or an update). */
export function encodeSync (subtype: number, payload: Uint8Array): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, messageSync)
  encoding.writeVarUint(encoder, subtype)
  encoding.writeVarUint8Array(encoder, payload)
  return encoding.toUint8Array(encoder)
}

/** Encodes an awareness message carrying one client's state (y-protocols' awareness update format). */
export function encodeAwareness (clientId: number, clock: number, state: unknown): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, messageAwareness)
  const update = encoding.createEncoder()
  encoding.writeVarUint(update, 1)
  encoding.writeVarUint(update, clientId)
  encoding.writeVarUint(update, clock)
  encoding.writeVarString(update, JSON.stringify(state))
  encoding.writeVarUint8Array(encoder, encoding.toUint8Array(update))
  return encoding.toUint8Array(encoder)
}

/** A sync message as received: its sub-type and payload (a view into the input). */
export interface SyncMessage {
  readonly subtype: number
  readonly payload: Uint8Array
}

/** Decodes a sync message; null for any other outer type. */
export function decodeSync (bytes: Uint8Array): SyncMessage | null {
  const decoder = decoding.createDecoder(bytes)
  if (decoding.readVarUint(decoder) !== messageSync) return null
  const subtype = decoding.readVarUint(decoder)
  return { subtype, payload: decoding.readVarUint8Array(decoder) }
}

/** Microseconds on the monotonic clock, shared by every thread of the process. */
export function nowUs (): number {
  return Number(process.hrtime.bigint() / 1000n)
}

/**
 * The text an edit inserts: `<peer.seq.sentUs>` with the numbers in base 36,
 * about 20 ASCII characters, which Yjs carries verbatim in the update.
 */
export function markerText (peer: number, seq: number, sentUs: number): string {
  return `<${peer.toString(36)}.${seq.toString(36)}.${sentUs.toString(36)}>`
}

/**
 * Calls `visit` for every marker found in `bytes`. Anything that does not
 * parse as a whole marker (other update bytes that happen to be `<`) is skipped.
 */
export function scanMarkers (bytes: Uint8Array, visit: (peer: number, seq: number, sentUs: number) => void): void {
  const open = 0x3c
  let at = bytes.indexOf(open)
  while (at !== -1) {
    const parsed = parseMarker(bytes, at + 1)
    if (parsed) visit(parsed[0], parsed[1], parsed[2])
    at = bytes.indexOf(open, at + 1)
  }
}

const dot = 0x2e
const close = 0x3e

function parseMarker (bytes: Uint8Array, start: number): [number, number, number] | null {
  const numbers: number[] = []
  let value = 0
  let digits = 0
  for (let i = start; i < bytes.length && i < start + 40; i++) {
    const b = bytes[i]
    const digit = b >= 0x30 && b <= 0x39 ? b - 0x30 : b >= 0x61 && b <= 0x7a ? b - 0x61 + 10 : -1
    if (digit >= 0) {
      value = value * 36 + digit
      digits++
      continue
    }
    if (digits === 0) return null
    if (b === dot && numbers.length < 2) {
      numbers.push(value)
    } else if (b === close && numbers.length === 2) {
      return [numbers[0], numbers[1], value]
    } else {
      return null
    }
    value = 0
    digits = 0
  }
  return null
}
