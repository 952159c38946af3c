/**
 * The webhook outbox: events about documents, recorded by the store in the
 * same transaction as the change that causes them, and taken from there by
 * the delivery worker (`server/webhooks/worker.ts`). A change that commits
 * always has its event; a change that rolls back never does.
 *
 * Per document, events are numbered 1, 2, … (`sequence`) in commit order,
 * across every process sharing the database. `document.changed` is
 * debounced: the first append after the document's previous changed event
 * was sealed opens a pending event due `debounceMs` later; appends until it
 * is sealed (taken for its first delivery attempt) widen its range instead
 * of adding events. A sealed event never changes, so every attempt sends
 * the same body.
 */
import type { VersionInfo } from './versions.js'

/** What happened to a document. */
export type WebhookEventType = 'document.changed' | 'document.deleted' | 'document.restored' | 'version.created'

/** The data of a `version.created` event: the stored version (see `VersionInfo`). */
export interface VersionCreatedData {
  readonly version: number
  readonly name: string | null
  readonly seq: number
  readonly authors: readonly string[]
}

/** One recorded event, pending delivery or failed. */
export interface OutboxEvent {
  /** Unique across all events (a random UUID), for the receiver's deduplication. */
  readonly id: string
  readonly type: WebhookEventType
  readonly document: string
  /** 1, 2, … per document, in commit order. */
  readonly sequence: number
  /** When the event was recorded (ms since the epoch). */
  readonly createdAtMs: number
  /**
   * For `document.changed`, the document's update sequence numbers it
   * covers (`from` to `to`, inclusive); for `document.deleted`, `deletedAtMs`;
   * for `version.created`, the version (`VersionCreatedData`).
   */
  readonly data: Readonly<Record<string, unknown>>
  /** Delivery attempts made so far. */
  readonly attempts: number
  /** When the first attempt was made; null before it. */
  readonly firstAttemptAtMs: number | null
  /** When the next attempt is due (ms since the epoch). */
  readonly dueAtMs: number
  /** Why the last attempt failed; null before any failed. */
  readonly lastError: string | null
  /** `pending` until delivered (then it is removed) or given up on (`failed`). */
  readonly state: 'pending' | 'failed'
}

/** How the store records events; given to the store when webhooks are on. */
export interface WebhookRecording {
  /** How long a `document.changed` event collects appends before it is due. */
  readonly debounceMs: number
}

/**
 * The delivery side of the outbox. Every method may reject on a storage
 * fault; nothing is changed then.
 */
export interface WebhookOutbox {
  /**
   * Takes up to `limit` events due at `nowMs`, each the oldest pending event
   * of its document (so a document's events go out one at a time, in
   * order), seals them and leases them until `leaseUntilMs`: no other
   * worker takes them before, unless the lease runs out.
   */
  claim (nowMs: number, limit: number, leaseUntilMs: number): Promise<OutboxEvent[]>
  /** The receiver took the event: removes it, so the document's next event becomes due. */
  delivered (id: string): Promise<void>
  /** The attempt failed; the event is tried again at `dueAtMs`. */
  retry (id: string, attempts: number, firstAttemptAtMs: number, dueAtMs: number, error: string): Promise<void>
  /** Gives up on the event: it stays listed as failed and no longer holds back its document's later events. */
  fail (id: string, attempts: number, firstAttemptAtMs: number, error: string): Promise<void>
  /** Up to `limit` pending and failed events, oldest first. */
  list (limit: number): Promise<OutboxEvent[]>
}

/** A row of an outbox table as both SQL stores select it (pg returns bigints as strings). */
export interface OutboxRow {
  id: string
  type: string
  doc: string
  sequence: number | string
  created_at: number | string
  seq_from: number | string | null
  seq_to: number | string | null
  deleted_at: number | string | null
  /** The data of a `version.created` event, as JSON. */
  version: string | null
  attempts: number | string
  first_attempt_at: number | string | null
  due_at: number | string
  last_error: string | null
  state: string
}

const optionalNumber = (value: number | string | null): number | null => value === null ? null : Number(value)

/** An outbox row as an `OutboxEvent`. */
export function outboxEvent (row: OutboxRow): OutboxEvent {
  const type = row.type as WebhookEventType
  let data: Record<string, unknown> = {}
  if (type === 'document.changed') {
    data = { from: Number(row.seq_from), to: Number(row.seq_to) }
  } else if (type === 'document.deleted') {
    data = { deletedAtMs: Number(row.deleted_at) }
  } else if (type === 'version.created') {
    data = JSON.parse(row.version ?? '{}') as Record<string, unknown>
  }
  return {
    id: row.id,
    type,
    document: row.doc,
    sequence: Number(row.sequence),
    createdAtMs: Number(row.created_at),
    data,
    attempts: Number(row.attempts),
    firstAttemptAtMs: optionalNumber(row.first_attempt_at),
    dueAtMs: Number(row.due_at),
    lastError: row.last_error,
    state: row.state === 'failed' ? 'failed' : 'pending'
  }
}

/** The first and last update sequence number each document got in a group of writes, in first-append order. */
export function appendedRanges (appends: ReadonlyArray<{ readonly name: string, readonly seq: number }>): Map<string, { from: number, to: number }> {
  const ranges = new Map<string, { from: number, to: number }>()
  for (const { name, seq } of appends) {
    const range = ranges.get(name)
    if (range) {
      range.from = Math.min(range.from, seq)
      range.to = Math.max(range.to, seq)
    } else {
      ranges.set(name, { from: seq, to: seq })
    }
  }
  return ranges
}

/** The data of the `version.created` event of `version`. */
export function versionCreatedData (version: VersionInfo): VersionCreatedData {
  return { version: version.id, name: version.name, seq: version.seq, authors: [...version.authors] }
}
