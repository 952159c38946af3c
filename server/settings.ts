/**
 * Every setting of `coedit serve` in one table: its flag, environment
 * variable, kind, bounds and help. The command-line options, their
 * validation, `--help` and the README's configuration table all come from
 * it. A flag beats its environment variable; an empty variable counts as
 * unset. Numbers are plain decimal digits in the unit the setting's name
 * gives (`…Ms` milliseconds, `…Bytes` bytes, `…Seconds` seconds).
 */
import { readFileSync, statSync } from 'node:fs'
import pg from 'pg'
import type { Config, ContentPolicy, StorageKind } from './config.js'
import type { LogFormat, LogLevel } from './log.js'
import { InvalidProxyAddressError, TrustedProxies } from './transport/forwarded.js'
import { createTokenAuthority, KeyConfigError } from './auth/tokens.js'

/** What `coedit serve` runs with: the relay's configuration and how it logs. */
export interface Settings extends Config {
  /** Least severe log lines written. `LOG_LEVEL`, `--log-level`. */
  readonly logLevel: LogLevel
  /** How log lines are written; absent means text. `LOG_FORMAT`, `--log-format`. */
  readonly logFormat?: LogFormat
}

/** A flag or variable that cannot be used; its message is one line naming the flag (and variable). */
export class SettingError extends Error {
  override readonly name = 'SettingError'
}

/** Where a setting belongs in `--help` and the README. */
type Group = 'Server' | 'Storage' | 'Access' | 'Webhooks' | 'Limits'

/** One row of the table. */
interface Spec<T> {
  readonly group: Group
  /** What the value looks like in `--help`: N, MS, BYTES, LIST… */
  readonly placeholder: string
  readonly help: string
  /** Reads a value; throws an Error whose message completes "--flag (VAR): …". */
  readonly parse: (text: string) => T
  /** Defaults to the kebab-case of the key. */
  readonly flag?: string
  /** Defaults to the UPPER_SNAKE case of the key. */
  readonly env?: string
  /** Also read from the file named by `--<flag>-file` / `<ENV>_FILE`. */
  readonly file?: boolean
  /** How the default reads in help, when the default value itself does not say it. */
  readonly defaultText?: string
}

const maxTimerMs = 2_147_483_647
const unbounded = Number.MAX_SAFE_INTEGER

/** Quotes a value for an error message, shortened. */
function shown (text: string): string {
  return JSON.stringify(text.length > 60 ? `${text.slice(0, 57)}...` : text)
}

function wholeNumber (min: number, max = unbounded): (text: string) => number {
  const range = max === unbounded ? `of at least ${min}` : `from ${min} to ${max}`
  return (text) => {
    const value = Number(text)
    if (!/^[0-9]+$/.test(text) || value < min || value > max) throw new Error(`must be a whole number ${range} in plain decimal digits, got ${shown(text)}`)
    return value
  }
}

function oneOf<T extends string> (...choices: T[]): (text: string) => T {
  const list = `${choices.slice(0, -1).join(', ')} or ${choices[choices.length - 1]}`
  return (text) => {
    if (!(choices as string[]).includes(text)) throw new Error(`must be ${list}, got ${shown(text)}`)
    return text as T
  }
}

function nonEmpty (text: string): string {
  if (text.trim() === '') throw new Error('must not be empty')
  return text
}

/** A comma-separated list; each entry trimmed and checked by `check`, which throws for a bad one. */
function listOf (what: string, check: (entry: string) => void): (text: string) => string[] {
  return (text) => {
    const entries = text.split(',').map((entry) => entry.trim())
    if (entries.some((entry) => entry === '')) throw new Error(`must be a comma-separated list of ${what} without empty entries, got ${shown(text)}`)
    entries.forEach(check)
    return entries
  }
}

function origin (entry: string): void {
  let parsed: URL | null = null
  try {
    parsed = new URL(entry)
  } catch {}
  if (parsed?.origin !== entry) throw new Error(`${shown(entry)} is not an origin like https://notes.example.org (scheme, host and port only, no trailing slash)`)
}

function proxyAddress (entry: string): void {
  try {
    TrustedProxies.parse([entry])
  } catch (err) {
    if (err instanceof InvalidProxyAddressError) throw new Error(err.message)
    throw err
  }
}

function directory (text: string): string {
  let isDirectory = false
  try {
    isDirectory = statSync(text).isDirectory()
  } catch {}
  if (!isDirectory) throw new Error(`${shown(text)} is not a folder`)
  return text
}

