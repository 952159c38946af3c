/**
 * Documents in an embedded SQLite database (better-sqlite3), in WAL mode.
 *
 * Writes made in one event-loop turn are committed together in one
 * transaction (group commit). With `synchronous = NORMAL` a commit survives
 * a crash of this process, `kill -9` included: it is in the WAL file, in the
 * operating system's hands, before the transaction returns. A power loss or
 * OS crash can lose the commits made since the last checkpoint's fsync.
 * `synchronous = FULL` fsyncs the WAL on every commit, so each one survives
 * a power loss too, at the cost of that fsync per group.
 *
 * A write that fails (disk full, I/O error, the file locked by another
 * process for longer than `busyTimeoutMs`) rolls its transaction back and
 * fails every write of its group; the store stays usable for the next one.
 * SQLite waits for a lock by sleeping in the calling thread, so the busy
 * timeout stalls every room of the process: it is kept short.
 */
import Database from 'better-sqlite3'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { DeletedDocumentError, type DocStore, type DocumentInfo, type StoredDocument } from './store.js'
import { createGroupCommit, type GroupLimits, type Write } from './group-commit.js'
import { KnownRows } from './known-rows.js'
import { sqliteWebhooks } from './sqlite-webhooks.js'
import type { WebhookRecording } from './webhook-outbox.js'
import { openSqliteVersions } from './versions-sqlite.js'
import { sqliteSigningKey } from './signing-key.js'

/** Options of `openSqliteStore`. */
export interface SqliteStoreOptions extends GroupLimits {
  /** Folder that holds `coedit.db`; created if missing. */
  readonly dataDir: string
  /** 'normal' (default) survives a process crash; 'full' also a power loss. */
  readonly sync?: 'normal' | 'full'
  /**
   * How long a write waits for a lock another process holds before its
   * group fails, blocking the event loop meanwhile. Default 250 ms.
   */
  readonly busyTimeoutMs?: number
  /** Record webhook events in the transactions of the changes that cause them; absent records none. */
  readonly webhooks?: WebhookRecording
}

