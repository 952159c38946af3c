/**
 * The three document stores as test backends: each gives fresh, empty
 * storage per test, opens any number of store instances on it, and removes
 * everything after the test (SQLite: a temporary folder; PostgreSQL: tables
 * with a prefix of their own).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import pg from 'pg'
import type { DocStore } from '../../server/storage/store.js'
import { createMemoryStore } from '../../server/storage/memory.js'
import { openSqliteStore } from '../../server/storage/sqlite.js'
import { openPostgresStore } from '../../server/storage/postgres.js'
import { onTeardown } from './relay.js'
import { dropPostgresTables, postgresUrl, uniqueTablePrefix, type Service } from './services.js'

/** Storage for one test. Every store opened on it is closed after the test. */
export interface TestStorage {
  /** Opens another store instance on this storage (for memory: the one shared instance). */
  open (): Promise<DocStore>
  /** Arguments that make `coedit serve` use this storage. */
  readonly cliArgs: string[]
  /** Appends `bytes` to a document's log behind the store's back, numbered as the store numbers appends (null for memory). */
  readonly insertRawUpdate: ((name: string, bytes: Uint8Array) => Promise<void>) | null
  /** Every stored byte of a document, snapshot first, read behind the store's back (null for memory). */
  readonly rawBytes: ((name: string) => Promise<Buffer[]>) | null
  /**
   * Inserts an update in a transaction left open until the returned function
   * commits it, as a slow writer in another process would: it takes the
   * document's next sequence number and holds it (PostgreSQL only).
   */
  readonly appendUncommitted: ((name: string, bytes: Uint8Array) => Promise<() => Promise<void>>) | null
  /**
   * Creates the tables as they were before per-document sequence numbers,
   * holding `documents`: each one's log in order, rows of different
   * documents interleaved (null for memory). Call before any `open`.
   */
  readonly writeLegacyTables: ((documents: readonly LegacyDocument[]) => Promise<void>) | null
}

/** A document as `writeLegacyTables` stores it. */
export interface LegacyDocument {
  readonly name: string
  readonly snapshot: Uint8Array | null
  readonly updates: readonly Uint8Array[]
}

/** The log rows of `documents` in the order a legacy store wrote them: round robin across documents. */
function interleaved (documents: readonly LegacyDocument[]): Array<{ name: string, data: Uint8Array }> {
  const rows: Array<{ name: string, data: Uint8Array }> = []
  const longest = Math.max(0, ...documents.map((doc) => doc.updates.length))
  for (let i = 0; i < longest; i++) {
    for (const doc of documents) if (i < doc.updates.length) rows.push({ name: doc.name, data: doc.updates[i] })
  }
  return rows
}

/** A kind of store, as tests see it. */
export interface StoreBackend {
  readonly name: 'memory' | 'sqlite' | 'postgres'
  /** What must be reachable for this backend to run. */
  readonly services: Service[]
  /** Whether documents outlive the store instance (and the process). */
  readonly persistent: boolean
  /** Fresh, empty storage, removed after the test. */
  create (): Promise<TestStorage>
}

/** Opens stores through `open`, closing each after the test. */
function tracked (open: () => Promise<DocStore>): () => Promise<DocStore> {
  return async () => {
    const store = await open()
    onTeardown(() => store.close())
    return store
  }
}

const memory: StoreBackend = {
  name: 'memory',
  services: [],
  persistent: false,
  async create () {
    const store = createMemoryStore()
    return { open: tracked(async () => store), cliArgs: ['--storage', 'memory'], insertRawUpdate: null, rawBytes: null, appendUncommitted: null, writeLegacyTables: null }
  }
}

