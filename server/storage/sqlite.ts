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
import type { DocStore, StoredDocument } from './store.js'
import { createGroupCommit, type GroupLimits, type Write } from './group-commit.js'
import { KnownRows } from './known-rows.js'

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
}

/** Opens (creating if needed) the database in `dataDir`. */
export function openSqliteStore (options: SqliteStoreOptions): DocStore {
  mkdirSync(options.dataDir, { recursive: true })
  const db = new Database(join(options.dataDir, 'coedit.db'))
  db.pragma('journal_mode = WAL')
  db.pragma(`synchronous = ${options.sync === 'full' ? 'FULL' : 'NORMAL'}`)
  db.pragma(`busy_timeout = ${Math.max(0, Math.trunc(options.busyTimeoutMs ?? 250))}`)
  db.exec(`
    CREATE TABLE IF NOT EXISTS snapshots (
      doc TEXT PRIMARY KEY,
      data BLOB NOT NULL,
      version INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS updates (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      doc TEXT NOT NULL,
      data BLOB NOT NULL
    );
    CREATE INDEX IF NOT EXISTS updates_by_doc ON updates (doc, seq);
  `)
  const snapshotColumns = db.prepare('SELECT name FROM pragma_table_info(\'snapshots\')').pluck().all() as string[]
  if (!snapshotColumns.includes('version')) db.exec('ALTER TABLE snapshots ADD COLUMN version INTEGER NOT NULL DEFAULT 0')

  const insertUpdate = db.prepare('INSERT INTO updates (doc, data) VALUES (?, ?)')
  const deleteUpdates = db.prepare('DELETE FROM updates WHERE doc = ? AND seq IN (SELECT value FROM json_each(?))')
  const moveSnapshotToLog = db.prepare('INSERT INTO updates (doc, data) SELECT doc, data FROM snapshots WHERE doc = ?')
  const upsertSnapshot = db.prepare(
    'INSERT INTO snapshots (doc, data, version) VALUES (?, ?, ?) ON CONFLICT (doc) DO UPDATE SET data = excluded.data, version = excluded.version')
  const selectVersion = db.prepare('SELECT version FROM snapshots WHERE doc = ?').pluck()
  const selectSnapshot = db.prepare('SELECT data, version FROM snapshots WHERE doc = ?')
  const selectUpdates = db.prepare('SELECT seq, data FROM updates WHERE doc = ? ORDER BY seq')
  const selectNames = db.prepare('SELECT doc FROM snapshots UNION SELECT doc FROM updates ORDER BY 1').pluck()

  const known = new KnownRows()

  // IMMEDIATE takes the write lock up front, so another process writing the
  // same file cannot invalidate what a replace read.
  const commit = db.transaction((writes: Write[]) => {
    const transaction = known.begin()
    for (const write of writes) {
      if (write.kind === 'append') {
        transaction.appended(write.name, Number(insertUpdate.run(write.name, write.data).lastInsertRowid))
        continue
      }
      const target = transaction.target(write.name)
      const current = selectVersion.get(write.name) as number | undefined
      // A snapshot this instance never saw may hold what no log row does any more: keep it as an update.
      if (current !== undefined && current !== target.version) moveSnapshotToLog.run(write.name)
      if (target.seqs.length > 0) deleteUpdates.run(write.name, JSON.stringify(target.seqs))
      const version = (current ?? 0) + 1
      upsertSnapshot.run(write.name, write.data, version)
      transaction.replaced(write.name, target.seqs, version)
    }
    return transaction
  })
  const writes = createGroupCommit((group) => {
    try {
      commit.immediate(group).commit()
    } catch (err) {
      // better-sqlite3 rolls back a failed transaction; should that ROLLBACK fail too,
      // the next group must still start a transaction of its own, not nest in this one.
      if (db.inTransaction) {
        try { db.exec('ROLLBACK') } catch {}
      }
      throw err
    }
  }, options)

  const read = db.transaction((name: string) => ({
    snapshot: selectSnapshot.get(name) as { data: Buffer, version: number } | undefined,
    rows: selectUpdates.all(name) as Array<{ seq: number, data: Buffer }>
  }))

  return {
    async load (name): Promise<StoredDocument> {
      writes.flush()
      const { snapshot, rows } = read(name)
      known.loaded(name, snapshot?.version ?? null, rows.map((row) => row.seq))
      return { snapshot: snapshot?.data ?? null, updates: rows.map((row) => row.data) }
    },
    append (name, update) {
      return writes.add({ kind: 'append', name, data: update })
    },
    replace (name, snapshot) {
      return writes.add({ kind: 'replace', name, data: snapshot })
    },
    release (name) {
      known.forget(name)
    },
    async list () {
      writes.flush()
      return selectNames.all() as string[]
    },
    async close () {
      if (!db.open) return
      await writes.close()
      db.close()
    }
  }
}