/** Opens (creating if needed) the database in `dataDir`. */
export function openSqliteStore (options: SqliteStoreOptions): DocStore {
  mkdirSync(options.dataDir, { recursive: true })
  const db = new Database(join(options.dataDir, 'coedit.db'))
  db.pragma('journal_mode = WAL')
  db.pragma(`synchronous = ${options.sync === 'full' ? 'FULL' : 'NORMAL'}`)
  db.pragma(`busy_timeout = ${Math.max(0, Math.trunc(options.busyTimeoutMs ?? 250))}`)
  upgradeSchema(db)

  const bumpSeq = db.prepare(
    'INSERT INTO documents (doc, seq, changed_at) VALUES (?, 1, ?) ON CONFLICT (doc) DO UPDATE SET seq = seq + 1, changed_at = excluded.changed_at RETURNING seq').pluck()
  const insertUpdate = db.prepare('INSERT INTO updates (doc, data, doc_seq) VALUES (?, ?, ?)')
  const deleteUpdates = db.prepare(
    'DELETE FROM updates WHERE doc = ? AND seq IN (SELECT value FROM json_each(?)) RETURNING doc_seq').pluck()
  const moveSnapshotToLog = db.prepare('INSERT INTO updates (doc, data, doc_seq) SELECT doc, data, ? FROM snapshots WHERE doc = ?')
  const upsertSnapshot = db.prepare(
    `INSERT INTO snapshots (doc, data, version, covers) VALUES (?, ?, ?, ?)
     ON CONFLICT (doc) DO UPDATE SET data = excluded.data, version = excluded.version, covers = excluded.covers`)
  const selectSnapshotState = db.prepare('SELECT version, covers FROM snapshots WHERE doc = ?')
  const selectSnapshot = db.prepare('SELECT data, version, covers FROM snapshots WHERE doc = ?')
  const selectUpdatesSince = db.prepare('SELECT seq, data FROM updates WHERE doc = ? AND doc_seq > ? ORDER BY doc_seq')
  const selectSeq = db.prepare('SELECT seq, deleted_at FROM documents WHERE doc = ?')
  const selectNames = db.prepare('SELECT doc FROM snapshots UNION SELECT doc FROM updates ORDER BY 1').pluck()

  const known = new KnownRows()
  const webhooks = options.webhooks ? sqliteWebhooks(db, options.webhooks) : null
  // A new version's webhook event commits with it.
  const versions = openSqliteVersions(db, webhooks ? (name, version) => webhooks.recordVersion(name, version) : undefined)

  // Stored bytes and times of the documents named by `names` (a subquery), in name order.
  const describeNames = (names: string): string => `
    SELECT names.doc AS name, d.changed_at AS changedAtMs, d.deleted_at AS deletedAtMs,
      coalesce((SELECT length(data) FROM snapshots WHERE doc = names.doc), 0)
        + coalesce((SELECT sum(length(data)) FROM updates WHERE doc = names.doc), 0) AS bytes
    FROM (${names}) AS names LEFT JOIN documents AS d ON d.doc = names.doc ORDER BY names.doc`
  const describeOne = db.prepare(describeNames(
    'SELECT doc FROM snapshots WHERE doc = @name UNION SELECT doc FROM (SELECT doc FROM updates WHERE doc = @name LIMIT 1)'))
  const describePage = db.prepare(describeNames(
    'SELECT doc FROM (SELECT doc FROM snapshots WHERE doc > @after UNION SELECT doc FROM updates WHERE doc > @after ORDER BY 1 LIMIT @limit)'))
  const markDeleted = db.prepare(
    `INSERT INTO documents (doc, seq, deleted_at)
     SELECT @name, 0, @at WHERE EXISTS (SELECT 1 FROM snapshots WHERE doc = @name) OR EXISTS (SELECT 1 FROM updates WHERE doc = @name)
     ON CONFLICT (doc) DO UPDATE SET deleted_at = excluded.deleted_at WHERE deleted_at IS NULL`)
  const restore = db.prepare('UPDATE documents SET deleted_at = NULL WHERE doc = ? AND deleted_at IS NOT NULL')
  const selectPurgeable = db.prepare(
    'SELECT doc FROM documents WHERE deleted_at < @before AND (@only IS NULL OR doc = @only) ORDER BY deleted_at LIMIT @limit').pluck()
  const purgeRows = [
    db.prepare('DELETE FROM updates WHERE doc = ?'),
    db.prepare('DELETE FROM snapshots WHERE doc = ?'),
    db.prepare('DELETE FROM documents WHERE doc = ?'),
    db.prepare('DELETE FROM versions WHERE doc = ?')
  ]
  // The webhook event of a deletion or restore commits with it.
  const markDeletedRecorded = db.transaction((name: string, atMs: number): boolean => {
    const marked = markDeleted.run({ name, at: atMs }).changes > 0
    if (marked) webhooks?.recordCatalog(name, 'document.deleted', atMs)
    return marked
  })
  const restoreRecorded = db.transaction((name: string): boolean => {
    const restored = restore.run(name).changes > 0
    if (restored) webhooks?.recordCatalog(name, 'document.restored', Date.now())
    return restored
  })
  const purge = db.transaction((deletedBeforeMs: number, limit: number, only: string | null): string[] => {
    const names = selectPurgeable.all({ before: deletedBeforeMs, only, limit }) as string[]
    for (const name of names) for (const statement of purgeRows) statement.run(name)
    return names
  })

  // IMMEDIATE takes the write lock up front, so another process writing the
  // same file cannot invalidate what a replace read.
  // The write lock makes this the only writer of the file, so reading and
  // bumping a document's counter in the transaction numbers its appends in
  // commit order.
  const commit = db.transaction((writes: Write[]) => {
    const transaction = known.begin()
    const numbers = writes.map((write) => {
      if (write.kind === 'append') {
        const docSeq = bumpSeq.get(write.name, Date.now()) as number
        transaction.appended(write.name, Number(insertUpdate.run(write.name, write.data, docSeq).lastInsertRowid))
        return docSeq
      }
      const target = transaction.target(write.name)
      const current = selectSnapshotState.get(write.name) as { version: number, covers: number } | undefined
      // A snapshot this instance never saw may hold what no log row does any more: keep it as an update.
      if (current !== undefined && current.version !== target.version) moveSnapshotToLog.run(bumpSeq.get(write.name, Date.now()), write.name)
      const removed = target.seqs.length > 0 ? deleteUpdates.all(write.name, JSON.stringify(target.seqs)) as number[] : []
      const version = (current?.version ?? 0) + 1
      upsertSnapshot.run(write.name, write.data, version, Math.max(current?.covers ?? 0, ...removed))
      transaction.replaced(write.name, target.seqs, version)
      return 0
    })
    webhooks?.recordAppends(writes.flatMap((write, i) => write.kind === 'append' ? [{ name: write.name, seq: numbers[i] }] : []))
    return { transaction, numbers }
  })
  const writes = createGroupCommit((group) => {
    try {
      const { transaction, numbers } = commit.immediate(group)
      transaction.commit()
      return numbers
    } catch (err) {
      // better-sqlite3 rolls back a failed transaction; should that ROLLBACK fail too,
      // the next group must still start a transaction of its own, not nest in this one.
      if (db.inTransaction) {
        try { db.exec('ROLLBACK') } catch {}
      }
      throw err
    }
  }, options)

  const read = db.transaction((name: string, since: number) => ({
    snapshot: selectSnapshot.get(name) as { data: Buffer, version: number, covers: number } | undefined,
    rows: selectUpdatesSince.all(name, since) as Array<{ seq: number, data: Buffer }>,
    counter: selectSeq.get(name) as { seq: number, deleted_at: number | null } | undefined
  }))

  const readSince = async (name: string, since: number): Promise<StoredDocument> => {
    writes.flush()
    const { snapshot, rows, counter } = read(name, since)
    if (counter?.deleted_at != null) throw new DeletedDocumentError(name, counter.deleted_at)
    const last = counter?.seq ?? 0
    // Even when not returned, the snapshot holds nothing the reader lacks: it saw this version.
    known.loaded(name, snapshot?.version ?? null, rows.map((row) => row.seq))
    return {
      snapshot: snapshot && (since === 0 || snapshot.covers > since) ? snapshot.data : null,
      updates: rows.map((row) => row.data),
      seq: Math.max(since, last)
    }
  }

  return {
    load: (name) => readSince(name, 0),
    readSince,
    append (name, update) {
      return writes.append(name, update)
    },
    replace (name, snapshot) {
      return writes.replace(name, snapshot)
    },
    release (name) {
      known.forget(name)
    },
    async ping () {
      if (!db.open) throw new Error('store is closed')
      db.prepare('SELECT 1').get()
    },
    async list () {
      writes.flush()
      return selectNames.all() as string[]
    },
    webhooks: webhooks?.outbox,
    catalog: {
      async describe (name) {
        writes.flush()
        return (describeOne.get({ name }) as DocumentInfo | undefined) ?? null
      },
      async page (after, limit) {
        writes.flush()
        return describePage.all({ after: after ?? '', limit }) as DocumentInfo[]
      },
      async markDeleted (name, atMs) {
        writes.flush()
        return markDeletedRecorded.immediate(name, atMs)
      },
      async restore (name) {
        writes.flush()
        return restoreRecorded.immediate(name)
      },
      async purge (deletedBeforeMs, limit, only) {
        writes.flush()
        const names = purge.immediate(deletedBeforeMs, limit, only ?? null)
        for (const name of names) known.forget(name)
        return names
      }
    },
    versions,
    signingKey: async () => sqliteSigningKey(options.dataDir),
    async close () {
      if (!db.open) return
      await writes.close()
      db.close()
    }
  }
}