/** Schemes node-postgres reads a connection string for; anything else it would take as a database name. */
const postgresSchemes = ['postgres:', 'postgresql:', 'socket:']

/** What node-postgres makes of a connection string; throws (without repeating the string, which may hold a password) if it cannot use it. */
function postgresTarget (url: string): { host: string, port: number, database: string | undefined } {
  const scheme = /^[a-z]+:/i.exec(url)?.[0].toLowerCase() ?? ''
  if (!postgresSchemes.includes(scheme)) {
    throw new Error('must be a PostgreSQL connection string like postgres://user:password@host:5432/database or postgres://user@/database?host=/var/run/postgresql')
  }
  let client: pg.Client
  try {
    client = new pg.Client({ connectionString: url })
  } catch (err) {
    throw new Error(`is not a connection string node-postgres can read (${(err as Error).message})`)
  }
  return { host: client.host, port: client.port, database: client.database }
}

/**
 * Where a PostgreSQL connection string points, for logs: database, and
 * host and port or socket folder. Never includes the user or password.
 * Assumes the string passed `--database-url` validation.
 */
export function describePostgres (url: string): string {
  const { host, port, database } = postgresTarget(url)
  const where = host.startsWith('/') ? `socket ${host}` : `${host.includes(':') ? `[${host}]` : host}:${port}`
  return `database ${database ?? '(default)'} at ${where}`
}

