/**
 * Server-to-client WebSocket framing (RFC 6455 §5.2), so that a message
 * sent to many sockets is framed once and written as the same bytes to each.
 */

/** Frames `payload` as one final, unmasked binary message: header and payload in one buffer. */
export function frameBinary (payload: Uint8Array): Buffer {
  const length = payload.length
  const headerLength = length < 126 ? 2 : length < 65536 ? 4 : 10
  const frame = Buffer.allocUnsafe(headerLength + length)
  frame[0] = 0x82 // FIN + opcode 2 (binary)
  if (length < 126) {
    frame[1] = length
  } else if (length < 65536) {
    frame[1] = 126
    frame.writeUInt16BE(length, 2)
  } else {
    frame[1] = 127
    frame.writeBigUInt64BE(BigInt(length), 2)
  }
  frame.set(payload, headerLength)
  return frame
}

/**
 * Remembers the framing of the last payload framed. A broadcast hands the
 * same payload object to every connection in turn, so all but the first
 * reuse the frame.
 */
export class FrameCache {
  private payload: Uint8Array | null = null
  private framed: Buffer | null = null

  /** The frame of `payload`, built at most once for consecutive calls with the same object. */
  frame (payload: Uint8Array): Buffer {
    if (payload !== this.payload) {
      this.framed = frameBinary(payload)
      this.payload = payload
    }
    return this.framed as Buffer
  }
}
