/**
 * Versions (see `versions.ts`) in the SQLite store's database: table
 * `versions (doc, id, created_at, name, seq, authors, state_vector, data)`,
 * unique per (doc, id) and per (doc, seq). Each call is one IMMEDIATE
 * transaction, so another process writing the file cannot interleave.
 */
import type Database from 'better-sqlite3'
import { mergeVersionUpdates, prunable, sameState, versionUpdate, type OnVersionCreated, type VersionInfo, type VersionStore } from './versions.js'

interface Row {
  id: number
  created_at: number
  name: string | null
  seq: number
  authors: string
  state_vector: Buffer
  data: Buffer
}

const info = (row: Row): VersionInfo => ({ id: row.id, createdAtMs: row.created_at, name: row.name, seq: row.seq, authors: JSON.parse(row.authors) as string[] })

/**
 * Creates the versions table if missing and returns the versions of `db`;
 * `onCreated` runs in the transaction that inserts each new version.
 */
export function openSqliteVersions (db: Database.Database, onCreated?: OnVersionCreated): VersionStore {
  db.exec(`
    CREATE TABLE IF NOT EXISTS versions (
      doc TEXT NOT NULL,
      id INTEGER NOT NULL,
      created_at INTEGER NOT NULL,
      name TEXT,
      seq INTEGER NOT NULL,
      authors TEXT NOT NULL,
      state_vector BLOB NOT NULL,
      data BLOB NOT NULL,
      PRIMARY KEY (doc, id)
    ) WITHOUT ROWID;
    CREATE UNIQUE INDEX IF NOT EXISTS versions_by_seq ON versions (doc, seq);
  `)
  const newest = db.prepare('SELECT * FROM versions WHERE doc = ? ORDER BY id DESC LIMIT 1')
  const insert = db.prepare(
    'INSERT INTO versions (doc, id, created_at, name, seq, authors, state_vector, data) VALUES (@doc, @id, @createdAt, @name, @seq, @authors, @stateVector, @data)')
  const restate = db.prepare('UPDATE versions SET name = ?, authors = ? WHERE doc = ? AND id = ?')
  const all = db.prepare('SELECT * FROM versions WHERE doc = ? ORDER BY id')
  const listed = db.prepare('SELECT id, created_at, name, seq, authors FROM versions WHERE doc = ? ORDER BY id')
  const exists = db.prepare('SELECT 1 FROM versions WHERE doc = ? AND id = ?')
  const chain = db.prepare('SELECT data FROM versions WHERE doc = ? AND id <= ? ORDER BY id').pluck()
  const oldDocuments = db.prepare('SELECT DISTINCT doc FROM versions WHERE created_at < ? AND name IS NULL').pluck()
  const remove = db.prepare('DELETE FROM versions WHERE doc = ? AND id = ?')
  const replaceData = db.prepare('UPDATE versions SET data = ? WHERE doc = ? AND id = ?')

  const record = db.transaction((document: string, capture: Parameters<VersionStore['record']>[1]): VersionInfo | null => {
    const last = newest.get(document) as Row | undefined
    if (last && last.seq > capture.seq) return null
    if (last && last.seq === capture.seq) {
      const { name, authors } = sameState(info(last), capture)
      restate.run(name, JSON.stringify(authors), document, last.id)
      return { ...info(last), name, authors }
    }
    const id = (last?.id ?? 0) + 1
    insert.run({
      doc: document,
      id,
      createdAt: capture.createdAtMs,
      name: capture.name,
      seq: capture.seq,
      authors: JSON.stringify(capture.authors),
      stateVector: capture.stateVector,
      data: versionUpdate(capture, last?.state_vector ?? null)
    })
    const created: VersionInfo = { id, createdAtMs: capture.createdAtMs, name: capture.name, seq: capture.seq, authors: [...capture.authors] }
    onCreated?.(document, created)
    return created
  })
  const prune = db.transaction((createdBeforeMs: number): number => {
    let removed = 0
    for (const document of oldDocuments.all(createdBeforeMs) as string[]) {
      const rows = all.all(document) as Row[]
      const gone = new Set(prunable(rows.map((row) => ({ ...info(row), row })), createdBeforeMs).map((version) => version.row))
      let carried: Uint8Array[] = []
      for (const row of rows) {
        if (gone.has(row)) {
          carried.push(row.data)
          remove.run(document, row.id)
          removed++
        } else if (carried.length > 0) {
          replaceData.run(mergeVersionUpdates([...carried, row.data]), document, row.id)
          carried = []
        }
      }
    }
    return removed
  })
  const read = db.transaction((document: string, id: number): Uint8Array | null =>
    exists.get(document, id) === undefined ? null : mergeVersionUpdates(chain.all(document, id) as Buffer[]))

  return {
    async record (document, capture) {
      return record.immediate(document, capture)
    },
    async list (document) {
      return (listed.all(document) as Row[]).map(info)
    },
    async read (document, id) {
      return read(document, id)
    },
    async prune (createdBeforeMs) {
      return prune.immediate(createdBeforeMs)
    }
  }
}
