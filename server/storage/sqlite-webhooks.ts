/**
 * The webhook outbox in the SQLite database (`webhook_outbox`, with the
 * last event number of each document in `webhook_sequences`). The store
 * calls the `record…` functions inside its own transactions; one process
 * writes the file, so its worker is the only one taking events.
 */
import { randomUUID } from 'node:crypto'
import type Database from 'better-sqlite3'
import { appendedRanges, outboxEvent, versionCreatedData, type OutboxRow, type WebhookOutbox, type WebhookRecording } from './webhook-outbox.js'
import type { VersionInfo } from './versions.js'

/** What the SQLite store calls, inside its transactions. */
export interface SqliteWebhooks {
  /** Records or widens the `document.changed` events of a group's appends. */
  recordAppends (appends: ReadonlyArray<{ readonly name: string, readonly seq: number }>): void
  /** Records `document.deleted` (at `atMs`) or `document.restored`. */
  recordCatalog (name: string, type: 'document.deleted' | 'document.restored', atMs: number): void
  /** Records `version.created` for `version`, just stored. */
  recordVersion (name: string, version: VersionInfo): void
  readonly outbox: WebhookOutbox
}

/**
 * Creates the tables if missing and returns the outbox. Leases held when
 * the process ended are dropped: no other process delivers from this file.
 */
export function sqliteWebhooks (db: Database.Database, recording: WebhookRecording): SqliteWebhooks {
  db.exec(`
    CREATE TABLE IF NOT EXISTS webhook_outbox (
      id TEXT PRIMARY KEY,
      doc TEXT NOT NULL,
      sequence INTEGER NOT NULL,
      type TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      seq_from INTEGER,
      seq_to INTEGER,
      deleted_at INTEGER,
      version TEXT,
      sealed INTEGER NOT NULL DEFAULT 0,
      state TEXT NOT NULL DEFAULT 'pending',
      due_at INTEGER NOT NULL,
      lease_until INTEGER NOT NULL DEFAULT 0,
      attempts INTEGER NOT NULL DEFAULT 0,
      first_attempt_at INTEGER,
      last_error TEXT
    );
    CREATE UNIQUE INDEX IF NOT EXISTS webhook_outbox_by_doc ON webhook_outbox (doc, sequence);
    CREATE TABLE IF NOT EXISTS webhook_sequences (doc TEXT PRIMARY KEY, sequence INTEGER NOT NULL) WITHOUT ROWID;
    UPDATE webhook_outbox SET lease_until = 0 WHERE lease_until > 0;
  `)
  const nextSequence = db.prepare(
    'INSERT INTO webhook_sequences (doc, sequence) VALUES (?, 1) ON CONFLICT (doc) DO UPDATE SET sequence = sequence + 1 RETURNING sequence').pluck()
  // Widens the document's pending changed event, if it is still open (not sealed) and its latest event.
  const widen = db.prepare(
    `UPDATE webhook_outbox SET seq_to = max(seq_to, @to)
     WHERE doc = @name AND type = 'document.changed' AND sealed = 0 AND state = 'pending'
       AND sequence = (SELECT sequence FROM webhook_sequences WHERE doc = @name)`)
  const insert = db.prepare(
    `INSERT INTO webhook_outbox (id, doc, sequence, type, created_at, seq_from, seq_to, deleted_at, version, due_at)
     VALUES (@id, @name, @sequence, @type, @now, @from, @to, @deletedAt, @version, @due)`)
  const heads = db.prepare(
    `SELECT id FROM webhook_outbox AS o WHERE state = 'pending' AND due_at <= @now AND lease_until < @now
       AND NOT EXISTS (SELECT 1 FROM webhook_outbox AS p WHERE p.doc = o.doc AND p.state = 'pending' AND p.sequence < o.sequence)
     ORDER BY due_at LIMIT @limit`).pluck()
  const seal = db.prepare('UPDATE webhook_outbox SET sealed = 1, lease_until = ? WHERE id = ? RETURNING *')
  const remove = db.prepare('DELETE FROM webhook_outbox WHERE id = ?')
  const retry = db.prepare(
    'UPDATE webhook_outbox SET attempts = @attempts, first_attempt_at = @first, due_at = @due, last_error = @error, lease_until = 0 WHERE id = @id')
  const fail = db.prepare(
    'UPDATE webhook_outbox SET attempts = @attempts, first_attempt_at = @first, last_error = @error, state = \'failed\', lease_until = 0 WHERE id = @id')
  const list = db.prepare('SELECT * FROM webhook_outbox ORDER BY created_at, doc, sequence LIMIT ?')
  const claim = db.transaction((now: number, limit: number, leaseUntil: number) =>
    (heads.all({ now, limit }) as string[]).map((id) => outboxEvent(seal.get(leaseUntil, id) as OutboxRow)))

  const record = (name: string, type: string, now: number, from: number | null, to: number | null, deletedAt: number | null, version: string | null, due: number): void => {
    const sequence = nextSequence.get(name) as number
    insert.run({ id: randomUUID(), name, sequence, type, now, from, to, deletedAt, version, due })
  }

  return {
    recordAppends (appends) {
      const now = Date.now()
      for (const [name, { from, to }] of appendedRanges(appends)) {
        if (widen.run({ name, to }).changes === 0) record(name, 'document.changed', now, from, to, null, null, now + recording.debounceMs)
      }
    },
    recordCatalog (name, type, atMs) {
      record(name, type, atMs, null, null, type === 'document.deleted' ? atMs : null, null, atMs)
    },
    recordVersion (name, version) {
      const now = Date.now()
      record(name, 'version.created', now, null, null, null, JSON.stringify(versionCreatedData(version)), now)
    },
    outbox: {
      async claim (nowMs, limit, leaseUntilMs) {
        return claim.immediate(nowMs, limit, leaseUntilMs)
      },
      async delivered (id) {
        remove.run(id)
      },
      async retry (id, attempts, first, due, error) {
        retry.run({ id, attempts, first, due, error })
      },
      async fail (id, attempts, first, error) {
        fail.run({ id, attempts, first, error })
      },
      async list (limit) {
        return (list.all(limit) as OutboxRow[]).map(outboxEvent)
      }
    }
  }
}
