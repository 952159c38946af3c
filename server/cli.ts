#!/usr/bin/env node
/**
 * The `coedit` command. The only module that reads argv, the environment and
 * signals, and the only one that picks concrete storage.
 *
 *   coedit [serve] [--port N] [--host H] [--storage sqlite|postgres|memory] [--data-dir D] [--database-url URL]
 *   coedit export <document> [--binary]
 *   coedit import <document> <file>
 *   coedit token --doc NAME (--read | --write) [--ttl 7d] [--name NAME]
 */
import { parseArgs } from 'node:util'
import { readFile } from 'node:fs/promises'
import { readFileSync } from 'node:fs'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import * as Y from 'yjs'
import { defaultConfig, type Config, type StorageKind } from './config.js'
import { createLogger, type LogLevel } from './log.js'
import { PortInUseError, startRelay } from './relay.js'
import type { DocStore } from './storage/store.js'
import { createMemoryStore } from './storage/memory.js'
import { openSqliteStore } from './storage/sqlite.js'
import { openPostgresStore } from './storage/postgres.js'
import { applyStoredDocument, textName } from './rooms/room.js'
import { createTokenAuthority, parseDurationSeconds } from './auth/tokens.js'

const usage = `Usage:
  coedit [serve] [options]          run the editor and relay on one port
  coedit export <document> [--binary]
                                    print a document's text (or its Yjs state) to stdout
  coedit import <document> <file>   replace a document's text with a file's
                                    (run it while the document is not open)
  coedit token --doc NAME (--read | --write) [--ttl 7d] [--name NAME] [--url URL]
                                    mint an access token (needs AUTH_SECRET);
                                    NAME may end in * to open every document with that prefix

Options (each also read from the environment variable in brackets):
  --port N            port for HTTP and WebSocket [PORT] (default ${defaultConfig.port})
  --host H            interface to listen on [HOST] (default ${defaultConfig.host})
  --storage KIND      sqlite, postgres or memory [STORAGE]
                      (default postgres if a database URL is set, else sqlite)
  --data-dir D        folder of the SQLite database [DATA_DIR] (default ${defaultConfig.dataDir})
  --database-url URL  PostgreSQL connection string [DATABASE_URL]
  --sqlite-sync MODE  normal (survives a crash) or full (also a power loss) [SQLITE_SYNC] (default normal)
  --table-prefix P    prefix of the PostgreSQL tables [TABLE_PREFIX] (default ${defaultConfig.tablePrefix})
  --compact-after-updates N
                      compact a document's stored log once it holds N updates
                      [COMPACT_AFTER_UPDATES] (default ${defaultConfig.compactAfterUpdates})
  --max-connections N most open WebSockets [MAX_CONNECTIONS] (default ${defaultConfig.maxConnections})
  --max-connections-per-address N
                      most open WebSockets from one remote address; raise it behind a
                      reverse proxy [MAX_CONNECTIONS_PER_ADDRESS] (default ${defaultConfig.maxConnectionsPerAddress})
  --log-level L       debug, info, warn or error [LOG_LEVEL] (default info)
  --auth-secret S     HMAC secret (32+ characters) that signs access tokens [AUTH_SECRET];
                      without it (or AUTH_PUBLIC_KEY / AUTH_PUBLIC_KEY_FILE) the server runs open
  --allowed-origins L comma-separated browser origins allowed to connect [ALLOWED_ORIGINS]
  -h, --help          show this help
`

const options = {
  port: { type: 'string' },
  host: { type: 'string' },
  storage: { type: 'string' },
  'data-dir': { type: 'string' },
  'database-url': { type: 'string' },
  'sqlite-sync': { type: 'string' },
  'table-prefix': { type: 'string' },
  'compact-after-updates': { type: 'string' },
  'max-connections': { type: 'string' },
  'max-connections-per-address': { type: 'string' },
  'log-level': { type: 'string' },
  'auth-secret': { type: 'string' },
  'allowed-origins': { type: 'string' },
  binary: { type: 'boolean' },
  doc: { type: 'string' },
  read: { type: 'boolean' },
  write: { type: 'boolean' },
  ttl: { type: 'string' },
  name: { type: 'string' },
  url: { type: 'string' },
  help: { type: 'boolean', short: 'h' }
} as const

/** Thrown for a command line or environment that cannot be used; printed as one line. */
class UsageError extends Error {}