/** The table. Its keys are exactly the fields of `Settings`, so no setting can be left out. */
const table: { readonly [K in keyof Settings]-?: Spec<Settings[K]> } = {
  port: { group: 'Server', placeholder: 'N', help: 'port for HTTP and WebSocket; 0 picks a free one', parse: wholeNumber(0, 65535) },
  host: { group: 'Server', placeholder: 'HOST', help: 'interface to listen on; 0.0.0.0 or :: for every interface', parse: nonEmpty },
  logLevel: { group: 'Server', placeholder: 'LEVEL', help: 'least severe log lines written: debug, info, warn or error; SIGUSR2 moves a running server to the next one (debug → info → warn → error → debug)', parse: oneOf<LogLevel>('debug', 'info', 'warn', 'error') },
  logFormat: { group: 'Server', placeholder: 'FORMAT', help: 'text (one line per event, key=value fields) or json (one JSON object per line: time, level, event, then the fields)', parse: oneOf<LogFormat>('text', 'json'), defaultText: 'text' },
  editorDir: { group: 'Server', placeholder: 'DIR', help: 'folder of the built editor served at /', parse: directory, defaultText: 'the built editor' },
  trustProxy: {
    group: 'Server',
    placeholder: 'LIST',
    help: 'comma-separated addresses or CIDR ranges (IPv4, IPv6) of reverse proxies whose X-Forwarded-For / Forwarded headers name the client, for per-address limits and logs',
    parse: listOf('addresses or CIDR ranges', proxyAddress),
    defaultText: 'none'
  },
  allowedOrigins: { group: 'Server', placeholder: 'LIST', help: 'comma-separated browser origins allowed to open WebSockets', parse: listOf('origins', origin), defaultText: 'any' },
  requestHeadersTimeoutMs: { group: 'Server', placeholder: 'MS', help: 'time a request has to send its headers (slowloris protection)', parse: wholeNumber(1000, maxTimerMs) },
  heartbeatIntervalMs: { group: 'Server', placeholder: 'MS', help: 'time between pings; a socket that missed the previous ping is dropped', parse: wholeNumber(1000, maxTimerMs) },
  closeTimeoutMs: { group: 'Server', placeholder: 'MS', help: 'time a closed connection has to answer the close frame', parse: wholeNumber(0, maxTimerMs) },

  storage: { group: 'Storage', placeholder: 'KIND', help: 'sqlite, postgres or memory (nothing kept)', parse: oneOf<StorageKind>('sqlite', 'postgres', 'memory'), defaultText: 'postgres when a database URL is set, else sqlite' },
  dataDir: { group: 'Storage', placeholder: 'DIR', help: 'folder of the SQLite database', parse: nonEmpty },
  sqliteSync: { group: 'Storage', placeholder: 'MODE', help: 'normal survives a crash of the process, full also a power loss', parse: oneOf('normal', 'full') },
  databaseUrl: {
    group: 'Storage',
    placeholder: 'URL',
    help: 'PostgreSQL connection string (postgres://…, or a socket folder as postgres://user@/db?host=/var/run/postgresql)',
    // Never repeated in a message: it may hold a password.
    parse: (text) => { postgresTarget(text); return text },
    defaultText: 'none'
  },
  redisUrl: {
    group: 'Storage',
    placeholder: 'URL',
    help: 'Redis linking several coedit processes that serve the same documents (redis://host:port); needs PostgreSQL storage',
    // Never repeated in a message: it may hold a password.
    parse: (text) => {
      let url: URL
      try {
        url = new URL(text)
      } catch {
        throw new Error('must be a redis:// or rediss:// URL')
      }
      if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw new Error('must be a redis:// or rediss:// URL')
      return text
    },
    defaultText: 'none: one process alone'
  },
  tablePrefix: {
    group: 'Storage',
    placeholder: 'NAME',
    help: 'prefix of the PostgreSQL tables, so deployments can share a database',
    parse: (text) => {
      if (!/^[a-z_][a-z0-9_]{0,40}$/.test(text)) throw new Error(`must be a lower-case letter or _ and at most 40 more lower-case letters, digits or _, got ${shown(text)}`)
      return text
    }
  },
  compactAfterUpdates: { group: 'Storage', placeholder: 'N', help: 'compact a document\'s stored log once it holds this many updates…', parse: wholeNumber(1) },
  compactAfterBytes: { group: 'Storage', placeholder: 'BYTES', help: '…or this many bytes', parse: wholeNumber(1) },
  unloadGraceMs: { group: 'Storage', placeholder: 'MS', help: 'how long an empty document stays in memory', parse: wholeNumber(0, maxTimerMs) },
  unwrittenUnloadGraceMs: { group: 'Storage', placeholder: 'MS', help: 'how long an empty document nobody wrote to stays in memory', parse: wholeNumber(0, maxTimerMs) },
  deletedRetentionSeconds: { group: 'Storage', placeholder: 'SECONDS', help: 'how long a document deleted through the API can be restored before it is purged', parse: wholeNumber(0) },
  versionQuietMs: { group: 'Storage', placeholder: 'MS', help: 'record a version of a document once its editing has been quiet this long…', parse: wholeNumber(1, maxTimerMs) },
  versionEveryMs: { group: 'Storage', placeholder: 'MS', help: '…and at least this often while editing goes on', parse: wholeNumber(1, maxTimerMs) },
  versionRetentionDays: { group: 'Storage', placeholder: 'DAYS', help: 'prune versions older than this, named ones kept', parse: wholeNumber(0) },

  authSecret: {
    group: 'Access',
    placeholder: 'SECRET',
    help: 'HMAC secret (32+ characters) that signs access tokens; prefer AUTH_SECRET or AUTH_SECRET_FILE, as a flag shows in ps. Without it or a public key the server runs open',
    parse: nonEmpty,
    file: true,
    defaultText: 'none'
  },
  authPublicKeyPem: {
    group: 'Access',
    placeholder: 'PEM',
    help: 'PEM public key (RSA 2048+ bits, EC P-256/384/521 or Ed25519) verifying tokens issued elsewhere',
    parse: nonEmpty,
    flag: 'auth-public-key',
    env: 'AUTH_PUBLIC_KEY',
    file: true,
    defaultText: 'none'
  },
  sessionTokenTtlSeconds: { group: 'Access', placeholder: 'SECONDS', help: 'lifetime of the session tokens the editor gets for a link', parse: wholeNumber(1, maxTimerMs) },
  shareTokenTtlSeconds: { group: 'Access', placeholder: 'SECONDS', help: 'lifetime of share links (POST /api/share) when the request names none; the Share dialog always names one', parse: wholeNumber(1, maxTimerMs) },

  webhookUrl: {
    group: 'Webhooks',
    placeholder: 'URL',
    help: 'where document events (changed, deleted, restored) are POSTed as signed JSON, each recorded with its change and retried until delivered; needs a webhook secret',
    parse: (text) => {
      let url: URL | null = null
      try {
        url = new URL(text)
      } catch {}
      if (url?.protocol !== 'http:' && url?.protocol !== 'https:') throw new Error(`must be an http:// or https:// URL, got ${shown(text)}`)
      return text
    },
    defaultText: 'none: no webhooks'
  },
  webhookSecret: {
    group: 'Webhooks',
    placeholder: 'SECRET',
    help: 'key of the HMAC-SHA256 signature of every webhook request (see README, Webhooks); prefer WEBHOOK_SECRET or WEBHOOK_SECRET_FILE, as a flag shows in ps',
    parse: nonEmpty,
    file: true,
    defaultText: 'none'
  },
  webhookDebounceMs: { group: 'Webhooks', placeholder: 'MS', help: 'time a document.changed event collects further changes before it is sent: at most one per document per this', parse: wholeNumber(0, maxTimerMs) },
  webhookRetryBaseMs: { group: 'Webhooks', placeholder: 'MS', help: 'wait before retrying a failed delivery, doubling with each attempt…', parse: wholeNumber(1, maxTimerMs) },
  webhookRetryMaxMs: { group: 'Webhooks', placeholder: 'MS', help: '…up to this', parse: wholeNumber(1, maxTimerMs) },
  webhookRetryForSeconds: { group: 'Webhooks', placeholder: 'SECONDS', help: 'how long after its first attempt an event is retried before it is marked failed', parse: wholeNumber(0) },
  webhookTimeoutMs: { group: 'Webhooks', placeholder: 'MS', help: 'time a webhook request has to answer', parse: wholeNumber(100, maxTimerMs) },

  maxConnections: { group: 'Limits', placeholder: 'N', help: 'most open WebSockets (HTTP 503 past it)', parse: wholeNumber(1) },
  maxConnectionsPerAddress: { group: 'Limits', placeholder: 'N', help: 'most open WebSockets from one client address (HTTP 429 past it); see --trust-proxy', parse: wholeNumber(1) },
  maxRooms: { group: 'Limits', placeholder: 'N', help: 'most documents in memory (close 1013 past it)', parse: wholeNumber(1) },
  maxRoomsPerAddress: { group: 'Limits', placeholder: 'N', help: 'documents loaded on behalf of one client address', parse: wholeNumber(1) },
  maxRoomsPerToken: { group: 'Limits', placeholder: 'N', help: 'documents loaded on behalf of one access token', parse: wholeNumber(1) },
  maxRoomNameLength: { group: 'Limits', placeholder: 'N', help: 'longest document name, in characters', parse: wholeNumber(1) },
  maxMessageBytes: { group: 'Limits', placeholder: 'BYTES', help: 'largest WebSocket message (close 1009)', parse: wholeNumber(1024) },
  maxBufferedBytes: { group: 'Limits', placeholder: 'BYTES', help: 'bytes queued unsent to a client that does not read (close 1008)', parse: wholeNumber(1) },
  maxSyncPieceBytes: { group: 'Limits', placeholder: 'BYTES', help: 'largest message of a first sync: a larger document goes out in pieces of this size, each sent once the client has read the one before', parse: wholeNumber(1024) },
  maxQueuedBytesWhileLoading: { group: 'Limits', placeholder: 'BYTES', help: 'bytes a connection may send while its document loads (close 1008)', parse: wholeNumber(1) },
  maxMessagesPerSecond: { group: 'Limits', placeholder: 'N', help: 'messages per connection per second, sustained… (close 1008)', parse: wholeNumber(1) },
  maxMessageBurst: { group: 'Limits', placeholder: 'N', help: '…and in a burst', parse: wholeNumber(1) },
  maxBytesPerSecond: { group: 'Limits', placeholder: 'BYTES', help: 'bytes per connection per second, sustained… (close 1008)', parse: wholeNumber(1) },
  maxByteBurst: { group: 'Limits', placeholder: 'BYTES', help: '…and in a burst; at least --max-message-bytes', parse: wholeNumber(1) },
  maxDocumentBytes: { group: 'Limits', placeholder: 'BYTES', help: 'largest stored size of a document (close 1009)', parse: wholeNumber(1) },
  content: { group: 'Limits', placeholder: 'POLICY', help: 'content documents may hold: text (the editor\'s), structured (any shared types, no subdocuments) or any (close 4422)', parse: oneOf<ContentPolicy>('text', 'structured', 'any') },
  maxContentDepth: { group: 'Limits', placeholder: 'N', help: 'deepest nesting of shared types and JSON values (close 4422)', parse: wholeNumber(1, 1000) },
  maxSubdocumentsPerDocument: { group: 'Limits', placeholder: 'N', help: 'subdocuments one document may hold with --content any (close 4422)', parse: wholeNumber(0) },
  maxDocumentItems: { group: 'Limits', placeholder: 'N', help: 'Yjs items one document may hold (close 4413)', parse: wholeNumber(1) },
  maxUpdateItems: { group: 'Limits', placeholder: 'N', help: 'items one update may create or split (close 4413)', parse: wholeNumber(1) },
  maxPendingBytesPerRoom: { group: 'Limits', placeholder: 'BYTES', help: 'bytes of updates a room holds while their dependencies are missing (close 1008)', parse: wholeNumber(0) },
  maxPendingItemsPerRoom: { group: 'Limits', placeholder: 'N', help: 'structs and delete ranges a room holds while their dependencies are missing (close 4422)', parse: wholeNumber(0) },
  maxAwarenessClientsPerConnection: { group: 'Limits', placeholder: 'N', help: 'presence (awareness) ids one connection may introduce (close 1008)', parse: wholeNumber(1) },
  maxAwarenessStateBytes: { group: 'Limits', placeholder: 'BYTES', help: 'bytes of one presence state (close 4413); at most --max-awareness-bytes-per-room', parse: wholeNumber(1) },
  maxAwarenessBytesPerRoom: { group: 'Limits', placeholder: 'BYTES', help: 'bytes of all presence states in one room (close 4413)', parse: wholeNumber(1) }
}

