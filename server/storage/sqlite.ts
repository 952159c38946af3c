/**
 * Documents in an embedded SQLite database (better-sqlite3), in WAL mode.
 *
 * Writes made in one event-loop turn are committed together in one
 * transaction (group commit). With `synchronous = NORMAL` a commit survives
 * a crash of this process (the WAL is in the OS's hands once written); a
 * power loss or OS crash can lose the last commits before a checkpoint.
 * `synchronous = FULL` makes each commit survive a power loss too, at the
 * cost of an fsync per transaction.
 */
import Database from 'better-sqlite3'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { DocStore, StoredDocument } from './store.js'

/** Options of `openSqliteStore`. */
export interface SqliteStoreOptions {
  /** Folder that holds `coedit.db`; created if missing. */
  readonly dataDir: string
  /** 'normal' (default) survives a process crash; 'full' also a power loss. */
  readonly sync?: 'normal' | 'full'
}

type Write =
  | { readonly kind: 'append', readonly name: string, readonly data: Uint8Array }
  | { readonly kind: 'replace', readonly name: string, readonly data: Uint8Array }

/** Opens (creating if needed) the database in `dataDir`. */
export function openSqliteStore (options: SqliteStoreOptions): DocStore {
  mkdirSync(options.dataDir, { recursive: true })
  const db = new Database(join(options.dataDir, 'coedit.db'))
  db.pragma('journal_mode = WAL')
  db.pragma(`synchronous = ${options.sync === 'full' ? 'FULL' : 'NORMAL'}`)
  db.pragma('busy_timeout = 5000')
  db.exec(`
    CREATE TABLE IF NOT EXISTS snapshots (
      doc TEXT PRIMARY KEY,
      data BLOB NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS updates (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      doc TEXT NOT NULL,
      data BLOB NOT NULL
    );
    CREATE INDEX IF NOT EXISTS updates_by_doc ON updates (doc, seq);
  `)
  const insertUpdate = db.prepare('INSERT INTO updates (doc, data) VALUES (?, ?)')
  const deleteUpdates = db.prepare('DELETE FROM updates WHERE doc = ? AND seq <= ?')
  const upsertSnapshot = db.prepare('INSERT INTO snapshots (doc, data) VALUES (?, ?) ON CONFLICT (doc) DO UPDATE SET data = excluded.data')
  const selectSnapshot = db.prepare('SELECT data FROM snapshots WHERE doc = ?').pluck()
  const selectUpdates = db.prepare('SELECT seq, data FROM updates WHERE doc = ? ORDER BY seq')
  const selectNames = db.prepare('SELECT doc FROM snapshots UNION SELECT doc FROM updates ORDER BY 1').pluck()

  /** Per document, the highest log seq this instance has loaded or written: what a `replace` may delete. */
  const seenSeq = new Map<string, number | bigint>()

  const commit = db.transaction((writes: Write[]) => {
    for (const write of writes) {
      if (write.kind === 'append') {
        seenSeq.set(write.name, insertUpdate.run(write.name, write.data).lastInsertRowid)
      } else {
        deleteUpdates.run(write.name, seenSeq.get(write.name) ?? 0)
        upsertSnapshot.run(write.name, write.data)
      }
    }
  })

  /** Writes of the current event-loop turn; they commit together and share one promise. */
  let pending: { writes: Write[], done: Promise<void>, resolve: () => void, reject: (err: unknown) => void } | null = null
  let closed = false

  const flush = (): void => {
    const batch = pending
    pending = null
    if (!batch) return
    try {
      commit(batch.writes)
    } catch (err) {
      batch.reject(err)
      return
    }
    batch.resolve()
  }

  const enqueue = (write: Write): Promise<void> => {
    if (closed) return Promise.reject(new Error('store is closed'))
    if (!pending) {
      let resolve!: () => void
      let reject!: (err: unknown) => void
      const done = new Promise<void>((res, rej) => { resolve = res; reject = rej })
      pending = { writes: [], done, resolve, reject }
      setImmediate(flush)
    }
    pending.writes.push(write)
    return pending.done
  }

  return {
    async load (name): Promise<StoredDocument> {
      flush()
      const read = db.transaction(() => ({
        snapshot: selectSnapshot.get(name) as Buffer | undefined,
        rows: selectUpdates.all(name) as Array<{ seq: number, data: Buffer }>
      }))
      const { snapshot, rows } = read()
      if (rows.length > 0) seenSeq.set(name, rows[rows.length - 1].seq)
      return { snapshot: snapshot ?? null, updates: rows.map((row) => row.data) }
    },
    append (name, update) {
      return enqueue({ kind: 'append', name, data: update })
    },
    replace (name, snapshot) {
      return enqueue({ kind: 'replace', name, data: snapshot })
    },
    async list () {
      flush()
      return selectNames.all() as string[]
    },
    async close () {
      if (closed) return
      flush()
      closed = true
      db.close()
    }
  }
}