async function main (argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true })
  } catch (err) {
    throw new UsageError((err as Error).message.split('\n')[0])
  }
  const { values, positionals } = parsed
  if (values.help) {
    process.stdout.write(usage)
    return 0
  }
  const [command = 'serve', ...args] = positionals
  const settings = readSettings(values, env)
  switch (command) {
    case 'serve':
      if (args.length > 0) throw new UsageError(`serve takes no arguments, got "${args[0]}"`)
      return await serve(settings, values['log-level'] ?? env.LOG_LEVEL)
    case 'export':
      if (args.length !== 1) throw new UsageError('export takes one document name')
      return await exportDocument(settings, args[0], values.binary === true)
    case 'import':
      if (args.length !== 2) throw new UsageError('import takes a document name and a file')
      return await importDocument(settings, args[0], args[1])
    case 'token':
      return await mintToken(settings, values)
    default:
      throw new UsageError(`unknown command "${command}" (try --help)`)
  }
}

type Settings = Pick<Config, 'port' | 'host' | 'storage' | 'dataDir' | 'databaseUrl' | 'sqliteSync' | 'tablePrefix' | 'compactAfterUpdates' | 'maxConnections' | 'maxConnectionsPerAddress' | 'authSecret' | 'authPublicKeyPem' | 'allowedOrigins'>

function readSettings (values: Record<string, string | boolean | undefined>, env: NodeJS.ProcessEnv): Settings {
  const pick = (flag: string, variable: string): string | undefined => {
    const value = values[flag] ?? env[variable]
    return typeof value === 'string' && value !== '' ? value : undefined
  }
  const wholeNumber = (flag: string, variable: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const text = pick(flag, variable)
    const value = text === undefined ? fallback : Number(text)
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new UsageError(`${flag} must be a whole number from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ' up'}, got "${text}"`)
    }
    return value
  }
  const port = wholeNumber('port', 'PORT', defaultConfig.port, 0, 65535)
  const databaseUrl = pick('database-url', 'DATABASE_URL') ?? null
  const storage = (pick('storage', 'STORAGE') ?? (databaseUrl ? 'postgres' : 'sqlite')) as StorageKind
  if (!['sqlite', 'postgres', 'memory'].includes(storage)) throw new UsageError(`storage must be sqlite, postgres or memory, got "${storage}"`)
  if (storage === 'postgres' && !databaseUrl) throw new UsageError('storage postgres needs --database-url or DATABASE_URL')
  const sqliteSync = pick('sqlite-sync', 'SQLITE_SYNC') ?? defaultConfig.sqliteSync
  if (sqliteSync !== 'normal' && sqliteSync !== 'full') throw new UsageError(`sqlite-sync must be normal or full, got "${sqliteSync}"`)
  const publicKeyFile = env.AUTH_PUBLIC_KEY_FILE
  let authPublicKeyPem = env.AUTH_PUBLIC_KEY ?? null
  if (!authPublicKeyPem && publicKeyFile) {
    try {
      authPublicKeyPem = readFileSync(publicKeyFile, 'utf8')
    } catch (err) {
      throw new UsageError(`cannot read AUTH_PUBLIC_KEY_FILE ${publicKeyFile}: ${(err as Error).message}`)
    }
  }
  const origins = pick('allowed-origins', 'ALLOWED_ORIGINS')
  const authSecret = pick('auth-secret', 'AUTH_SECRET') ?? null
  if (authSecret !== null && authSecret.length < 32) throw new UsageError('AUTH_SECRET must be at least 32 characters long')
  return {
    authSecret,
    authPublicKeyPem,
    allowedOrigins: origins ? origins.split(',').map((o) => o.trim()).filter(Boolean) : null,
    port,
    host: pick('host', 'HOST') ?? defaultConfig.host,
    storage,
    dataDir: pick('data-dir', 'DATA_DIR') ?? defaultConfig.dataDir,
    databaseUrl,
    sqliteSync,
    tablePrefix: pick('table-prefix', 'TABLE_PREFIX') ?? defaultConfig.tablePrefix,
    compactAfterUpdates: wholeNumber('compact-after-updates', 'COMPACT_AFTER_UPDATES', defaultConfig.compactAfterUpdates, 1),
    maxConnections: wholeNumber('max-connections', 'MAX_CONNECTIONS', defaultConfig.maxConnections, 1),
    maxConnectionsPerAddress: wholeNumber('max-connections-per-address', 'MAX_CONNECTIONS_PER_ADDRESS', defaultConfig.maxConnectionsPerAddress, 1)
  }
}

async function openStore (settings: Settings): Promise<DocStore> {
  switch (settings.storage) {
    case 'memory': return createMemoryStore()
    case 'sqlite': return openSqliteStore({ dataDir: settings.dataDir, sync: settings.sqliteSync })
    case 'postgres': return await openPostgresStore({ connectionString: settings.databaseUrl as string, tablePrefix: settings.tablePrefix })
  }
}

