/**
 * Versions (see `versions.ts`) in PostgreSQL: table `${prefix}_versions
 * (doc, id, created_at, name, seq, authors, state_vector, data)`, unique
 * per (doc, id) and per (doc, seq). Recording and pruning a document take
 * a transaction-scoped advisory lock on it, so processes take turns.
 */
import type pg from 'pg'
import { mergeVersionUpdates, prunable, sameState, versionUpdate, type VersionInfo, type VersionStore } from './versions.js'

/** `OnVersionCreated` for PostgreSQL: runs with the client of the transaction that inserts the version. */
export type OnPostgresVersionCreated = (client: pg.PoolClient, document: string, version: VersionInfo) => Promise<void>

interface Row {
  id: string
  created_at: string
  name: string | null
  seq: string
  authors: string[]
  state_vector: Buffer
  data: Buffer
}

const info = (row: Row): VersionInfo => ({ id: Number(row.id), createdAtMs: Number(row.created_at), name: row.name, seq: Number(row.seq), authors: row.authors })

/** Creates the versions table if missing, with `client` (inside the caller's schema transaction). */
export async function upgradeVersionsSchema (client: pg.PoolClient, prefix: string): Promise<void> {
  const versions = `${prefix}_versions`
  await client.query(
    `CREATE TABLE IF NOT EXISTS ${versions} (
       doc TEXT NOT NULL, id BIGINT NOT NULL, created_at BIGINT NOT NULL, name TEXT, seq BIGINT NOT NULL,
       authors TEXT[] NOT NULL, state_vector BYTEA NOT NULL, data BYTEA NOT NULL, PRIMARY KEY (doc, id))`)
  await client.query(`CREATE UNIQUE INDEX IF NOT EXISTS ${versions}_by_seq ON ${versions} (doc, seq)`)
}

/**
 * The versions of the tables `${prefix}_…` that `upgradeVersionsSchema`
 * created; `onCreated` runs in the transaction that inserts each new version.
 */
export function postgresVersions (pool: pg.Pool, prefix: string, onCreated?: OnPostgresVersionCreated): VersionStore {
  const versions = `${prefix}_versions`
  const locked = async <T>(document: string, work: (client: pg.PoolClient) => Promise<T>): Promise<T> => {
    const client = await pool.connect()
    try {
      await client.query('BEGIN')
      await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`${versions}:${document}`])
      const result = await work(client)
      await client.query('COMMIT')
      client.release()
      return result
    } catch (err) {
      client.release(err as Error) // dropping the connection rolls back
      throw err
    }
  }
  return {
    record (document, capture) {
      return locked(document, async (client) => {
        const newest = await client.query(`SELECT * FROM ${versions} WHERE doc = $1 ORDER BY id DESC LIMIT 1`, [document])
        const last = newest.rows[0] as Row | undefined
        if (last && Number(last.seq) > capture.seq) return null
        if (last && Number(last.seq) === capture.seq) {
          const { name, authors } = sameState(info(last), capture)
          await client.query(`UPDATE ${versions} SET name = $1, authors = $2 WHERE doc = $3 AND id = $4`, [name, authors, document, last.id])
          return { ...info(last), name, authors }
        }
        const id = (last ? Number(last.id) : 0) + 1
        await client.query(
          `INSERT INTO ${versions} (doc, id, created_at, name, seq, authors, state_vector, data) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
          [document, id, capture.createdAtMs, capture.name, capture.seq, capture.authors, asBuffer(capture.stateVector),
            asBuffer(versionUpdate(capture, last?.state_vector ?? null))])
        const created: VersionInfo = { id, createdAtMs: capture.createdAtMs, name: capture.name, seq: capture.seq, authors: [...capture.authors] }
        await onCreated?.(client, document, created)
        return created
      })
    },
    async list (document) {
      const result = await pool.query(`SELECT id, created_at, name, seq, authors FROM ${versions} WHERE doc = $1 ORDER BY id`, [document])
      return (result.rows as Row[]).map(info)
    },
    async read (document, id) {
      // One statement: a concurrent prune cannot split the chain.
      const result = await pool.query(
        `SELECT data FROM ${versions} WHERE doc = $1 AND id <= $2 AND EXISTS (SELECT 1 FROM ${versions} WHERE doc = $1 AND id = $2) ORDER BY id`, [document, id])
      return result.rows.length === 0 ? null : mergeVersionUpdates(result.rows.map((row) => row.data as Buffer))
    },
    async prune (createdBeforeMs) {
      const candidates = await pool.query(`SELECT DISTINCT doc FROM ${versions} WHERE created_at < $1 AND name IS NULL`, [createdBeforeMs])
      let removed = 0
      for (const { doc } of candidates.rows as Array<{ doc: string }>) {
        removed += await locked(doc, async (client) => {
          const rows = (await client.query(`SELECT * FROM ${versions} WHERE doc = $1 ORDER BY id`, [doc])).rows as Row[]
          const gone = new Set(prunable(rows.map((row) => ({ ...info(row), row })), createdBeforeMs).map((version) => version.row))
          let carried: Uint8Array[] = []
          for (const row of rows) {
            if (gone.has(row)) {
              carried.push(row.data)
              await client.query(`DELETE FROM ${versions} WHERE doc = $1 AND id = $2`, [doc, row.id])
            } else if (carried.length > 0) {
              await client.query(`UPDATE ${versions} SET data = $1 WHERE doc = $2 AND id = $3`, [asBuffer(mergeVersionUpdates([...carried, row.data])), doc, row.id])
              carried = []
            }
          }
          return gone.size
        })
      }
      return removed
    }
  }
}

/** The bytes of `data` as a Buffer sharing its memory (pg sends Buffers as bytea). */
function asBuffer (data: Uint8Array): Buffer {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength)
}