const sqlite: StoreBackend = {
  name: 'sqlite',
  services: [],
  persistent: true,
  async create () {
    const dataDir = await mkdtemp(join(tmpdir(), 'coedit-store-'))
    onTeardown(() => rm(dataDir, { recursive: true, force: true }))
    const withDb = <T>(use: (db: Database.Database) => T): T => {
      const db = new Database(join(dataDir, 'coedit.db'))
      try {
        db.pragma('busy_timeout = 5000')
        return use(db)
      } finally {
        db.close()
      }
    }
    return {
      open: tracked(async () => openSqliteStore({ dataDir })),
      cliArgs: ['--storage', 'sqlite', '--data-dir', dataDir],
      insertRawUpdate: async (name, bytes) => {
        withDb((db) => db.transaction(() => {
          const seq = db.prepare('INSERT INTO documents (doc, seq) VALUES (?, 1) ON CONFLICT (doc) DO UPDATE SET seq = seq + 1 RETURNING seq').pluck().get(name)
          db.prepare('INSERT INTO updates (doc, data, doc_seq) VALUES (?, ?, ?)').run(name, bytes, seq)
        }).immediate())
      },
      rawBytes: async (name) => withDb((db) => [
        ...db.prepare('SELECT data FROM snapshots WHERE doc = ?').pluck().all(name) as Buffer[],
        ...db.prepare('SELECT data FROM updates WHERE doc = ? ORDER BY doc_seq').pluck().all(name) as Buffer[]
      ]),
      appendUncommitted: null,
      writeLegacyTables: async (documents) => {
        withDb((db) => {
          db.exec(`
            CREATE TABLE snapshots (doc TEXT PRIMARY KEY, data BLOB NOT NULL, version INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
            CREATE TABLE updates (seq INTEGER PRIMARY KEY AUTOINCREMENT, doc TEXT NOT NULL, data BLOB NOT NULL);
            CREATE INDEX updates_by_doc ON updates (doc, seq);
          `)
          const snapshot = db.prepare('INSERT INTO snapshots (doc, data, version) VALUES (?, ?, 1)')
          for (const doc of documents) if (doc.snapshot) snapshot.run(doc.name, doc.snapshot)
          const update = db.prepare('INSERT INTO updates (doc, data) VALUES (?, ?)')
          for (const row of interleaved(documents)) update.run(row.name, row.data)
        })
      }
    }
  }
}

const postgres: StoreBackend = {
  name: 'postgres',
  services: ['postgres'],
  persistent: true,
  async create () {
    const tablePrefix = uniqueTablePrefix()
    onTeardown(() => dropPostgresTables(tablePrefix))
    const connect = async (): Promise<pg.Client> => {
      const client = new pg.Client({ connectionString: postgresUrl() })
      await client.connect()
      return client
    }
    const withClient = async <T>(use: (client: pg.Client) => Promise<T>): Promise<T> => {
      const client = await connect()
      try {
        return await use(client)
      } finally {
        await client.end()
      }
    }
    // Numbered as the store numbers an append: take the document's counter row, locked until commit.
    const insert = `WITH taken AS (
        INSERT INTO ${tablePrefix}_documents (doc, seq) VALUES ($1, 1)
        ON CONFLICT (doc) DO UPDATE SET seq = ${tablePrefix}_documents.seq + 1 RETURNING seq)
      INSERT INTO ${tablePrefix}_updates (doc, data, doc_seq) SELECT $1, $2, seq FROM taken`
    return {
      open: tracked(() => openPostgresStore({ connectionString: postgresUrl(), tablePrefix })),
      cliArgs: ['--storage', 'postgres', '--database-url', postgresUrl(), '--table-prefix', tablePrefix],
      insertRawUpdate: async (name, bytes) => {
        await withClient((client) => client.query(insert, [name, Buffer.from(bytes)]))
      },
      rawBytes: (name) => withClient(async (client) => {
        const result = await client.query(
          `SELECT 0 AS part, 0::bigint AS seq, data FROM ${tablePrefix}_snapshots WHERE doc = $1
           UNION ALL SELECT 1, doc_seq, data FROM ${tablePrefix}_updates WHERE doc = $1 ORDER BY part, seq`, [name])
        return result.rows.map((row) => row.data as Buffer)
      }),
      appendUncommitted: async (name, bytes) => {
        const client = await connect()
        onTeardown(() => client.end())
        await client.query('BEGIN')
        await client.query(insert, [name, Buffer.from(bytes)])
        return async () => { await client.query('COMMIT') }
      },
      writeLegacyTables: (documents) => withClient(async (client) => {
        await client.query(`CREATE TABLE ${tablePrefix}_snapshots (doc TEXT PRIMARY KEY, data BYTEA NOT NULL, version BIGINT NOT NULL DEFAULT 0)`)
        await client.query(`CREATE TABLE ${tablePrefix}_updates (seq BIGSERIAL PRIMARY KEY, doc TEXT NOT NULL, data BYTEA NOT NULL)`)
        await client.query(`CREATE INDEX ${tablePrefix}_updates_by_doc ON ${tablePrefix}_updates (doc, seq)`)
        for (const doc of documents) {
          if (doc.snapshot) await client.query(`INSERT INTO ${tablePrefix}_snapshots (doc, data, version) VALUES ($1, $2, 1)`, [doc.name, Buffer.from(doc.snapshot)])
        }
        for (const row of interleaved(documents)) {
          await client.query(`INSERT INTO ${tablePrefix}_updates (doc, data) VALUES ($1, $2)`, [row.name, Buffer.from(row.data)])
        }
      })
    }
  }
}

/** Every backend. */
export const storeBackends: readonly StoreBackend[] = [memory, sqlite, postgres]

/** The backends whose documents survive a restart. */
export const persistentBackends: readonly StoreBackend[] = storeBackends.filter((backend) => backend.persistent)
