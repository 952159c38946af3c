/**
 * Documents in PostgreSQL (`pg`). Writes that arrive while a commit is in
 * flight wait and then commit together in the next transaction, so one
 * round trip and one WAL flush serve many updates.
 */
import pg from 'pg'
import type { DocStore, StoredDocument } from './store.js'

/** Options of `openPostgresStore`. */
export interface PostgresStoreOptions {
  /** A `postgres://` connection string. */
  readonly connectionString: string
  /** Prefix of the tables, so several deployments (or tests) can share one database. Default `coedit`. */
  readonly tablePrefix?: string
}

type Write =
  | { readonly kind: 'append', readonly name: string, readonly data: Uint8Array }
  | { readonly kind: 'replace', readonly name: string, readonly data: Uint8Array }

interface Batch {
  readonly writes: Write[]
  readonly done: Promise<void>
  resolve (): void
  reject (err: unknown): void
}

/**
 * Connects, creates the tables if they are missing, and returns the store.
 * Rejects when the database cannot be reached.
 */
export async function openPostgresStore (options: PostgresStoreOptions): Promise<DocStore> {
  const prefix = options.tablePrefix ?? 'coedit'
  if (!/^[a-z_][a-z0-9_]{0,40}$/.test(prefix)) throw new Error(`invalid table prefix "${prefix}"`)
  const snapshots = `${prefix}_snapshots`
  const updates = `${prefix}_updates`
  const pool = new pg.Pool({ connectionString: options.connectionString, max: 4 })
  pool.on('error', () => {}) // an idle client's error surfaces on its next query
  const setup = await pool.connect()
  try {
    await setup.query('BEGIN')
    await setup.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`${prefix}-schema`])
    await setup.query(`CREATE TABLE IF NOT EXISTS ${snapshots} (doc TEXT PRIMARY KEY, data BYTEA NOT NULL)`)
    await setup.query(`CREATE TABLE IF NOT EXISTS ${updates} (seq BIGSERIAL PRIMARY KEY, doc TEXT NOT NULL, data BYTEA NOT NULL)`)
    await setup.query(`CREATE INDEX IF NOT EXISTS ${updates}_by_doc ON ${updates} (doc, seq)`)
    await setup.query('COMMIT')
  } catch (err) {
    await setup.query('ROLLBACK').catch(() => {})
    throw err
  } finally {
    setup.release()
  }

  /** Per document, the highest log seq this instance has loaded or written: what a `replace` may delete. */
  const seenSeq = new Map<string, string>()
  let pending: Batch | null = null
  let inFlight: Promise<void> | null = null
  let closed = false

  const commit = async (writes: Write[]): Promise<void> => {
    const client = await pool.connect()
    try {
      await client.query('BEGIN')
      for (let i = 0; i < writes.length;) {
        const write = writes[i]
        if (write.kind === 'replace') {
          await client.query(`DELETE FROM ${updates} WHERE doc = $1 AND seq <= $2`, [write.name, seenSeq.get(write.name) ?? '0'])
          await client.query(
            `INSERT INTO ${snapshots} (doc, data) VALUES ($1, $2) ON CONFLICT (doc) DO UPDATE SET data = excluded.data`,
            [write.name, Buffer.from(write.data.buffer, write.data.byteOffset, write.data.byteLength)]
          )
          i++
          continue
        }
        // A run of appends becomes one multi-row insert; rows get increasing seq in array order.
        const names: string[] = []
        const data: Buffer[] = []
        for (; i < writes.length && writes[i].kind === 'append'; i++) {
          names.push(writes[i].name)
          data.push(Buffer.from(writes[i].data.buffer, writes[i].data.byteOffset, writes[i].data.byteLength))
        }
        const inserted = await client.query(
          `INSERT INTO ${updates} (doc, data) SELECT * FROM unnest($1::text[], $2::bytea[]) RETURNING doc, seq`, [names, data])
        for (const row of inserted.rows as Array<{ doc: string, seq: string }>) {
          if (BigInt(row.seq) > BigInt(seenSeq.get(row.doc) ?? '0')) seenSeq.set(row.doc, row.seq)
        }
      }
      await client.query('COMMIT')
      client.release()
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {})
      client.release(true)
      throw err
    }
  }

  const run = (): void => {
    if (inFlight || !pending) return
    const batch = pending
    pending = null
    inFlight = commit(batch.writes).then(() => batch.resolve(), (err) => batch.reject(err)).finally(() => {
      inFlight = null
      run()
    })
  }

  const enqueue = (write: Write): Promise<void> => {
    if (closed) return Promise.reject(new Error('store is closed'))
    if (!pending) {
      let resolve!: () => void
      let reject!: (err: unknown) => void
      const done = new Promise<void>((res, rej) => { resolve = res; reject = rej })
      pending = { writes: [], done, resolve, reject }
      setImmediate(run)
    }
    pending.writes.push(write)
    return pending.done
  }

  const drain = async (): Promise<void> => {
    while (inFlight || pending) {
      run()
      await (inFlight ?? Promise.resolve()).catch(() => {})
    }
  }

  return {
    async load (name): Promise<StoredDocument> {
      // One statement, so a concurrent compaction cannot split snapshot and log.
      const result = await pool.query(
        `SELECT 0 AS part, 0::bigint AS seq, data FROM ${snapshots} WHERE doc = $1
         UNION ALL SELECT 1, seq, data FROM ${updates} WHERE doc = $1 ORDER BY part, seq`, [name])
      const rows = result.rows as Array<{ part: number, seq: string, data: Buffer }>
      const hasSnapshot = rows.length > 0 && rows[0].part === 0
      const last = rows[rows.length - 1]
      if (last && last.part === 1) seenSeq.set(name, last.seq)
      return {
        snapshot: hasSnapshot ? rows[0].data : null,
        updates: (hasSnapshot ? rows.slice(1) : rows).map((row) => row.data)
      }
    },
    append (name, update) {
      return enqueue({ kind: 'append', name, data: update })
    },
    replace (name, snapshot) {
      return enqueue({ kind: 'replace', name, data: snapshot })
    },
    async list () {
      const result = await pool.query(`SELECT doc FROM ${snapshots} UNION SELECT doc FROM ${updates} ORDER BY 1`)
      return result.rows.map((row) => row.doc as string)
    },
    async close () {
      if (closed) return
      closed = true
      await drain()
      await pool.end()
    }
  }
}