/** A setting with its names worked out. */
interface Row {
  readonly key: keyof Settings
  readonly spec: Spec<unknown>
  readonly flag: string
  readonly env: string
}

const rows: readonly Row[] = Object.entries(table).map(([key, spec]: [string, Spec<unknown>]) => ({
  key: key as keyof Settings,
  spec,
  flag: spec.flag ?? key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`),
  env: spec.env ?? key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()
}))

const rowOf = new Map(rows.map((row) => [row.key, row]))

function label (row: Row, fromFile = false): string {
  return fromFile ? `--${row.flag}-file (${row.env}_FILE)` : `--${row.flag} (${row.env})`
}

/** Every flag a setting is read from (without `--`), for the argument parser; each takes a value. */
export function settingFlags (): string[] {
  return rows.flatMap((row) => row.spec.file ? [row.flag, `${row.flag}-file`] : [row.flag])
}

/** A value as the user would type it, for help and the README. */
function defaultText (row: Row, defaults: Settings): string {
  if (row.spec.defaultText !== undefined) return row.spec.defaultText
  const value = defaults[row.key]
  if (typeof value === 'number' && row.spec.placeholder === 'BYTES' && value >= 1024 && value % 1024 === 0) {
    return value % (1024 * 1024) === 0 ? `${value} (${value / 1024 / 1024} MiB)` : `${value} (${value / 1024} KiB)`
  }
  return Array.isArray(value) ? value.join(',') : String(value)
}

/** Breaks `text` into lines of at most `width` characters, each starting with `indent`. */
function wrap (text: string, indent: string, width = 79): string {
  const lines: string[] = []
  let line = indent
  for (const word of text.split(' ')) {
    if (line.length + word.length + 1 > width && line.trim() !== '') {
      lines.push(line)
      line = indent
    }
    line += line.trim() === '' ? word : ` ${word}`
  }
  return [...lines, line].join('\n')
}

/** The options part of `--help`: every setting by group, with flag, variable, meaning and default. */
export function settingsHelp (defaults: Settings): string {
  const entry = (flag: string, variable: string, help: string): string => `${`  --${flag}`.padEnd(42)} [${variable}]\n${wrap(help, '      ')}`
  const groups = [...new Set(rows.map((row) => row.spec.group))]
  return groups.map((group) => `${group}:\n${rows.filter((row) => row.spec.group === group).map((row) => {
    const main = entry(`${row.flag} ${row.spec.placeholder}`, row.env, `${row.spec.help} (default ${defaultText(row, defaults)})`)
    return row.spec.file ? `${main}\n${entry(`${row.flag}-file FILE`, `${row.env}_FILE`, 'the same, read from a file (a final newline is dropped)')}` : main
  }).join('\n')}`).join('\n\n') + '\n'
}

/** The README's configuration table: one Markdown row per setting. */
export function settingsMarkdown (defaults: Settings): string {
  const lines = ['| flag | variable | default | meaning |', '| --- | --- | --- | --- |']
  for (const row of rows) {
    const flags = row.spec.file ? `\`--${row.flag}\`, \`--${row.flag}-file\`` : `\`--${row.flag}\``
    const vars = row.spec.file ? `\`${row.env}\`, \`${row.env}_FILE\`` : `\`${row.env}\``
    lines.push(`| ${flags} | ${vars} | ${defaultText(row, defaults)} | ${row.spec.help.replace(/\|/g, '\\|')} |`)
  }
  return lines.join('\n') + '\n'
}

/** Where one setting's text came from. */
interface Found {
  readonly text: string
  readonly fromFile: boolean
}

/** The text given for `row`: a flag (or its -file flag) beats the variable (or its _FILE variable); two of one kind is an error. */
function find (row: Row, flags: Readonly<Record<string, string | undefined>>, env: NodeJS.ProcessEnv): Found | null {
  const pair = (value: string | undefined, file: string | undefined, valueName: string, fileName: string): Found | null => {
    if (value !== undefined && file !== undefined) throw new SettingError(`${valueName} and ${fileName} are both set; give one`)
    if (file !== undefined) {
      try {
        return { text: readFileSync(file, 'utf8').replace(/\r?\n$/, ''), fromFile: true }
      } catch (err) {
        throw new SettingError(`${label(row, true)}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
      }
    }
    return value === undefined ? null : { text: value, fromFile: false }
  }
  const fromFlags = pair(flags[row.flag], row.spec.file ? flags[`${row.flag}-file`] : undefined, `--${row.flag}`, `--${row.flag}-file`)
  if (fromFlags) return fromFlags
  const variable = (name: string): string | undefined => env[name] === '' ? undefined : env[name]
  return pair(variable(row.env), row.spec.file ? variable(`${row.env}_FILE`) : undefined, row.env, `${row.env}_FILE`)
}

/**
 * Reads every setting from `flags` (by flag name without `--`) and `env`,
 * over `defaults`, and checks each and how they fit together: storage
 * postgres needs a database URL, a secret and a public key exclude each
 * other and must be usable, a burst must fit the largest message, one
 * presence state must fit a room's. Throws `SettingError` with one line
 * naming the flag and variable at the first problem.
 */
export function readSettings (flags: Readonly<Record<string, string | undefined>>, env: NodeJS.ProcessEnv, defaults: Settings): Settings {
  const values: Record<string, unknown> = { ...defaults }
  const found = new Map<keyof Settings, Found>()
  for (const row of rows) {
    const given = find(row, flags, env)
    if (given === null) continue
    try {
      values[row.key] = row.spec.parse(given.text)
    } catch (err) {
      if (err instanceof SettingError) throw err
      throw new SettingError(`${label(row, given.fromFile)}: ${(err as Error).message}`)
    }
    found.set(row.key, given)
  }
  const settings = values as unknown as Settings
  const named = (key: keyof Settings): string => label(rowOf.get(key) as Row, found.get(key)?.fromFile)
  const storage = found.has('storage') ? settings.storage : settings.databaseUrl !== null ? 'postgres' : 'sqlite'
  if (storage === 'postgres' && settings.databaseUrl === null) throw new SettingError(`${named('storage')}: postgres needs ${named('databaseUrl')}`)
  if (settings.redisUrl !== null && storage !== 'postgres') {
    throw new SettingError(`${named('redisUrl')}: several processes share documents only through PostgreSQL; set ${named('databaseUrl')} too (storage is ${storage})`)
  }
  try {
    createTokenAuthority({ secret: settings.authSecret, publicKeyPem: settings.authPublicKeyPem })
  } catch (err) {
    if (!(err instanceof KeyConfigError)) throw err
    const message = err.message.replace(/^AUTH_SECRET /, '')
    switch (err.setting) {
      case 'both': throw new SettingError(`${named('authSecret')} and ${named('authPublicKeyPem')} are both set: tokens are either signed here with the secret or elsewhere and verified with the public key`)
      case 'secret': throw new SettingError(`${named('authSecret')}: ${message}`)
      case 'publicKey': throw new SettingError(`${named('authPublicKeyPem')}: ${message}`)
    }
  }
  if (settings.webhookUrl !== null && settings.webhookSecret === null) {
    throw new SettingError(`${named('webhookUrl')}: needs ${named('webhookSecret')}, which signs every request so the receiver can tell it came from this server`)
  }
  if (settings.maxByteBurst < settings.maxMessageBytes) {
    throw new SettingError(`${named('maxByteBurst')}: must be at least ${named('maxMessageBytes')} (${settings.maxMessageBytes}), or the largest messages could never be sent`)
  }
  if (settings.maxAwarenessStateBytes > settings.maxAwarenessBytesPerRoom) {
    throw new SettingError(`${named('maxAwarenessStateBytes')}: must be at most ${named('maxAwarenessBytesPerRoom')} (${settings.maxAwarenessBytesPerRoom})`)
  }
  return { ...settings, storage }
}
