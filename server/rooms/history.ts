/**
 * Records versions of documents as they are edited: once a burst of
 * editing has been quiet for `quietMs`, at least every `everyMs` while it
 * goes on, before a room that changed unloads, and on request with a name.
 * A version is the room's document as of a sequence number the store has
 * committed, so every process serving the document records the same state
 * under the same number and the store keeps one. Versions older than the
 * retention time are pruned by a timer, named ones kept.
 */
import * as Y from 'yjs'
import type { Logger } from '../log.js'
import type { VersionCapture, VersionInfo, VersionStore } from '../storage/versions.js'
import type { Room, RoomEdits } from './room.js'

/** Options of `HistoryRecorder`; fields as in `Config`. */
export interface HistoryOptions {
  readonly versionQuietMs: number
  readonly versionEveryMs: number
  readonly versionRetentionDays: number
  readonly logger: Logger
}

/** Edits of one room since its last version. */
interface Burst {
  readonly authors: Set<string>
  /** Fires once editing has been quiet for `versionQuietMs`. */
  quiet: NodeJS.Timeout
  /** Fires `versionEveryMs` after the burst began. */
  readonly every: NodeJS.Timeout
}

/** How often versions past their retention are looked for. */
const pruneSweepMs = 60 * 60 * 1000

/** How long a capture waits for the room to hold exactly what is committed before trying again. */
const captureRetryMs = 100

/** Tries to capture a room before giving up on this burst's version (the next edit starts another). */
const maxCaptureAttempts = 50

/** Records versions of the rooms it hears of (`RoomEdits`). One per relay. */
export class HistoryRecorder implements RoomEdits {
  private readonly bursts = new Map<Room, Burst>()
  private readonly sweep: NodeJS.Timeout

  constructor (private readonly versions: VersionStore, private readonly options: HistoryOptions) {
    this.sweep = setInterval(() => { void this.prune() }, pruneSweepMs)
    this.sweep.unref()
  }

  edited (room: Room, author: string | null): void {
    let burst = this.bursts.get(room)
    if (burst) {
      clearTimeout(burst.quiet)
      burst.quiet = this.timer(room, this.options.versionQuietMs)
    } else {
      burst = { authors: new Set(), quiet: this.timer(room, this.options.versionQuietMs), every: this.timer(room, this.options.versionEveryMs) }
      this.bursts.set(room, burst)
    }
    if (author !== null) burst.authors.add(author)
  }

  /**
   * Records `room`'s document now as a version named `name` (null: an
   * automatic one), with the authors of the edits since the last version.
   * Resolves to the version, or null when the document was never written
   * or the room cannot be captured within `attempts` tries (it failed, or
   * holds updates above a gap), or a newer version exists.
   */
  async record (room: Room, name: string | null, attempts = maxCaptureAttempts): Promise<VersionInfo | null> {
    const burst = this.bursts.get(room)
    // Edits from here on belong to the next version.
    const ended = (): void => {
      if (burst && this.bursts.get(room) === burst) this.end(room, burst)
    }
    for (let attempt = 0; ; attempt++) {
      await room.whenDurable()
      const seq = room.committedSeq
      if (seq === 0) {
        ended()
        return null
      }
      if (seq !== null) {
        // Captured synchronously after the wait: nothing can change the document in between.
        const capture = captureOf(room.doc, seq, name, [...burst?.authors ?? []])
        ended()
        return await this.versions.record(room.name, capture)
      }
      if (attempt + 1 >= attempts) {
        ended()
        return null
      }
      await new Promise((resolve) => setTimeout(resolve, captureRetryMs))
    }
  }

  /**
   * Records the document `document` as read from the store (no room holds
   * it), named `name`. Resolves to the version, or null when a newer one exists.
   */
  async recordStored (document: string, doc: Y.Doc, seq: number, name: string | null): Promise<VersionInfo | null> {
    return await this.versions.record(document, captureOf(doc, seq, name, []))
  }

  /**
   * Records `room`'s document if it changed since its last version, in one
   * try: for a room about to unload, whose unloading this holds up. Never rejects.
   */
  async flush (room: Room): Promise<void> {
    if (!this.bursts.has(room)) return
    await this.recordQuietly(room, 1)
  }

  /** Removes unnamed versions past the retention time, keeping the rest whole. Never rejects. */
  async prune (): Promise<void> {
    try {
      const removed = await this.versions.prune(Date.now() - this.options.versionRetentionDays * 24 * 3600 * 1000)
      if (removed > 0) this.options.logger.info('history.pruned', { versions: removed })
    } catch (err) {
      this.options.logger.warn('history.prune-failed', { error: err as Error })
    }
  }

  /** Stops every timer; versions not yet recorded are not. */
  stop (): void {
    clearInterval(this.sweep)
    for (const [room, burst] of this.bursts) this.end(room, burst)
  }

  private timer (room: Room, delayMs: number): NodeJS.Timeout {
    const timer = setTimeout(() => { void this.recordQuietly(room) }, delayMs)
    timer.unref()
    return timer
  }

  private end (room: Room, burst: Burst): void {
    clearTimeout(burst.quiet)
    clearTimeout(burst.every)
    this.bursts.delete(room)
  }

  private async recordQuietly (room: Room, attempts = maxCaptureAttempts): Promise<void> {
    try {
      const version = await this.record(room, null, attempts)
      if (version) this.options.logger.debug('history.recorded', { room: room.name, version: version.id, seq: version.seq })
    } catch (err) {
      this.options.logger.warn('history.record-failed', { room: room.name, error: err as Error })
    }
  }
}

/** What `VersionStore.record` stores of `doc`, which holds everything up to `seq` and nothing more. */
function captureOf (doc: Y.Doc, seq: number, name: string | null, authors: string[]): VersionCapture {
  return { seq, state: Y.encodeStateAsUpdate(doc), stateVector: Y.encodeStateVector(doc), createdAtMs: Date.now(), name, authors: authors.sort() }
}
