/**
 * Documents in PostgreSQL (`pg`). Writes that arrive while a commit is in
 * flight wait and then commit together in the next transaction, so one
 * round trip and one WAL flush serve many updates. Several relays may share
 * the tables: each one's compaction removes only what it has seen.
 *
 * The database failing never takes the process down: every connection has
 * an 'error' listener for its whole life, and a lost or timed-out connection
 * fails the operation that used it. A group whose connection is lost after
 * its `BEGIN` fails as a whole even though its `COMMIT` may have landed: the
 * caller must treat its writes as of unknown outcome (the rooms holding them
 * fail and reload what actually committed).
 */
import pg from 'pg'
import type { DocStore, StoredDocument } from './store.js'
import { createGroupCommit, type GroupLimits, type Write } from './group-commit.js'
import { KnownRows, type KnownRowsTransaction } from './known-rows.js'

/** Options of `openPostgresStore`. */
export interface PostgresStoreOptions extends GroupLimits {
  /** A `postgres://` connection string. */
  readonly connectionString: string
  /** Prefix of the tables, so several deployments (or tests) can share one database. Default `coedit`. */
  readonly tablePrefix?: string
  /** How long opening a connection may take before it fails. Default 10 000 ms. */
  readonly connectTimeoutMs?: number
  /** How long the server may run one statement before it cancels it. Default 30 000 ms. */
  readonly statementTimeoutMs?: number
  /**
   * How long the client waits for the answer to one query (a hung server or
   * network) before it fails it and drops the connection. Default 35 000 ms.
   */
  readonly queryTimeoutMs?: number
}

/**
 * Connects, creates the tables if they are missing, and returns the store.
 * Rejects when the database cannot be reached, `tablePrefix` is not a
 * lowercase identifier of at most 41 characters, or `maxGroupWrites` is
 * above 32 767.
 */
