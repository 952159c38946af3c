/**
 * Documents in PostgreSQL (`pg`). Writes that arrive while a commit is in
 * flight wait and then commit together in the next transaction, so one
 * round trip and one WAL flush serve many updates. Several relays may share
 * the tables: each one's compaction removes only what it has seen.
 *
 * Tables (`coedit` stands for the prefix):
 * - `coedit_documents (doc, seq, changed_at, deleted_at)`: the last
 *   sequence number given to each document, when it was last appended to
 *   and when it was marked deleted (ms since the epoch, or null). A group takes the rows of the documents it writes, in name
 *   order, with one upsert that adds its appends to `seq`; the row lock
 *   holds other appenders of the document until this transaction ends, so
 *   numbers commit in order and never repeat.
 * - `coedit_updates (seq, doc, data, doc_seq)`: the log. `seq` is a row id
 *   across all documents (what a store instance remembers having seen),
 *   `doc_seq` the per-document sequence number, unique per document.
 * - `coedit_snapshots (doc, data, version, covers)`: the last compaction;
 *   `version` grows by one per replace, `covers` is the highest `doc_seq`
 *   any compaction of the document removed.
 * - `coedit_versions`: the documents' history (`versions-postgres.ts`),
 *   which compaction never touches; a purge removes it.
 * - `coedit_signing_key`: the server's own key for signing links (`signing-key.ts`).
 *
 * The database failing never takes the process down: every connection has
 * an 'error' listener for its whole life, and a lost or timed-out connection
 * fails the operation that used it. A group whose connection is lost after
 * its `BEGIN` fails as a whole even though its `COMMIT` may have landed: the
 * caller must treat its writes as of unknown outcome (the rooms holding them
 * fail and reload what actually committed).
 */
