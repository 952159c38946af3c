/**
 * Several `coedit serve` processes sharing documents through PostgreSQL
 * (tables with a prefix of their own, dropped after the test) and a private
 * redis-server, optionally behind a real nginx. Every process, Redis and
 * nginx is a child of the test, killed by its pid after it.
 */
import * as Y from 'yjs'
import pg from 'pg'
import { startChildRelay, type ChildRelay } from './child-relay.js'
import { startPrivateRedis, type PrivateRedis } from './redis-server.js'
import { dropPostgresTables, postgresUrl, uniqueTablePrefix } from './services.js'
import { freePort, nginxConf, nginxDir, startNginx } from './nginx.js'
import { onTeardown } from './relay.js'
import { openPostgresStore } from '../../server/storage/postgres.js'
import { applyStoredDocument } from '../../server/protocol/document.js'

/** Processes serving the same documents. */
export interface ProcessCluster {
  readonly redis: PrivateRedis
  /** Table prefix of the shared PostgreSQL store. */
  readonly prefix: string
  /** Every process started so far, in order (killed ones included). */
  readonly processes: ChildRelay[]
  /** Starts one more process on the same store and Redis, with `args` added. */
  start (args?: readonly string[]): Promise<ChildRelay>
}

/**
 * Starts a private Redis and `count` processes on fresh tables, each with
 * `args` added to `--storage postgres --database-url … --table-prefix …
 * --redis-url …`. The tables are dropped after every process is gone.
 */
export async function startProcessCluster (count: number, args: readonly string[] = []): Promise<ProcessCluster> {
  const prefix = uniqueTablePrefix()
  // Registered first, so it runs last: after every process and Redis are gone.
  onTeardown(() => dropPostgresTables(prefix))
  const redis = await startPrivateRedis()
  const processes: ChildRelay[] = []
  const start = async (more: readonly string[] = args): Promise<ChildRelay> => {
    const child = await startChildRelay(['--storage', 'postgres', '--database-url', postgresUrl(), '--table-prefix', prefix, '--redis-url', redis.url, ...more])
    processes.push(child)
    return child
  }
  await Promise.all(Array.from({ length: count }, () => start()))
  return { redis, prefix, processes, start }
}

/**
 * nginx on a free port in front of `processes`: one upstream picked by
 * `hash $request_uri consistent` (so every client of a document lands on
 * the same process while it lives), WebSocket upgrades passed through, and
 * read/send timeouts of an hour. Resolves with its `http://` address.
 */
export async function nginxInFront (processes: readonly ChildRelay[]): Promise<string> {
  const dir = nginxDir()
  const port = await freePort()
  const servers = processes.map((child) => `    server ${new URL(child.url).host};`).join('\n')
  const http = `
  upstream coedit {
    hash $request_uri consistent;
${servers}
  }
  map $http_upgrade $connection_upgrade {
    default upgrade;
    ''      close;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://coedit;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Host $host;
      proxy_read_timeout 1h;
      proxy_send_timeout 1h;
      proxy_connect_timeout 2s;
    }
  }`
  return await startNginx(dir, port, nginxConf(dir, http))
}

/** Document `name` as stored under `prefix`, read by a fresh store instance. The caller destroys it. */
export async function storedDocument (prefix: string, name: string): Promise<Y.Doc> {
  const store = await openPostgresStore({ connectionString: postgresUrl(), tablePrefix: prefix })
  try {
    const doc = new Y.Doc()
    applyStoredDocument(doc, await store.load(name), name)
    return doc
  } finally {
    await store.close()
  }
}

/** What the update log of one document holds, read with plain SQL. */
export interface StoredRows {
  /** Rows in `${prefix}_updates` for the document. */
  readonly rows: number
  /** `doc_seq` values held by more than one row. */
  readonly repeatedSeqs: number
  /**
   * Rows inserting content (a client id's clock range) that an earlier row
   * already inserted: an update stored twice. (Rows that only delete carry
   * no client id of their own; two people deleting the same character
   * write equal rows, which is no repetition. A compaction that finds a
   * snapshot it never saw keeps that snapshot as a row, which repeats
   * content by design: count only without compaction.)
   */
  readonly repeatedInsertions: number
  /** How often the document was compacted: its snapshot's version (0 without one). */
  readonly compactions: number
}

/** Reads the stored update rows and the snapshot of document `name` under `prefix`. */
export async function storedRows (prefix: string, name: string): Promise<StoredRows> {
  const client = new pg.Client({ connectionString: postgresUrl() })
  await client.connect()
  try {
    const result = await client.query(`SELECT doc_seq, data FROM ${prefix}_updates WHERE doc = $1 ORDER BY doc_seq`, [name])
    const rows = result.rows as Array<{ doc_seq: string, data: Buffer }>
    const seen = new Map<number, Array<[number, number]>>()
    let repeatedInsertions = 0
    for (const row of rows) {
      const { from, to } = Y.parseUpdateMeta(row.data)
      let repeated = false
      for (const [id, start] of from) {
        const end = to.get(id) as number
        const ranges = seen.get(id) ?? []
        if (ranges.some(([s, e]) => start < e && s < end)) repeated = true
        ranges.push([start, end])
        seen.set(id, ranges)
      }
      if (repeated) repeatedInsertions++
    }
    const snapshot = await client.query(`SELECT version FROM ${prefix}_snapshots WHERE doc = $1`, [name])
    const compactions = snapshot.rows.length === 0 ? 0 : Number((snapshot.rows[0] as { version: string }).version)
    return { rows: rows.length, repeatedSeqs: rows.length - new Set(rows.map((row) => row.doc_seq)).size, repeatedInsertions, compactions }
  } finally {
    await client.end()
  }
}

/** The HTTP status `/readyz` of `child` answers with, or 0 when nothing answers. */
export async function readyStatus (child: ChildRelay): Promise<number> {
  return await fetch(`${child.url}/readyz`).then((res) => res.status, () => 0)
}

/** How many WebSocket connections `child` holds, as its `/healthz` says. */
export async function connectionCount (child: ChildRelay): Promise<number> {
  const res = await fetch(`${child.url}/healthz`)
  return ((await res.json()) as { connections: number }).connections
}

/** Resolves when `predicate` resolves true, asking again every 100 ms; rejects after `timeoutMs`. */
export async function until (predicate: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}
