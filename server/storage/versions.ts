/**
 * Document history: versions of a document, kept apart from its log so that
 * compaction never touches them. Each version stores the Yjs update since
 * the version before it (`Y.encodeStateAsUpdate(doc, previousStateVector)`;
 * the first one, the whole state): `scripts/history-size.ts` measures this
 * at about 6 times the document's size for 260 versions of the
 * automerge-paper trace, against 143 times for a full state per version.
 * A version's document is the merge of its own update and every earlier
 * one still stored; removing a version merges its update into the next, so
 * every version left stays whole.
 */
import * as Y from 'yjs'

/** One version as listed. */
export interface VersionInfo {
  /** Increasing per document, in the order of `seq`. */
  readonly id: number
  readonly createdAtMs: number
  /** Given on request; null for versions the server took by itself. */
  readonly name: string | null
  /** The document's sequence number the version covers: every update up to it. */
  readonly seq: number
  /** Display names of the people who edited since the version before. */
  readonly authors: readonly string[]
}

/** What `record` stores: the document as of `seq`. */
export interface VersionCapture {
  readonly seq: number
  /** The whole document as of `seq` (`Y.encodeStateAsUpdate`). */
  readonly state: Uint8Array
  /** Its state vector. */
  readonly stateVector: Uint8Array
  readonly createdAtMs: number
  readonly name: string | null
  readonly authors: readonly string[]
}

/**
 * Versions of every document of one store. Several processes may record
 * the same document at once: a version is unique per (document, seq), so
 * the second recording of a state adds nothing, and a recording older than
 * the newest version is dropped (ids grow with `seq`).
 */
export interface VersionStore {
  /**
   * Stores `capture` as the document's newest version, as the update since
   * the newest version stored. When a version of the same `seq` exists, it
   * is the one returned (named `capture.name` when given); when a newer one
   * exists, nothing is stored and null returned.
   */
  record (document: string, capture: VersionCapture): Promise<VersionInfo | null>
  /** The document's versions, oldest first. */
  list (document: string): Promise<VersionInfo[]>
  /** The document as of version `id` (a Yjs update), or null when there is no such version. */
  read (document: string, id: number): Promise<Uint8Array | null>
  /**
   * Removes unnamed versions created before `createdBeforeMs`, but never a
   * document's newest one, merging each removed version's update into the
   * next; returns how many were removed.
   */
  prune (createdBeforeMs: number): Promise<number>
}

/**
 * Called by a backend inside the transaction that stores a new version (not
 * when a recording finds the same `seq` already stored), so what it writes
 * commits or rolls back with the version: the webhook store's `version.created`.
 */
export type OnVersionCreated = (document: string, version: VersionInfo) => void

/** A stored version row, as the backends keep it. */
export interface VersionRow extends VersionInfo {
  readonly stateVector: Uint8Array
  readonly data: Uint8Array
}

/** The update a new version stores: the whole state, or what it adds to `previous` (a state vector). */
export function versionUpdate (capture: VersionCapture, previous: Uint8Array | null): Uint8Array {
  return previous === null ? capture.state : Y.diffUpdate(capture.state, previous)
}

/** A version recorded again (by another process, or named on request): its name and authors then. */
export function sameState (stored: VersionInfo, capture: VersionCapture): { name: string | null, authors: string[] } {
  return { name: capture.name ?? stored.name, authors: [...new Set([...stored.authors, ...capture.authors])].sort() }
}

/** The document a chain of version updates makes, oldest first. */
export function mergeVersionUpdates (updates: readonly Uint8Array[]): Uint8Array {
  return updates.length === 1 ? updates[0] : Y.mergeUpdates([...updates])
}

/**
 * Which rows of one document `prune` removes, oldest first: unnamed, older
 * than `createdBeforeMs`, not the newest. Each one's update goes into the
 * row after it.
 */
export function prunable<Row extends VersionInfo> (rows: readonly Row[], createdBeforeMs: number): Row[] {
  return rows.slice(0, -1).filter((row) => row.name === null && row.createdAtMs < createdBeforeMs)
}

/** Versions in this process only, for the memory store; `forget` removes a purged document's. `onCreated` is told of each new one. */
export function createMemoryVersions (onCreated?: OnVersionCreated): VersionStore & { forget (document: string): void } {
  const documents = new Map<string, VersionRow[]>()
  const info = ({ id, createdAtMs, name, seq, authors }: VersionRow): VersionInfo => ({ id, createdAtMs, name, seq, authors })
  return {
    forget (document) {
      documents.delete(document)
    },
    async record (document, capture) {
      const rows = documents.get(document) ?? []
      const newest = rows.at(-1)
      if (newest && newest.seq > capture.seq) return null
      if (newest && newest.seq === capture.seq) {
        rows[rows.length - 1] = { ...newest, ...sameState(newest, capture) }
        return info(rows[rows.length - 1])
      }
      const row: VersionRow = {
        id: (newest?.id ?? 0) + 1,
        createdAtMs: capture.createdAtMs,
        name: capture.name,
        seq: capture.seq,
        authors: [...capture.authors],
        stateVector: capture.stateVector,
        data: versionUpdate(capture, newest?.stateVector ?? null)
      }
      documents.set(document, [...rows, row])
      onCreated?.(document, info(row))
      return info(row)
    },
    async list (document) {
      return (documents.get(document) ?? []).map(info)
    },
    async read (document, id) {
      const rows = documents.get(document) ?? []
      if (!rows.some((row) => row.id === id)) return null
      return mergeVersionUpdates(rows.filter((row) => row.id <= id).map((row) => row.data))
    },
    async prune (createdBeforeMs) {
      let removed = 0
      for (const [document, rows] of documents) {
        const gone = new Set(prunable(rows, createdBeforeMs))
        if (gone.size === 0) continue
        const kept: VersionRow[] = []
        let carried: Uint8Array[] = []
        for (const row of rows) {
          if (gone.has(row)) {
            carried.push(row.data)
            continue
          }
          kept.push(carried.length === 0 ? row : { ...row, data: mergeVersionUpdates([...carried, row.data]) })
          carried = []
        }
        documents.set(document, kept)
        removed += gone.size
      }
      return removed
    }
  }
}