import pg from 'pg'
import { DeletedDocumentError, type DocStore, type DocumentInfo, type StoredDocument } from './store.js'
import { createGroupCommit, type GroupLimits, type Write } from './group-commit.js'
import { KnownRows, type KnownRowsTransaction } from './known-rows.js'
import { createWebhookTables, postgresWebhooks, type PostgresWebhooks } from './postgres-webhooks.js'
import type { WebhookRecording } from './webhook-outbox.js'
import { postgresVersions, upgradeVersionsSchema, type OnPostgresVersionCreated } from './versions-postgres.js'
import { createSigningKeyTable, postgresSigningKey } from './signing-key.js'

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
  /** Record webhook events in the transactions of the changes that cause them; absent records none (and creates no outbox tables). */
  readonly webhooks?: WebhookRecording
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
  const documents = `${prefix}_documents`
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
  // Other processes may be writing the same tables meanwhile: a schema statement that
  // deadlocks with their commits is retried, a few times, in a fresh transaction.
  for (let attempt = 1; ; attempt++) {
    const setup = await pool.connect().catch(async (err) => {
      await pool.end()
      throw err
    })
    try {
      await setup.query('BEGIN')
      await setup.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`${prefix}-schema`])
      await upgradeSchema(setup, prefix)
      if (options.webhooks) await createWebhookTables(setup, prefix)
      await upgradeVersionsSchema(setup, prefix)
      await createSigningKeyTable(setup, prefix)
      await setup.query('COMMIT')
      setup.release()
      break
    } catch (err) {
      setup.release(err as Error) // closing the connection rolls the transaction back
      if ((err as { code?: string }).code === deadlockDetected && attempt < maxSchemaAttempts) {
        await new Promise((resolve) => setTimeout(resolve, 50 + Math.random() * 200 * attempt))
        continue
      }
      await pool.end()
      throw err
    }
  }

  const known = new KnownRows()
  const webhooks = options.webhooks ? postgresWebhooks(pool, prefix, options.webhooks) : null

  /**
   * Takes the counter rows of every document the group writes, in name
   * order (so two groups cannot deadlock on them), adding each document's
   * number of appends. Returns the first number of each document's appends.
   */
  const takeNumbers = async (client: pg.PoolClient, writes: Write[]): Promise<Map<string, number>> => {
    const appends = new Map<string, number>()
    for (const write of writes) appends.set(write.name, (appends.get(write.name) ?? 0) + (write.kind === 'append' ? 1 : 0))
    const taken = await client.query(
      `INSERT INTO ${documents} (doc, seq, changed_at) SELECT doc, n, CASE WHEN n > 0 THEN $3::bigint END FROM unnest($1::text[], $2::bigint[]) AS t(doc, n) ORDER BY doc
       ON CONFLICT (doc) DO UPDATE SET seq = ${documents}.seq + excluded.seq, changed_at = coalesce(excluded.changed_at, ${documents}.changed_at) RETURNING doc, seq`,
      [[...appends.keys()], [...appends.values()], Date.now()])
    return new Map((taken.rows as Array<{ doc: string, seq: string }>).map((row) => [row.doc, Number(row.seq) - (appends.get(row.doc) as number) + 1]))
  }

  const appendRun = async (client: pg.PoolClient, transaction: KnownRowsTransaction, run: Write[], numbers: number[]): Promise<void> => {
    // One multi-row insert; rows get increasing seq in row order. Each update is a Buffer
    // parameter of its own, which pg sends in binary: an array parameter would go as one
    // hex-encoded string, twice the bytes and bounded by the largest string V8 can build.
    // The sequence numbers are integers this store computed: written as literals, they
    // leave the statement within two parameters per row.
    const rows = run.map((_, i) => `($${2 * i + 1}, $${2 * i + 2}, ${numbers[i]})`).join(', ')
    const inserted = await client.query(
      `INSERT INTO ${updates} (doc, data, doc_seq) VALUES ${rows} RETURNING doc, seq`,
      run.flatMap((write) => [write.name, asBuffer(write.data)]))
    for (const row of inserted.rows as Array<{ doc: string, seq: string }>) transaction.appended(row.doc, Number(row.seq))
  }

  const replace = async (client: pg.PoolClient, transaction: KnownRowsTransaction, write: Write): Promise<void> => {
    const target = transaction.target(write.name)
    const current = await client.query(`SELECT version, covers FROM ${snapshots} WHERE doc = $1`, [write.name])
    const currentVersion = current.rows.length > 0 ? Number(current.rows[0].version) : null
    let covers = current.rows.length > 0 ? Number(current.rows[0].covers) : 0
    // A snapshot this instance never saw may hold what no log row does any more: keep it as
    // an update, numbered like an append (this transaction holds the counter row).
    if (currentVersion !== null && currentVersion !== target.version) {
      await client.query(
        `WITH taken AS (UPDATE ${documents} SET seq = seq + 1 WHERE doc = $1 RETURNING seq)
         INSERT INTO ${updates} (doc, data, doc_seq) SELECT doc, data, taken.seq FROM ${snapshots}, taken WHERE doc = $1`, [write.name])
    }
    if (target.seqs.length > 0) {
      const removed = await client.query(
        `WITH removed AS (DELETE FROM ${updates} WHERE doc = $1 AND seq = ANY($2::bigint[]) RETURNING doc_seq)
         SELECT max(doc_seq) AS covers FROM removed`, [write.name, target.seqs])
      covers = Math.max(covers, Number(removed.rows[0].covers ?? 0))
    }
    const version = (currentVersion ?? 0) + 1
    await client.query(
      `INSERT INTO ${snapshots} (doc, data, version, covers) VALUES ($1, $2, $3, $4)
       ON CONFLICT (doc) DO UPDATE SET data = excluded.data, version = excluded.version, covers = excluded.covers`,
      [write.name, asBuffer(write.data), version, covers])
    transaction.replaced(write.name, target.seqs, version)
  }

  const commit = async (writes: Write[]): Promise<number[]> => {
    const transaction = known.begin()
    const client = await pool.connect()
    const numbers: number[] = []
    try {
      await client.query('BEGIN')
      // Replaces of one document by several relays take turns; locking in name order cannot deadlock.
      const replaced = [...new Set(writes.filter((write) => write.kind === 'replace').map((write) => write.name))].sort()
      if (replaced.length > 0) {
        await client.query('SELECT pg_advisory_xact_lock(hashtextextended(name, 0)) FROM unnest($1::text[]) AS name', [replaced.map((name) => `${prefix}:${name}`)])
      }
      const next = await takeNumbers(client, writes)
      for (const write of writes) {
        if (write.kind === 'replace') {
          numbers.push(0)
        } else {
          const number = next.get(write.name) as number
          next.set(write.name, number + 1)
          numbers.push(number)
        }
      }
      for (let i = 0; i < writes.length;) {
        if (writes[i].kind === 'replace') {
          await replace(client, transaction, writes[i++])
          continue
        }
        const start = i
        while (i < writes.length && writes[i].kind === 'append') i++
        await appendRun(client, transaction, writes.slice(start, i), numbers.slice(start, i))
      }
      await webhooks?.recordAppends(client, writes.flatMap((write, i) => write.kind === 'append' ? [{ name: write.name, seq: numbers[i] }] : []))
      await client.query('COMMIT')
      client.release()
    } catch (err) {
      // The connection may be lost or hung: a ROLLBACK could wait for the query timeout
      // again. Dropping the connection rolls back whatever the server did not commit.
      client.release(err as Error)
      throw err
    }
    transaction.commit()
    return numbers
  }

  const writes = createGroupCommit(commit, options)
  let closed = false

  /**
   * A new version's `version.created`, in the version's transaction. It
   * first takes the document's counter row, as appends, deletions and
   * restores do, so the document's events number in commit order and an
   * append committing after the version opens a changed event after it.
   */
  const recordVersionCreated = (recording: PostgresWebhooks): OnPostgresVersionCreated => async (client, name, version) => {
    await client.query(`SELECT 1 FROM ${documents} WHERE doc = $1 FOR UPDATE`, [name])
    await recording.recordVersion(client, name, version)
  }

  /**
   * Runs `change` (one statement on the document's counter row), and when it
   * changed a row and webhooks are on, records event `type` in the same
   * transaction. Resolves to whether it changed a row.
   */
  const withWebhookEvent = async (name: string, type: 'document.deleted' | 'document.restored', atMs: number, change: (db: pg.Pool | pg.PoolClient) => Promise<pg.QueryResult>): Promise<boolean> => {
    if (!webhooks) return ((await change(pool)).rowCount ?? 0) > 0
    const client = await pool.connect()
    try {
      await client.query('BEGIN')
      const changed = ((await change(client)).rowCount ?? 0) > 0
      if (changed) await webhooks.recordCatalog(client, name, type, atMs)
      await client.query('COMMIT')
      client.release()
      return changed
    } catch (err) {
      client.release(err as Error) // closing the connection rolls the transaction back
      throw err
    }
  }

  // Stored bytes and times of the documents `names` (a subquery) selects, in name order.
  const describeNames = (names: string): string => `
    SELECT names.doc AS name, d.changed_at, d.deleted_at,
      coalesce((SELECT octet_length(data) FROM ${snapshots} WHERE doc = names.doc), 0)
        + coalesce((SELECT sum(octet_length(data)) FROM ${updates} WHERE doc = names.doc), 0) AS bytes
    FROM (${names}) AS names LEFT JOIN ${documents} AS d ON d.doc = names.doc ORDER BY names.doc COLLATE "C"`

  const readSince = async (name: string, since: number): Promise<StoredDocument> => {
    await writes.settled()
    // One statement, so a concurrent compaction cannot split counter, snapshot and log.
    const result = await pool.query(
      // The counter row's id is when the document was marked deleted, or -1.
      `SELECT 0 AS part, seq AS n, coalesce(deleted_at, -1) AS id, NULL::bytea AS data FROM ${documents} WHERE doc = $1
       UNION ALL SELECT 1, covers, version, CASE WHEN $2 = 0 OR covers > $2 THEN data END FROM ${snapshots} WHERE doc = $1
       UNION ALL SELECT 2, doc_seq, seq, data FROM ${updates} WHERE doc = $1 AND doc_seq > $2
       ORDER BY part, n`, [name, since])
    const rows = result.rows as Array<{ part: number, n: string, id: string, data: Buffer | null }>
    const last = rows.find((row) => row.part === 0)
    const snapshot = rows.find((row) => row.part === 1)
    const log = rows.filter((row) => row.part === 2)
    if (last && Number(last.id) >= 0) throw new DeletedDocumentError(name, Number(last.id))
    // Even when not returned, the snapshot holds nothing the reader lacks: it saw this version.
    known.loaded(name, snapshot ? Number(snapshot.id) : null, log.map((row) => Number(row.id)))
    return {
      snapshot: snapshot?.data ?? null,
      updates: log.map((row) => row.data as Buffer),
      seq: Math.max(since, Number(last?.n ?? 0))
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
      await pool.query('SELECT 1')
    },
    async list () {
      await writes.settled()
      const result = await pool.query(`SELECT doc COLLATE "C" AS doc FROM ${snapshots} UNION SELECT doc FROM ${updates} ORDER BY 1`)
      return result.rows.map((row) => row.doc as string)
    },
    webhooks: webhooks?.outbox,
    catalog: {
      async describe (name) {
        await writes.settled()
        const result = await pool.query(describeNames(
          `SELECT doc FROM ${snapshots} WHERE doc = $1 UNION SELECT doc FROM (SELECT doc FROM ${updates} WHERE doc = $1 LIMIT 1) AS one`), [name])
        return result.rows.length > 0 ? documentInfo(result.rows[0]) : null
      },
      async page (after, limit) {
        await writes.settled()
        const result = await pool.query(describeNames(
          `SELECT doc FROM (SELECT doc COLLATE "C" AS doc FROM ${snapshots} WHERE doc COLLATE "C" > $1
             UNION SELECT doc FROM ${updates} WHERE doc COLLATE "C" > $1 ORDER BY 1 LIMIT $2) AS page`),
          [after ?? '', limit])
        return result.rows.map(documentInfo)
      },
      async markDeleted (name, atMs) {
        await writes.settled()
        return await withWebhookEvent(name, 'document.deleted', atMs, (client) => client.query(
          `INSERT INTO ${documents} (doc, seq, deleted_at)
           SELECT $1, 0, $2 WHERE EXISTS (SELECT 1 FROM ${snapshots} WHERE doc = $1) OR EXISTS (SELECT 1 FROM ${updates} WHERE doc = $1)
           ON CONFLICT (doc) DO UPDATE SET deleted_at = excluded.deleted_at WHERE ${documents}.deleted_at IS NULL`, [name, atMs]))
      },
      async restore (name) {
        await writes.settled()
        return await withWebhookEvent(name, 'document.restored', Date.now(), (client) =>
          client.query(`UPDATE ${documents} SET deleted_at = NULL WHERE doc = $1 AND deleted_at IS NOT NULL`, [name]))
      },
      async purge (deletedBeforeMs, limit, only) {
        await writes.settled()
        const result = await pool.query(
          `WITH purged AS (
             DELETE FROM ${documents} WHERE doc IN (
               SELECT doc FROM ${documents} WHERE deleted_at < $1 AND ($3::text IS NULL OR doc = $3) ORDER BY deleted_at LIMIT $2)
             RETURNING doc),
           logs AS (DELETE FROM ${updates} WHERE doc IN (SELECT doc FROM purged)),
           snaps AS (DELETE FROM ${snapshots} WHERE doc IN (SELECT doc FROM purged)),
           history AS (DELETE FROM ${prefix}_versions WHERE doc IN (SELECT doc FROM purged))
           SELECT doc FROM purged`, [deletedBeforeMs, limit, only ?? null])
        const names = result.rows.map((row) => row.doc as string)
        for (const name of names) known.forget(name)
        return names
      }
    },
    versions: postgresVersions(pool, prefix, webhooks ? recordVersionCreated(webhooks) : undefined),
    signingKey: async () => await postgresSigningKey(pool, prefix),
    async close () {
      if (closed) return
      closed = true
      await writes.close()
      await pool.end()
    }
  }
}

