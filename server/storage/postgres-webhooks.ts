/**
 * The webhook outbox in PostgreSQL: `<prefix>_webhook_outbox`, with the
 * last event number of each document in `<prefix>_webhook_sequences`. The
 * store calls the `record…` functions inside its own transactions, after it
 * took the document's row of `<prefix>_documents` (an append's counter
 * upsert, a deletion's or restore's update): that row lock orders every
 * event of one document by commit, across processes.
 *
 * Several processes deliver from the same table: `claim` takes the oldest
 * pending event of each document with `FOR UPDATE SKIP LOCKED` and leases
 * it, so one worker at a time sends a document's events.
 */
import { randomUUID } from 'node:crypto'
import type pg from 'pg'
import { appendedRanges, outboxEvent, versionCreatedData, type OutboxRow, type WebhookOutbox, type WebhookRecording } from './webhook-outbox.js'
import type { VersionInfo } from './versions.js'

/** What the PostgreSQL store calls, inside its transactions. */
export interface PostgresWebhooks {
  /** Records or widens the `document.changed` events of a group's appends. */
  recordAppends (client: pg.ClientBase, appends: ReadonlyArray<{ readonly name: string, readonly seq: number }>): Promise<void>
  /** Records `document.deleted` (at `atMs`) or `document.restored`. */
  recordCatalog (client: pg.ClientBase, name: string, type: 'document.deleted' | 'document.restored', atMs: number): Promise<void>
  /** Records `version.created` for `version`, just stored. */
  recordVersion (client: pg.ClientBase, name: string, version: VersionInfo): Promise<void>
  readonly outbox: WebhookOutbox
}

/** Creates the tables if missing, inside the caller's schema transaction. */
export async function createWebhookTables (client: pg.ClientBase, prefix: string): Promise<void> {
  await client.query(`CREATE TABLE IF NOT EXISTS ${prefix}_webhook_outbox (
    id TEXT PRIMARY KEY,
    doc TEXT NOT NULL,
    sequence BIGINT NOT NULL,
    type TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    seq_from BIGINT,
    seq_to BIGINT,
    deleted_at BIGINT,
    version TEXT,
    sealed BOOLEAN NOT NULL DEFAULT false,
    state TEXT NOT NULL DEFAULT 'pending',
    due_at BIGINT NOT NULL,
    lease_until BIGINT NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    first_attempt_at BIGINT,
    last_error TEXT,
    UNIQUE (doc, sequence))`)
  await client.query(`CREATE TABLE IF NOT EXISTS ${prefix}_webhook_sequences (doc TEXT PRIMARY KEY, sequence BIGINT NOT NULL)`)
}

/** The outbox over `pool`'s tables named with `prefix` (see `createWebhookTables`). */
export function postgresWebhooks (pool: pg.Pool, prefix: string, recording: WebhookRecording): PostgresWebhooks {
  const outbox = `${prefix}_webhook_outbox`
  const sequences = `${prefix}_webhook_sequences`

  const record = async (client: pg.ClientBase, name: string, type: string, now: number, from: number | null, to: number | null, deletedAt: number | null, version: string | null, due: number): Promise<void> => {
    await client.query(
      `WITH taken AS (
         INSERT INTO ${sequences} (doc, sequence) VALUES ($2, 1) ON CONFLICT (doc) DO UPDATE SET sequence = ${sequences}.sequence + 1 RETURNING sequence)
       INSERT INTO ${outbox} (id, doc, sequence, type, created_at, seq_from, seq_to, deleted_at, version, due_at)
       SELECT $1, $2, taken.sequence, $3, $4, $5, $6, $7, $8, $9 FROM taken`,
      [randomUUID(), name, type, now, from, to, deletedAt, version, due])
  }

  return {
    async recordAppends (client, appends) {
      const ranges = appendedRanges(appends)
      if (ranges.size === 0) return
      const now = Date.now()
      // One statement for the whole group: widen each document's pending changed event if it is
      // still open (not sealed) and its latest event, else number and insert a new one.
      await client.query(
        `WITH input AS (SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS t(doc, seq_from, seq_to)),
         widened AS (
           UPDATE ${outbox} AS o SET seq_to = greatest(o.seq_to, input.seq_to) FROM input
           WHERE o.doc = input.doc AND o.type = 'document.changed' AND NOT o.sealed AND o.state = 'pending'
             AND o.sequence = (SELECT sequence FROM ${sequences} WHERE doc = input.doc)
           RETURNING o.doc),
         fresh AS (SELECT * FROM input WHERE doc NOT IN (SELECT doc FROM widened)),
         taken AS (
           INSERT INTO ${sequences} (doc, sequence) SELECT doc, 1 FROM fresh ORDER BY doc
           ON CONFLICT (doc) DO UPDATE SET sequence = ${sequences}.sequence + 1 RETURNING doc, sequence)
         INSERT INTO ${outbox} (id, doc, sequence, type, created_at, seq_from, seq_to, due_at)
         SELECT gen_random_uuid()::text, taken.doc, taken.sequence, 'document.changed', $4, fresh.seq_from, fresh.seq_to, $5
         FROM taken JOIN fresh ON fresh.doc = taken.doc`,
        [[...ranges.keys()], [...ranges.values()].map((range) => range.from), [...ranges.values()].map((range) => range.to), now, now + recording.debounceMs])
    },
    async recordCatalog (client, name, type, atMs) {
      await record(client, name, type, atMs, null, null, type === 'document.deleted' ? atMs : null, null, atMs)
    },
    async recordVersion (client, name, version) {
      const now = Date.now()
      await record(client, name, 'version.created', now, null, null, null, JSON.stringify(versionCreatedData(version)), now)
    },
    outbox: {
      async claim (nowMs, limit, leaseUntilMs) {
        const result = await pool.query(
          `WITH heads AS (
             SELECT id FROM ${outbox} AS o WHERE state = 'pending' AND due_at <= $1 AND lease_until < $1
               AND NOT EXISTS (SELECT 1 FROM ${outbox} AS p WHERE p.doc = o.doc AND p.state = 'pending' AND p.sequence < o.sequence)
             ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED)
           UPDATE ${outbox} AS o SET sealed = true, lease_until = $3 FROM heads WHERE o.id = heads.id RETURNING o.*`,
          [nowMs, limit, leaseUntilMs])
        return (result.rows as OutboxRow[]).map(outboxEvent).sort((a, b) => a.dueAtMs - b.dueAtMs)
      },
      async delivered (id) {
        await pool.query(`DELETE FROM ${outbox} WHERE id = $1`, [id])
      },
      async retry (id, attempts, first, due, error) {
        await pool.query(
          `UPDATE ${outbox} SET attempts = $2, first_attempt_at = $3, due_at = $4, last_error = $5, lease_until = 0 WHERE id = $1`,
          [id, attempts, first, due, error])
      },
      async fail (id, attempts, first, error) {
        await pool.query(
          `UPDATE ${outbox} SET attempts = $2, first_attempt_at = $3, last_error = $4, state = 'failed', lease_until = 0 WHERE id = $1`,
          [id, attempts, first, error])
      },
      async list (limit) {
        const result = await pool.query(`SELECT * FROM ${outbox} ORDER BY created_at, doc, sequence LIMIT $1`, [limit])
        return (result.rows as OutboxRow[]).map(outboxEvent)
      }
    }
  }
}