function describeStore (settings: Settings): string {
  switch (settings.storage) {
    case 'memory': return 'memory (documents are lost when the server stops)'
    case 'sqlite': return `sqlite in ${settings.dataDir}`
    case 'postgres': return `postgres at ${new URL(settings.databaseUrl as string).host}`
  }
}

async function serve (settings: Settings, logLevel: string | undefined): Promise<number> {
  const level = (logLevel ?? 'info') as LogLevel
  if (!['debug', 'info', 'warn', 'error'].includes(level)) throw new UsageError(`log level must be debug, info, warn or error, got "${level}"`)
  const logger = createLogger(level)
  const editorDir = fileURLToPath(new URL('../editor', import.meta.url))
  const store = await openStore(settings)
  let relay
  try {
    relay = await startRelay({ ...settings, store, logger, editorDir })
  } catch (err) {
    await store.close()
    throw err
  }
  logger.info('server.started', { url: relay.url, storage: describeStore(settings), editor: existsSync(editorDir) ? 'served at /' : 'not built (run npm run build)' })
  const stop = async (signal: string): Promise<void> => {
    logger.info('server.stopping', { signal })
    await relay.close()
    await store.close()
    logger.info('server.stopped')
  }
  return await new Promise<number>((resolve, reject) => {
    let stopping = false
    const onSignal = (signal: string): void => {
      if (stopping) {
        logger.warn('server.forced-exit', { signal })
        resolve(1)
        return
      }
      stopping = true
      stop(signal).then(() => resolve(0), reject)
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
  })
}

async function exportDocument (settings: Settings, name: string, binary: boolean): Promise<number> {
  const store = await openStore(settings)
  try {
    const doc = await loadDoc(store, name)
    const out = binary ? Y.encodeStateAsUpdate(doc) : doc.getText(textName).toString()
    await new Promise<void>((resolve, reject) => process.stdout.write(out, (err) => err ? reject(err) : resolve()))
    doc.destroy()
    return 0
  } finally {
    await store.close()
  }
}

async function importDocument (settings: Settings, name: string, file: string): Promise<number> {
  const text = await readFile(file, 'utf8')
  const store = await openStore(settings)
  try {
    const doc = await loadDoc(store, name)
    const before = Y.encodeStateVector(doc)
    const ytext = doc.getText(textName)
    doc.transact(() => {
      ytext.delete(0, ytext.length)
      ytext.insert(0, text)
    })
    await store.append(name, Y.encodeStateAsUpdate(doc, before))
    doc.destroy()
    process.stderr.write(`imported ${text.length} characters into "${name}"\n`)
    return 0
  } finally {
    await store.close()
  }
}

async function mintToken (settings: Settings, values: Record<string, string | boolean | undefined>): Promise<number> {
  const authority = settings.authSecret ? createTokenAuthority({ secret: settings.authSecret }) : null
  if (!authority) throw new UsageError('token needs AUTH_SECRET (or --auth-secret): the same secret the server uses')
  const doc = values.doc
  if (typeof doc !== 'string' || doc === '') throw new UsageError('token needs --doc NAME (a document name, or a prefix ending in *)')
  if (values.read === values.write) throw new UsageError('token needs exactly one of --read and --write')
  let ttlSeconds: number
  try {
    ttlSeconds = parseDurationSeconds(typeof values.ttl === 'string' ? values.ttl : '7d')
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
  const name = typeof values.name === 'string' && values.name !== '' ? values.name : null
  const token = await authority.mint({ doc, permission: values.write ? 'write' : 'read', name }, ttlSeconds)
  const base = typeof values.url === 'string' ? values.url.replace(/\/$/, '') : null
  const line = base && !doc.endsWith('*') ? `${base}/d/${encodeURIComponent(doc)}?token=${token}` : token
  process.stdout.write(`${line}\n`)
  return 0
}

async function loadDoc (store: DocStore, name: string): Promise<Y.Doc> {
  const doc = new Y.Doc()
  applyStoredDocument(doc, await store.load(name), name)
  return doc
}

main(process.argv.slice(2), process.env).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError || err instanceof PortInUseError) {
      process.stderr.write(`coedit: ${err.message}\n`)
      process.exit(2)
    }
    const detail = process.env.LOG_LEVEL === 'debug' ? (err as Error).stack : (err as Error).message
    process.stderr.write(`coedit: ${detail ?? String(err)}\n`)
    process.exit(1)
  }
)