const ignore = (): void => {}

/** A row of `describeNames` as a `DocumentInfo` (pg returns bigint and sums as strings). */
function documentInfo (row: { name: string, bytes: string, changed_at: string | null, deleted_at: string | null }): DocumentInfo {
  return {
    name: row.name,
    bytes: Number(row.bytes),
    changedAtMs: row.changed_at === null ? null : Number(row.changed_at),
    deletedAtMs: row.deleted_at === null ? null : Number(row.deleted_at)
  }
}

/**
 * Creates the tables, or brings tables of an earlier version up to date,
 * inside the caller's transaction: updates that predate per-document
 * numbering are numbered 1, 2, … per document in their stored order, and a
 * snapshot that predates it covers 0 (no numbered update; a reader at 0 gets
 * it anyway). Run by one process at a time (the caller holds a lock).
 */
async function upgradeSchema (client: pg.PoolClient, prefix: string): Promise<void> {
  const snapshots = `${prefix}_snapshots`
  const updates = `${prefix}_updates`
  const documents = `${prefix}_documents`
  // ALTER TABLE locks a table exclusively even when it changes nothing: alter only what lacks a column.
  const columns = async (table: string): Promise<Set<string>> => new Set((await client.query(
    'SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1', [table]))
    .rows.map((row: { column_name: string }) => row.column_name))
  await client.query(`CREATE TABLE IF NOT EXISTS ${snapshots} (doc TEXT PRIMARY KEY, data BYTEA NOT NULL, version BIGINT NOT NULL DEFAULT 0, covers BIGINT NOT NULL DEFAULT 0)`)
  const snapshotColumns = await columns(snapshots)
  if (!snapshotColumns.has('version')) await client.query(`ALTER TABLE ${snapshots} ADD COLUMN version BIGINT NOT NULL DEFAULT 0`)
  if (!snapshotColumns.has('covers')) await client.query(`ALTER TABLE ${snapshots} ADD COLUMN covers BIGINT NOT NULL DEFAULT 0`)
  await client.query(`CREATE TABLE IF NOT EXISTS ${updates} (seq BIGSERIAL PRIMARY KEY, doc TEXT NOT NULL, data BYTEA NOT NULL, doc_seq BIGINT NOT NULL)`)
  await client.query(`CREATE TABLE IF NOT EXISTS ${documents} (doc TEXT PRIMARY KEY, seq BIGINT NOT NULL)`)
  const documentColumns = await columns(documents)
  if (!documentColumns.has('changed_at')) await client.query(`ALTER TABLE ${documents} ADD COLUMN changed_at BIGINT`)
  if (!documentColumns.has('deleted_at')) await client.query(`ALTER TABLE ${documents} ADD COLUMN deleted_at BIGINT`)
  await client.query(`CREATE INDEX IF NOT EXISTS ${documents}_deleted ON ${documents} (deleted_at) WHERE deleted_at IS NOT NULL`)
  const numbered = await client.query(
    'SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 AND column_name = \'doc_seq\'', [updates])
  if (numbered.rows.length === 0) {
    await client.query(`ALTER TABLE ${updates} ADD COLUMN doc_seq BIGINT`)
    await client.query(
      `UPDATE ${updates} AS u SET doc_seq = numbered.n
       FROM (SELECT seq, row_number() OVER (PARTITION BY doc ORDER BY seq) AS n FROM ${updates}) AS numbered
       WHERE u.seq = numbered.seq`)
    // A process of the earlier version still writing now fails loudly instead of adding unnumbered rows.
    await client.query(`ALTER TABLE ${updates} ALTER COLUMN doc_seq SET NOT NULL`)
    await client.query(`INSERT INTO ${documents} (doc, seq) SELECT doc, max(doc_seq) FROM ${updates} GROUP BY doc ON CONFLICT DO NOTHING`)
    await client.query(`INSERT INTO ${documents} (doc, seq) SELECT doc, covers FROM ${snapshots} ON CONFLICT DO NOTHING`)
  }
  await client.query(`DROP INDEX IF EXISTS ${updates}_by_doc`)
  await client.query(`CREATE UNIQUE INDEX IF NOT EXISTS ${updates}_by_doc_seq ON ${updates} (doc, doc_seq)`)
}

/** SQLSTATE of a transaction PostgreSQL aborted to break a deadlock. */
const deadlockDetected = '40P01'

/** Attempts at the schema transaction before a start-up gives up. */
const maxSchemaAttempts = 5

/** Rows one INSERT statement can carry at two parameters each. */
const maxRowsPerInsert = 32_767

/** The bytes of `data` as a Buffer sharing its memory (pg sends Buffers as bytea). */
function asBuffer (data: Uint8Array): Buffer {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength)
}
