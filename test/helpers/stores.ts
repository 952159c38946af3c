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
  /** Appends `bytes` to a document's log behind the store's back (null for memory). */
  readonly insertRawUpdate: ((name: string, bytes: Uint8Array) => Promise<void>) | null
  /** Every stored byte of a document, snapshot first, read behind the store's back (null for memory). */
  readonly rawBytes: ((name: string) => Promise<Buffer[]>) | null
  /**
   * Inserts an update in a transaction left open until the returned function
   * commits it, as a slow writer in another process would (PostgreSQL only).
   */
  readonly appendUncommitted: ((name: string, bytes: Uint8Array) => Promise<() => Promise<void>>) | null
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
    return { open: tracked(async () => store), cliArgs: ['--storage', 'memory'], insertRawUpdate: null, rawBytes: null, appendUncommitted: null }
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
        withDb((db) => db.prepare('INSERT INTO updates (doc, data) VALUES (?, ?)').run(name, bytes))
      },
      rawBytes: async (name) => withDb((db) => [
        ...db.prepare('SELECT data FROM snapshots WHERE doc = ?').pluck().all(name) as Buffer[],
        ...db.prepare('SELECT data FROM updates WHERE doc = ? ORDER BY seq').pluck().all(name) as Buffer[]
      ]),
      appendUncommitted: null
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
    const insert = `INSERT INTO ${tablePrefix}_updates (doc, data) VALUES ($1, $2)`
    return {
      open: tracked(() => openPostgresStore({ connectionString: postgresUrl(), tablePrefix })),
      cliArgs: ['--storage', 'postgres', '--database-url', postgresUrl(), '--table-prefix', tablePrefix],
      insertRawUpdate: async (name, bytes) => {
        await withClient((client) => client.query(insert, [name, Buffer.from(bytes)]))
      },
      rawBytes: (name) => withClient(async (client) => {
        const result = await client.query(
          `SELECT 0 AS part, 0::bigint AS seq, data FROM ${tablePrefix}_snapshots WHERE doc = $1
           UNION ALL SELECT 1, seq, data FROM ${tablePrefix}_updates WHERE doc = $1 ORDER BY part, seq`, [name])
        return result.rows.map((row) => row.data as Buffer)
      }),
      appendUncommitted: async (name, bytes) => {
        const client = await connect()
        onTeardown(() => client.end())
        await client.query('BEGIN')
        await client.query(insert, [name, Buffer.from(bytes)])
        return async () => { await client.query('COMMIT') }
      }
    }
  }
}

/** Every backend. */
export const storeBackends: readonly StoreBackend[] = [memory, sqlite, postgres]

/** The backends whose documents survive a restart. */
export const persistentBackends: readonly StoreBackend[] = storeBackends.filter((backend) => backend.persistent)