export async function openPostgresStore (options: PostgresStoreOptions): Promise<DocStore> {
  const prefix = options.tablePrefix ?? 'coedit'
  if (!/^[a-z_][a-z0-9_]{0,40}$/.test(prefix)) throw new Error(`invalid table prefix "${prefix}"`)
  // Two parameters per appended row, and one statement takes at most 65 535.
  if ((options.maxGroupWrites ?? 0) > maxRowsPerInsert) throw new Error(`maxGroupWrites may be at most ${maxRowsPerInsert}`)
  const snapshots = `${prefix}_snapshots`
  const updates = `${prefix}_updates`
  // Bounded waits: a database that hangs fails writes (closing their rooms with 1011) instead of stalling them forever.
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: 4,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
    statement_timeout: options.statementTimeoutMs ?? 30_000,
    query_timeout: options.queryTimeoutMs ?? 35_000
  })
  // The pool listens for errors of idle clients only; a checked-out client's lost connection
  // would be an unhandled 'error' event. This listener stays for the client's whole life; the
  // error itself reaches whoever uses the client, as the rejection of its query.
  pool.on('connect', (client) => client.on('error', ignore))
  pool.on('error', ignore) // an idle client's error: the pool drops it, the next query gets a fresh one
  const setup = await pool.connect().catch(async (err) => {
    await pool.end()
    throw err
  })
  try {
    await setup.query('BEGIN')
    await setup.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`${prefix}-schema`])
    await setup.query(`CREATE TABLE IF NOT EXISTS ${snapshots} (doc TEXT PRIMARY KEY, data BYTEA NOT NULL, version BIGINT NOT NULL DEFAULT 0)`)
    await setup.query(`ALTER TABLE ${snapshots} ADD COLUMN IF NOT EXISTS version BIGINT NOT NULL DEFAULT 0`)
    await setup.query(`CREATE TABLE IF NOT EXISTS ${updates} (seq BIGSERIAL PRIMARY KEY, doc TEXT NOT NULL, data BYTEA NOT NULL)`)
    await setup.query(`CREATE INDEX IF NOT EXISTS ${updates}_by_doc ON ${updates} (doc, seq)`)
    await setup.query('COMMIT')
    setup.release()
  } catch (err) {
    setup.release(err as Error) // closing the connection rolls the transaction back
    await pool.end()
    throw err
  }

  const known = new KnownRows()

  const appendRun = async (client: pg.PoolClient, transaction: KnownRowsTransaction, run: Write[]): Promise<void> => {
    // One multi-row insert; rows get increasing seq in row order. Each update is a Buffer
    // parameter of its own, which pg sends in binary: an array parameter would go as one
    // hex-encoded string, twice the bytes and bounded by the largest string V8 can build.
    const rows = run.map((_, i) => `($${2 * i + 1}, $${2 * i + 2})`).join(', ')
    const inserted = await client.query(
      `INSERT INTO ${updates} (doc, data) VALUES ${rows} RETURNING doc, seq`,
      run.flatMap((write) => [write.name, asBuffer(write.data)]))
    for (const row of inserted.rows as Array<{ doc: string, seq: string }>) transaction.appended(row.doc, Number(row.seq))
  }

  const replace = async (client: pg.PoolClient, transaction: KnownRowsTransaction, write: Write): Promise<void> => {
    const target = transaction.target(write.name)
    const current = await client.query(`SELECT version FROM ${snapshots} WHERE doc = $1`, [write.name])
    const currentVersion = current.rows.length > 0 ? Number(current.rows[0].version) : null
    // A snapshot this instance never saw may hold what no log row does any more: keep it as an update.
    if (currentVersion !== null && currentVersion !== target.version) {
      await client.query(`INSERT INTO ${updates} (doc, data) SELECT doc, data FROM ${snapshots} WHERE doc = $1`, [write.name])
    }
    if (target.seqs.length > 0) {
      await client.query(`DELETE FROM ${updates} WHERE doc = $1 AND seq = ANY($2::bigint[])`, [write.name, target.seqs])
    }
    const version = (currentVersion ?? 0) + 1
    await client.query(
      `INSERT INTO ${snapshots} (doc, data, version) VALUES ($1, $2, $3)
       ON CONFLICT (doc) DO UPDATE SET data = excluded.data, version = excluded.version`,
      [write.name, asBuffer(write.data), version])
    transaction.replaced(write.name, target.seqs, version)
  }

  const commit = async (writes: Write[]): Promise<void> => {
    const transaction = known.begin()
    const client = await pool.connect()
    try {
      await client.query('BEGIN')
      // Replaces of one document by several relays take turns; locking in name order cannot deadlock.
      const replaced = [...new Set(writes.filter((write) => write.kind === 'replace').map((write) => write.name))].sort()
      if (replaced.length > 0) {
        await client.query('SELECT pg_advisory_xact_lock(hashtextextended(name, 0)) FROM unnest($1::text[]) AS name', [replaced.map((name) => `${prefix}:${name}`)])
      }
      for (let i = 0; i < writes.length;) {
        if (writes[i].kind === 'replace') {
          await replace(client, transaction, writes[i++])
          continue
        }
        const start = i
        while (i < writes.length && writes[i].kind === 'append') i++
        await appendRun(client, transaction, writes.slice(start, i))
      }
      await client.query('COMMIT')
      client.release()
    } catch (err) {
      // The connection may be lost or hung: a ROLLBACK could wait for the query timeout
      // again. Dropping the connection rolls back whatever the server did not commit.
      client.release(err as Error)
      throw err
    }
    transaction.commit()
  }

  const writes = createGroupCommit(commit, options)
  let closed = false

  return {
    async load (name): Promise<StoredDocument> {
      await writes.settled()
      // One statement, so a concurrent compaction cannot split snapshot and log.
      const result = await pool.query(
        `SELECT 0 AS part, version AS seq, data FROM ${snapshots} WHERE doc = $1
         UNION ALL SELECT 1, seq, data FROM ${updates} WHERE doc = $1 ORDER BY part, seq`, [name])
      const rows = result.rows as Array<{ part: number, seq: string, data: Buffer }>
      const snapshot = rows.length > 0 && rows[0].part === 0 ? rows[0] : null
      const log = snapshot ? rows.slice(1) : rows
      known.loaded(name, snapshot ? Number(snapshot.seq) : null, log.map((row) => Number(row.seq)))
      return { snapshot: snapshot?.data ?? null, updates: log.map((row) => row.data) }
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
      await writes.settled()
      const result = await pool.query(`SELECT doc COLLATE "C" AS doc FROM ${snapshots} UNION SELECT doc FROM ${updates} ORDER BY 1`)
      return result.rows.map((row) => row.doc as string)
    },
    async close () {
      if (closed) return
      closed = true
      await writes.close()
      await pool.end()
    }
  }
}

const ignore = (): void => {}

/** Rows one INSERT statement can carry at two parameters each. */
const maxRowsPerInsert = 32_767

/** The bytes of `data` as a Buffer sharing its memory (pg sends Buffers as bytea). */
function asBuffer (data: Uint8Array): Buffer {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength)
}
