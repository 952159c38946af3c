/**
 * The answer to a client's sync step 1, as the messages that carry it, and
 * the queue that sends one connection its answers a message at a time as
 * the client reads them. No I/O of its own: the connection does the sending.
 */
import { encodeSyncProgress, encodeSyncStep2, encodeUpdate } from '../protocol/messages.js'
import { splitUpdate } from '../protocol/sync-pieces.js'

/** A sync answer, ready to send; shared by every connection it answers. */
export interface SyncAnswer {
  /**
   * The messages, in order: one sync step 2 when the update fits in a
   * piece; else sync updates of at most a piece each, the last piece in a
   * sync step 2 (which is what marks a stock client synced).
   */
  readonly frames: readonly Uint8Array[]
  /** The progress notice for clients that asked for one; null for a one-message answer. */
  readonly progress: Uint8Array | null
  /** Bytes of `frames` together. */
  readonly bytes: number
}

/**
 * The messages answering with `update` (a V1 update), in pieces of at most
 * `maxPieceBytes` update bytes (see `splitUpdate`). Throws when `update`
 * cannot be decoded.
 */
export function syncAnswer (update: Uint8Array, maxPieceBytes: number): SyncAnswer {
  const pieces = splitUpdate(update, maxPieceBytes)
  const last = pieces.length - 1
  const frames = pieces.map((piece, i) => i === last ? encodeSyncStep2(piece) : encodeUpdate(piece))
  const bytes = frames.reduce((sum, frame) => sum + frame.length, 0)
  if (frames.length === 1) return { frames, progress: null, bytes }
  return { frames, progress: encodeSyncProgress({ messages: frames.length, bytes }), bytes }
}

/** Sends one frame and calls `sent` once it has left the process. */
export type SendAnswerFrame = (frame: Uint8Array, sent: () => void) => void

/**
 * The sync answer frames on their way to one connection: the next goes out
 * when the one before has left the process, so a slow reader makes the
 * relay hold at most one frame of its answer in the socket's buffer; the
 * rest stay shared in the answer they came from.
 */
export class AnswerQueue {
  private readonly waiting: Uint8Array[] = []
  private next = 0
  private sending = false
  private owed = 0

  constructor (private readonly send: SendAnswerFrame) {}

  /**
   * Bytes of answers promised (`promise`) and not yet handed to the
   * connection: queued here, or still to be queued.
   */
  get pendingBytes (): number {
    return this.owed
  }

  /** Counts `bytes` of frames that will be pushed, toward `pendingBytes`. */
  promise (bytes: number): void {
    this.owed += bytes
  }

  /** Queues `frame` behind the ones queued before it. */
  push (frame: Uint8Array): void {
    this.waiting.push(frame)
    this.pump()
  }

  private pump (): void {
    if (this.sending || this.next >= this.waiting.length) return
    const frame = this.waiting[this.next++]
    this.owed = Math.max(0, this.owed - frame.length)
    if (this.next === this.waiting.length) {
      this.waiting.length = 0
      this.next = 0
    }
    this.sending = true
    this.send(frame, () => {
      this.sending = false
      this.pump()
    })
  }
}
