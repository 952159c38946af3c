/**
 * Every setting and limit of the server in one object, with its default.
 * Units are in the names. `settings.ts` (called by `cli.ts`, the only module
 * that reads flags and the environment) fills it: every field has a flag and
 * an environment variable, listed by `coedit --help` and the README.
 */

import type { ContentPolicy } from './protocol/update.js'

/** Which storage backend holds documents. */
export type StorageKind = 'sqlite' | 'postgres' | 'memory'

/** Which Yjs content the relay accepts in documents: `text`, `structured` or `any` (see `protocol/update.ts`). */
export type { ContentPolicy }

/** The server's configuration. */
export interface Config {
  /** TCP port for HTTP and WebSocket. `PORT`, `--port`. 0 picks a free port. */
  readonly port: number
  /** Interface to listen on. `HOST`, `--host`. The default serves this machine only. */
  readonly host: string
  /** Storage backend. `STORAGE`, `--storage`. Defaults to 'postgres' when a database URL is set, else 'sqlite'. */
  readonly storage: StorageKind
  /** Folder of the SQLite database. `DATA_DIR`, `--data-dir`. */
  readonly dataDir: string
  /** PostgreSQL connection string. `DATABASE_URL`, `--database-url`. */
  readonly databaseUrl: string | null
  /** SQLite `synchronous` level: 'normal' survives a process crash, 'full' also a power loss. `SQLITE_SYNC`. */
  readonly sqliteSync: 'normal' | 'full'
  /**
   * Redis that links several coedit processes serving the same documents
   * (`redis://host:port`); null runs one process alone. Needs PostgreSQL
   * storage. `REDIS_URL`, `--redis-url`.
   */
  readonly redisUrl: string | null
  /** Prefix of the PostgreSQL tables, so deployments can share a database. `TABLE_PREFIX`, `--table-prefix`. */
  readonly tablePrefix: string
  /** Folder of the built editor to serve at `/`; null serves no editor. */
  readonly editorDir: string | null
  /** How often every socket is pinged; a socket that has not answered the previous ping is dropped. */
  readonly heartbeatIntervalMs: number
  /** How long an empty document stays in memory. */
  readonly unloadGraceMs: number
  /** Most documents in memory at once. */
  readonly maxRooms: number
  /** Largest WebSocket message accepted; larger ones close the socket with 1009. */
  readonly maxMessageBytes: number
  /** Bytes a connection may have queued unsent (a client that does not read) before it is closed with 1008. */
  readonly maxBufferedBytes: number
  /**
   * Largest piece of a first sync, in update bytes: a sync answer larger
   * than this goes out as a sequence of sync updates of at most this size
   * each (one struct that cannot be cut may pass it), sent one after another
   * as the client reads them, then a final sync step 2.
   */
  readonly maxSyncPieceBytes: number
  /** Bytes a connection may send while its document is still loading. */
  readonly maxQueuedBytesWhileLoading: number
  /** Longest room name, in characters. */
  readonly maxRoomNameLength: number
  /** Compact a document's stored log once it holds this many updates… `COMPACT_AFTER_UPDATES`, `--compact-after-updates`. */
  readonly compactAfterUpdates: number
  /** …or this many bytes. */
  readonly compactAfterBytes: number
  /** How long shutdown waits for connections to close after their close frame. */
  readonly closeTimeoutMs: number
  /** HMAC secret for access tokens (≥ 32 characters). `AUTH_SECRET`. Null, with no public key, runs the server open. */
  readonly authSecret: string | null
  /** PEM public key that verifies access tokens issued elsewhere. `AUTH_PUBLIC_KEY` (or `AUTH_PUBLIC_KEY_FILE`). */
  readonly authPublicKeyPem: string | null
  /** Lifetime of the session tokens the editor obtains for a link token. */
  readonly sessionTokenTtlSeconds: number
  /** Lifetime of the links the Share button makes. */
  readonly shareTokenTtlSeconds: number
  /** Browser origins allowed to open WebSockets; null allows any. `ALLOWED_ORIGINS` (comma-separated). */
  readonly allowedOrigins: readonly string[] | null
  /** Most open WebSocket connections. */
  readonly maxConnections: number
  /** Most open WebSocket connections from one remote address. */
  readonly maxConnectionsPerAddress: number
  /** Messages a connection may send per second, sustained… */
  readonly maxMessagesPerSecond: number
  /** …and in a burst. Above either, it is closed with 1008. */
  readonly maxMessageBurst: number
  /** Bytes a connection may send per second, sustained… */
  readonly maxBytesPerSecond: number
  /** …and in a burst. */
  readonly maxByteBurst: number
  /** Largest stored size of a document (snapshot plus log, with headroom for compaction); an update beyond it is refused with 4413. */
  readonly maxDocumentBytes: number
  /** Awareness client ids one connection may introduce; more close it with 1008. */
  readonly maxAwarenessClientsPerConnection: number
  /** Bytes of updates waiting for missing dependencies a room holds; more close the sender with 1008. */
  readonly maxPendingBytesPerRoom: number
  /** Time an HTTP or upgrade request has to send its headers (slowloris protection). */
  readonly requestHeadersTimeoutMs: number
  /** Which content documents may hold; an update with other content closes its sender with 4422. `CONTENT`, `--content`. */
  readonly content: ContentPolicy
  /** Deepest nesting of JSON or `any` values (embeds, formats, map values) and of shared types; deeper closes with 4422. */
  readonly maxContentDepth: number
  /** Subdocuments one document may hold (content policy `any`); more close with 4422. */
  readonly maxSubdocumentsPerDocument: number
  /**
   * Yjs items (structs in memory, each costing about 100-300 bytes of heap)
   * one document may hold, counting the splits that insertions and
   * deletions cause; an update that could pass it closes its sender with 4413.
   */
  readonly maxDocumentItems: number
  /**
   * Work one update may cause, counted in items it may create or split
   * (two per struct and two per deleted range); more closes with 4413. Bounds
   * the time one message holds the event loop.
   */
  readonly maxUpdateItems: number
  /** Structs and delete ranges a room holds while their dependencies are missing; more closes the sender with 4422. */
  readonly maxPendingItemsPerRoom: number
  /** Bytes of one presence (awareness) state; a larger one closes its sender with 4413. */
  readonly maxAwarenessStateBytes: number
  /** Bytes of every presence state in one room together; a state that would pass it closes its sender with 4413. */
  readonly maxAwarenessBytesPerRoom: number
  /** Rooms loaded on behalf of one remote address (the one whose connection loaded it); past it, that address's idle rooms are unloaded first, else 1013. */
  readonly maxRoomsPerAddress: number
  /** Rooms loaded on behalf of one access token, counted like `maxRoomsPerAddress`. */
  readonly maxRoomsPerToken: number
  /** How long an empty room that nobody wrote to stays in memory (instead of `unloadGraceMs`). */
  readonly unwrittenUnloadGraceMs: number
  /**
   * How long a document deleted through the document API can be restored;
   * then it is purged for good. `DELETED_RETENTION_SECONDS`, `--deleted-retention-seconds`.
   */
  readonly deletedRetentionSeconds: number
  /** A version of a document is recorded once its editing has been quiet this long. `VERSION_QUIET_MS`, `--version-quiet-ms`. */
  readonly versionQuietMs: number
  /** …and at least this often while editing goes on. `VERSION_EVERY_MS`, `--version-every-ms`. */
  readonly versionEveryMs: number
  /** Versions older than this many days are pruned, named ones kept. `VERSION_RETENTION_DAYS`, `--version-retention-days`. */
  readonly versionRetentionDays: number
  /**
   * Addresses or CIDR ranges of reverse proxies whose `X-Forwarded-For` /
   * `Forwarded` headers are believed, for per-address limits and logs.
   * Empty believes no header. `TRUST_PROXY`, `--trust-proxy` (comma-separated).
   */
  readonly trustProxy: readonly string[]
  /**
   * Where document events are POSTed (http or https URL); null sends none.
   * Needs `webhookSecret`. `WEBHOOK_URL`, `--webhook-url`.
   */
  readonly webhookUrl: string | null
  /** Key of the HMAC-SHA256 signature of every webhook request. `WEBHOOK_SECRET` (or `WEBHOOK_SECRET_FILE`). */
  readonly webhookSecret: string | null
  /** Time a `document.changed` event collects further changes before it is sent: at most one per document per this. */
  readonly webhookDebounceMs: number
  /** Wait before retrying a failed webhook delivery; doubles with each further attempt… */
  readonly webhookRetryBaseMs: number
  /** …up to this. */
  readonly webhookRetryMaxMs: number
  /** How long after its first attempt a webhook event is retried; then it is marked failed. */
  readonly webhookRetryForSeconds: number
  /** Time one webhook request has to answer. */
  readonly webhookTimeoutMs: number
}

