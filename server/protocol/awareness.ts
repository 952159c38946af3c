/**
 * Awareness updates (y-protocols/awareness wire format) as plain data.
 *
 * The server relays presence as the JSON text the client sent, so an
 * unchanged state goes out byte for byte; the parsed value comes along for
 * checks.
 */
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import { parseFailure, ProtocolError } from './errors.js'

/** One client's presence as carried in an awareness update. */
export interface AwarenessEntry {
  readonly clientId: number
  readonly clock: number
  /** The state as JSON text; `null` means the client left. */
  readonly state: string | null
  /** The state parsed, as decoded (absent on entries built for encoding). */
  readonly value?: unknown
}

/**
 * Decodes an awareness update. Throws a `ProtocolError` ('invalid-update')
 * for truncated input, trailing bytes or a state that is not JSON.
 */
export function decodeAwarenessUpdate (update: Uint8Array): AwarenessEntry[] {
  const decoder = decoding.createDecoder(update)
  const entries: AwarenessEntry[] = []
  try {
    const count = decoding.readVarUint(decoder)
    if (count > update.length) throw new Error('entry count exceeds the message')
    for (let i = 0; i < count; i++) {
      const clientId = decoding.readVarUint(decoder)
      const clock = decoding.readVarUint(decoder)
      const json = decoding.readVarString(decoder)
      if (clientId > 0xffffffff || clock > Number.MAX_SAFE_INTEGER) throw new Error('number out of range')
      const value = parseState(json)
      entries.push({ clientId, clock, state: value === null ? null : json, value })
    }
  } catch (err) {
    if (err instanceof ProtocolError) throw err
    throw new ProtocolError('invalid-update', `bad awareness update: ${parseFailure(err)}`)
  }
  if (decoding.hasContent(decoder)) throw new ProtocolError('invalid-update', 'trailing bytes after awareness update')
  return entries
}

function parseState (json: string): unknown {
  try {
    return JSON.parse(json) as unknown
  } catch {
    throw new ProtocolError('invalid-update', 'awareness state is not JSON')
  }
}

/** Encodes entries as an awareness update that y-protocols' `applyAwarenessUpdate` reads. */
export function encodeAwarenessUpdate (entries: Iterable<AwarenessEntry>): Uint8Array {
  const list = Array.from(entries)
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, list.length)
  for (const entry of list) {
    encoding.writeVarUint(encoder, entry.clientId)
    encoding.writeVarUint(encoder, entry.clock)
    encoding.writeVarString(encoder, entry.state ?? 'null')
  }
  return encoding.toUint8Array(encoder)
}
