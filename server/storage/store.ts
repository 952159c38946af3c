/**
 * The storage interface rooms see. Implementations: `memory.ts` (nothing
 * survives the process), `sqlite.ts` (the default), `postgres.ts`.
 */
import type { WebhookOutbox } from './webhook-outbox.js'

import type { VersionStore } from './versions.js'

/**
 * A document as stored, or the part of it a reader lacks: an optional
 * snapshot followed by updates.
 */
export interface StoredDocument {
  /** Merged state written by the last `replace`, or null if there was none (or the reader needs none). */
  readonly snapshot: Uint8Array | null
  /** Updates in the log, in sequence-number order. */
  readonly updates: Uint8Array[]
  /** The highest per-document sequence number this read covers (0 when the document was never written). */
  readonly seq: number
}

/**
 * Durable storage of Yjs documents as an append-only log per document.
 *
 * Every append gets a per-document sequence number: they start at 1 and
 * grow by exactly 1 per append of that document, across every process and
 * store instance sharing the database, and they commit in sequence order: a
 * reader that sees number n committed also sees every number below it. So a
 * process that learns of update n + 2 while holding everything up to n knows
 * it lacks n + 1 and fetches it with `readSince`. (A `replace` that keeps a
 * snapshot this instance never saw as an update of the log numbers that
 * update like an append, too.)
 *
 * Writes are ordered: across all documents of one store, the promises that
 * `append` and `replace` return resolve in the order the calls were made,
 * each once its write is committed. Implementations group writes made in
 * the same event-loop turn into one transaction, up to a size cap.
 *
 * A write that rejects was not confirmed, which is not the same as not
 * stored: when the database connection is lost while a transaction commits,
 * every write of it rejects although the commit may have landed. Treat a
 * rejected write's outcome as unknown and read the document again. A store
 * fault rejects writes and loads; it never throws elsewhere or ends the
 * process, and the store serves later calls once the fault is gone.
 */
export interface DocStore {
  /**
   * Reads a document, after every write called before this load has
   * committed or failed. A document never written reads as
   * `{snapshot: null, updates: [], seq: 0}`. Same as `readSince(name, 0)`.
   * Rejects with `DeletedDocumentError` while the document is marked deleted
   * (see `DocumentCatalog`), as `readSince` does.
   */
  load (name: string): Promise<StoredDocument>
  /**
   * Appends one update to a document's log; resolves once it is durable,
   * with the update's per-document sequence number.
   */
  append (name: string, update: Uint8Array): Promise<number>
  /**
   * What a reader that has integrated everything up to `seq` lacks, in
   * order: the updates with a higher sequence number, and — when a
   * compaction removed any update above `seq` — the snapshot too (then
   * `updates` are those still in the log above `seq`). Applying the result
   * to a document that holds everything up to `seq` gives everything up to
   * the returned `seq`. At `seq` 0 the reader holds nothing: the result is
   * the whole document, as `load` reads it. Like `load`, waits for this
   * instance's earlier writes, and counts as having seen what it returns
   * (a later `replace` may remove it).
   */
  readSince (name: string, seq: number): Promise<StoredDocument>
  /**
   * Compaction: `snapshot` replaces the snapshot and every update of `name`
   * that this store instance loaded or appended before this call, so it must
   * contain all of them. What this instance has not seen stays: updates
   * appended later, and updates or a snapshot another process wrote that it
   * has not loaded (such a snapshot is kept as an update of the log).
   */
  replace (name: string, snapshot: Uint8Array): Promise<void>
  /**
   * The room of this document left memory and every write of it settled:
   * forget what this instance remembers of it (which stored rows it saw), so
   * that memory does not grow with every document ever opened. Nothing
   * stored changes. A later `load` learns again what it reads, so a
   * `replace` after `release` and `load` removes only what this instance saw
   * since.
   */
  release (name: string): void
  /** Lists stored document names in lexical order (by Unicode code point), deleted ones included. */
  list (): Promise<string[]>
  /** Resolves when the storage answers (for readiness checks); rejects with why it does not. */
  ping (): Promise<void>
  /** Waits for every pending write, then releases the store's resources; later writes reject. */
  close (): Promise<void>
  /** What the document API reads and changes about whole documents; every store of coedit has one. */
  readonly catalog?: DocumentCatalog
  /** Events for webhooks, recorded with the changes that cause them; present when the store was opened with webhooks on. */
  readonly webhooks?: WebhookOutbox
  /** The documents' history (`versions.ts`), kept apart from their logs; every store of coedit has one. */
  readonly versions?: VersionStore
  /**
   * The server's own key for signing links (`signing-key.ts`), made on the
   * first call and the same for every later call, restart and process
   * sharing this storage; every store of coedit has one.
   */
  readonly signingKey?: () => Promise<Uint8Array>
}

/** What the catalog tells about one stored document. */
export interface DocumentInfo {
  readonly name: string
  /** Stored bytes: the snapshot plus every update of the log. */
  readonly bytes: number
  /** When an update was last appended (ms since the epoch); null when the store cannot tell (written before it kept the time). */
  readonly changedAtMs: number | null
  /** When the document was marked deleted (ms since the epoch); null while it is not. */
  readonly deletedAtMs: number | null
}

/**
 * Whole-document operations: sizes and times for listing, and deletion in
 * two steps. A document marked deleted keeps every stored byte, but `load`
 * and `readSince` reject with `DeletedDocumentError` until `restore` clears
 * the mark; `purge` then removes it for good. The mark lives in the
 * database, so every process sharing it and every restart sees it. Appends
 * to a marked document still succeed (a process that has not heard of the
 * deletion yet may still write) and are kept with it.
 */
export interface DocumentCatalog {
  /** One document, deleted or not; null when it was never written (or was purged). */
  describe (name: string): Promise<DocumentInfo | null>
  /** Up to `limit` documents whose names sort after `after` (null: from the first), in `list` order, deleted ones included. */
  page (after: string | null, limit: number): Promise<DocumentInfo[]>
  /** Marks the document deleted at `atMs`. False when it was never written or is marked already. */
  markDeleted (name: string, atMs: number): Promise<boolean>
  /** Clears the deletion mark. False when the document is not marked deleted. */
  restore (name: string): Promise<boolean>
  /**
   * Removes every stored row of up to `limit` documents marked deleted
   * before `deletedBeforeMs` (only `name`, when given), and returns their names.
   */
  purge (deletedBeforeMs: number, limit: number, name?: string): Promise<string[]>
}

/** Thrown by `load` and `readSince` for a document marked deleted (see `DocumentCatalog`). */
export class DeletedDocumentError extends Error {
  override readonly name = 'DeletedDocumentError'
  constructor (readonly document: string, readonly deletedAtMs: number) {
    super(`document "${document}" was deleted`)
  }
}

/** Thrown by `load` when a document's stored bytes cannot be read back. */
export class CorruptDocumentError extends Error {
  override readonly name = 'CorruptDocumentError'
  constructor (readonly document: string, detail: string) {
    super(`stored data of document "${document}" is damaged: ${detail}`)
  }
}
