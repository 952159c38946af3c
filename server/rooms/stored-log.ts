/**
 * What a room knows of its stored document: how many updates and bytes its
 * log holds since the last compaction, when to compact, and whether another
 * update fits under the size limit. No I/O.
 */
import type { StoredDocument } from '../storage/store.js'

/** Limits of a stored log; fields as in `Config`. */
export interface StoredLogLimits {
  /** Compact once the log holds this many updates… */
  readonly compactAfterUpdates: number
  /** …or this many bytes. */
  readonly compactAfterBytes: number
  /** Largest stored size a document may reach, counting the headroom below. */
  readonly maxDocumentBytes: number
}

/**
 * Bytes a snapshot may spend on one item more than the updates that made
 * it: an item split by a later insertion or deletion is written with its
 * own header (info, origins, parent) in the snapshot. Every update is
 * charged this much per item it may create or split, so a compaction can
 * never produce a snapshot larger than the limit.
 */
export const snapshotBytesPerItem = 24

/** Sizes of one document's stored log. */
export class StoredLog {
  private updates: number
  private logBytes: number
  /** Bytes charged against `maxDocumentBytes`: the last snapshot, plus every update since with its headroom. */
  private chargedBytes: number

  constructor (private readonly limits: StoredLogLimits, stored: StoredDocument) {
    this.updates = stored.updates.length
    this.logBytes = 0
    for (const update of stored.updates) this.logBytes += update.length
    this.chargedBytes = this.logBytes + (stored.snapshot?.length ?? 0)
  }

  /** Updates in the log since the last compaction. */
  get length (): number {
    return this.updates
  }

  /** Bytes charged against the document size limit. */
  get bytes (): number {
    return this.chargedBytes
  }

  /** Whether an update of `bytes` that may create or split `items` items fits under `maxDocumentBytes`. */
  fits (bytes: number, items: number): boolean {
    return this.chargedBytes + bytes + items * snapshotBytesPerItem <= this.limits.maxDocumentBytes
  }

  /** Records an appended update, charged as in `fits`. */
  appended (bytes: number, items: number): void {
    this.updates++
    this.logBytes += bytes
    this.chargedBytes += bytes + items * snapshotBytesPerItem
  }

  /**
   * Records an update another process stored for this document: it counts
   * toward the size limit, not toward this process's compaction, which
   * removes only what this process stored or read.
   */
  storedElsewhere (bytes: number): void {
    this.chargedBytes += bytes
  }

  /** Whether the log has grown enough to compact. */
  get wantsCompaction (): boolean {
    return this.updates >= this.limits.compactAfterUpdates || this.logBytes >= this.limits.compactAfterBytes
  }

  /** Records a compaction into a snapshot of `bytes`. */
  compacted (bytes: number): void {
    this.updates = 0
    this.logBytes = 0
    this.chargedBytes = bytes
  }
}