const MiB = 1024 * 1024
const KiB = 1024

/** The defaults, as documented in the README's configuration table. */
export const defaultConfig: Config = {
  port: 1234,
  host: 'localhost',
  storage: 'sqlite',
  dataDir: './data',
  databaseUrl: null,
  redisUrl: null,
  sqliteSync: 'normal',
  tablePrefix: 'coedit',
  editorDir: null,
  heartbeatIntervalMs: 30_000,
  unloadGraceMs: 10_000,
  maxRooms: 10_000,
  maxMessageBytes: 16 * MiB,
  maxBufferedBytes: 32 * MiB,
  maxSyncPieceBytes: 256 * KiB,
  maxQueuedBytesWhileLoading: 16 * MiB,
  maxRoomNameLength: 200,
  compactAfterUpdates: 1000,
  compactAfterBytes: 4 * MiB,
  closeTimeoutMs: 2_000,
  authSecret: null,
  authPublicKeyPem: null,
  sessionTokenTtlSeconds: 15 * 60,
  shareTokenTtlSeconds: 7 * 24 * 3600,
  allowedOrigins: null,
  maxConnections: 20_000,
  maxConnectionsPerAddress: 200,
  maxMessagesPerSecond: 200,
  maxMessageBurst: 2_000,
  maxBytesPerSecond: 2 * MiB,
  maxByteBurst: 32 * MiB,
  maxDocumentBytes: 64 * MiB,
  maxAwarenessClientsPerConnection: 4,
  maxPendingBytesPerRoom: 256 * 1024,
  requestHeadersTimeoutMs: 10_000,
  content: 'text',
  maxContentDepth: 32,
  maxSubdocumentsPerDocument: 1_000,
  maxDocumentItems: 2_000_000,
  maxUpdateItems: 400_000,
  maxPendingItemsPerRoom: 2_000,
  maxAwarenessStateBytes: 16 * 1024,
  maxAwarenessBytesPerRoom: 1 * MiB,
  maxRoomsPerAddress: 1_000,
  maxRoomsPerToken: 1_000,
  unwrittenUnloadGraceMs: 1_000,
  deletedRetentionSeconds: 30 * 24 * 3600,
  versionQuietMs: 60_000,
  versionEveryMs: 10 * 60_000,
  versionRetentionDays: 90,
  trustProxy: [],
  webhookUrl: null,
  webhookSecret: null,
  webhookDebounceMs: 2_000,
  webhookRetryBaseMs: 1_000,
  webhookRetryMaxMs: 5 * 60_000,
  webhookRetryForSeconds: 3 * 24 * 3600,
  webhookTimeoutMs: 10_000
}