/**
 * Creates the tables, or brings tables of an earlier version up to date in
 * one transaction: updates that predate per-document numbering are numbered
 * 1, 2, … per document in their stored order, and a snapshot that predates
 * it covers 0 (no numbered update; a reader at 0 gets it anyway). The
 * documents table gains `changed_at` (null for documents last written
 * before it existed) and `deleted_at` (the deletion mark).
 */
function upgradeSchema (db: Database.Database): void {
  const columns = (table: string): string[] => db.prepare('SELECT name FROM pragma_table_info(?)').pluck().all(table) as string[]
  db.transaction(() => {
    db.exec(`
      CREATE TABLE IF NOT EXISTS snapshots (
        doc TEXT PRIMARY KEY,
        data BLOB NOT NULL,
        version INTEGER NOT NULL DEFAULT 0,
        covers INTEGER NOT NULL DEFAULT 0
      ) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS updates (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        doc TEXT NOT NULL,
        data BLOB NOT NULL,
        doc_seq INTEGER NOT NULL
      );
      CREATE TABLE IF NOT EXISTS documents (
        doc TEXT PRIMARY KEY,
        seq INTEGER NOT NULL
      ) WITHOUT ROWID;
    `)
    const documentColumns = columns('documents')
    if (!documentColumns.includes('changed_at')) db.exec('ALTER TABLE documents ADD COLUMN changed_at INTEGER')
    if (!documentColumns.includes('deleted_at')) db.exec('ALTER TABLE documents ADD COLUMN deleted_at INTEGER')
    const snapshotColumns = columns('snapshots')
    if (!snapshotColumns.includes('version')) db.exec('ALTER TABLE snapshots ADD COLUMN version INTEGER NOT NULL DEFAULT 0')
    if (!snapshotColumns.includes('covers')) db.exec('ALTER TABLE snapshots ADD COLUMN covers INTEGER NOT NULL DEFAULT 0')
    if (!columns('updates').includes('doc_seq')) {
      db.exec(`
        ALTER TABLE updates ADD COLUMN doc_seq INTEGER;
        UPDATE updates SET doc_seq = numbered.n
          FROM (SELECT seq, row_number() OVER (PARTITION BY doc ORDER BY seq) AS n FROM updates) AS numbered
          WHERE updates.seq = numbered.seq;
        INSERT OR IGNORE INTO documents (doc, seq) SELECT doc, max(doc_seq) FROM updates GROUP BY doc;
        INSERT OR IGNORE INTO documents (doc, seq) SELECT doc, covers FROM snapshots;
      `)
    }
    db.exec(`
      DROP INDEX IF EXISTS updates_by_doc;
      CREATE UNIQUE INDEX IF NOT EXISTS updates_by_doc_seq ON updates (doc, doc_seq);
      CREATE INDEX IF NOT EXISTS documents_deleted ON documents (deleted_at) WHERE deleted_at IS NOT NULL;
    `)
  }).immediate()
}
