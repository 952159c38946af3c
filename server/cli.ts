#!/usr/bin/env node
/**
 * The `coedit` command. The only module that reads argv, the environment and
 * signals, and the only one that picks concrete storage.
 *
 *   coedit [serve] [options]          (every setting: see server/settings.ts or --help)
 *   coedit export <document> [--binary]
 *   coedit import <document> <file>
 *   coedit token --doc NAME (--read | --write) [--ttl 7d|never] [--name NAME]
 *   coedit backup <file> [--force]
 *   coedit restore <file> [--force]
 */
import { parseArgs } from 'node:util'
import { readFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import * as Y from 'yjs'
import { defaultConfig } from './config.js'
import { createLogger, nextLogLevel } from './log.js'
import { PortInUseError, startRelay } from './relay.js'
import type { ClusterBus } from './cluster/bus.js'
import { createRedisBus } from './cluster/redis.js'
import type { DocStore } from './storage/store.js'
import { createMemoryStore } from './storage/memory.js'
import { openSqliteStore } from './storage/sqlite.js'
import { openPostgresStore } from './storage/postgres.js'
import { backupSqliteDatabase, BackupRefusedError, databasePath, restoreSqliteDatabase } from './storage/sqlite-backup.js'
import { applyStoredDocument, textName } from './protocol/document.js'
import { createOpenAuthority, createTokenAuthority, parseDurationSeconds, type TokenAuthority } from './auth/tokens.js'
import { describePostgres, readSettings, SettingError, settingFlags, settingsHelp, type Settings } from './settings.js'

/** The settings before flags and the environment: the configuration's defaults, serving the built editor. */
const defaults: Settings = {
  ...defaultConfig,
  logLevel: 'info',
  logFormat: 'text',
  editorDir: fileURLToPath(new URL('../editor', import.meta.url))
}

const usage = `Usage:
  coedit [serve] [options]          run the editor and relay on one port
  coedit export <document> [--binary]
                                    print a document's text (or its Yjs state) to stdout
  coedit import <document> <file>   replace a document's text with a file's
                                    (run it while the document is not open)
  coedit token --doc NAME (--read | --write) [--ttl 7d|never] [--name NAME] [--url URL]
                                    mint an access token, signed with AUTH_SECRET or else with
                                    the server's own key from its storage (same storage options);
                                    NAME may end in * to open every document with that prefix
  coedit backup <file> [--force]    copy the SQLite database to <file> while the server
                                    runs, and verify the copy; --force overwrites <file>
  coedit restore <file> [--force]   verify <file> and make it the data folder's database
                                    (with the server stopped; --force skips that check)
  coedit --help                     show this help

Options, each also read from the environment variable in brackets (a flag
wins; an empty variable counts as unset). Numbers are plain decimal digits
in the unit of the name: MS milliseconds, BYTES bytes, SECONDS seconds.

${settingsHelp(defaults)}`

const options = {
  ...Object.fromEntries(settingFlags().map((flag) => [flag, { type: 'string' }] as const)),
  binary: { type: 'boolean' },
  doc: { type: 'string' },
  read: { type: 'boolean' },
  write: { type: 'boolean' },
  ttl: { type: 'string' },
  name: { type: 'string' },
  url: { type: 'string' },
  force: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' }
} as const

/** Thrown for a command line that cannot be used; printed as one line. */
class UsageError extends Error {}

/** What `coedit token` reads from the command line. */
interface TokenOptions {
  readonly doc?: string
  readonly read?: boolean
  readonly write?: boolean
  readonly ttl?: string
  readonly name?: string
  readonly url?: string
}

async function main (argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true })
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/\s*\n\s*/g, ' '))
  }
  const { values, positionals } = parsed
  if (values.help === true) {
    process.stdout.write(usage)
    return 0
  }
  const [command = 'serve', ...args] = positionals
  const settings = readSettings(values as Record<string, string | undefined>, env, defaults)
  switch (command) {
    case 'serve':
      if (args.length > 0) throw new UsageError(`serve takes no arguments, got "${args[0]}"`)
      return await serve(settings)
    case 'export':
      if (args.length !== 1) throw new UsageError('export takes one document name')
      return await exportDocument(settings, args[0], values.binary === true)
    case 'import':
      if (args.length !== 2) throw new UsageError('import takes a document name and a file')
      return await importDocument(settings, args[0], args[1])
    case 'token':
      return await mintToken(settings, values as TokenOptions)
    case 'backup':
    case 'restore':
      if (args.length !== 1) throw new UsageError(`${command} takes one file`)
      return await backupOrRestore(command, settings, args[0], values.force === true)
    default:
      throw new UsageError(`unknown command "${command}" (try --help)`)
  }
}

/** Opens the configured store; with a webhook URL set, it records webhook events with every change. */
async function openStore (settings: Settings): Promise<DocStore> {
  const webhooks = settings.webhookUrl !== null ? { debounceMs: settings.webhookDebounceMs } : undefined
  switch (settings.storage) {
    case 'memory': return createMemoryStore({ webhooks })
    case 'sqlite': return openSqliteStore({ dataDir: settings.dataDir, sync: settings.sqliteSync, webhooks })
    case 'postgres': return await openPostgresStore({ connectionString: settings.databaseUrl as string, tablePrefix: settings.tablePrefix, webhooks })
  }
}

function describeStore (settings: Settings): string {
  switch (settings.storage) {
    case 'memory': return 'memory (documents are lost when the server stops)'
    case 'sqlite': return `sqlite in ${settings.dataDir}`
    case 'postgres': return `postgres ${describePostgres(settings.databaseUrl as string)}`
  }
}

async function serve (settings: Settings): Promise<number> {
  const { logLevel, logFormat, ...config } = settings
  const logger = createLogger({ level: logLevel, format: logFormat })
  // An operator's way to see more (or less) of a running server without restarting it.
  process.on('SIGUSR2', () => logger.setLevel(nextLogLevel(logger.level)))
  // A last resort: every path is meant to handle its own failures, so one that did not is a bug
  // to log, not a reason to drop every room of the process.
  process.on('unhandledRejection', (reason) => logger.error('process.unhandled-rejection', { error: reason as Error }))
  const store = await openStore(settings)
  let bus: ClusterBus | undefined
  let relay
  try {
    if (config.redisUrl !== null) bus = await createRedisBus({ url: config.redisUrl, logger })
    relay = await startRelay({ ...config, store, bus, logger })
  } catch (err) {
    await bus?.close()
    await store.close()
    throw err
  }
  const editor = config.editorDir !== null && existsSync(config.editorDir) ? 'served at /' : 'not built (run npm run build)'
  const cluster = bus ? `with others through Redis as ${bus.processId}` : 'alone'
  logger.info('server.started', { url: relay.url, storage: describeStore(settings), cluster, editor })
  const stop = async (signal: string): Promise<void> => {
    logger.info('server.stopping', { signal })
    await relay.close()
    await bus?.close()
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

/**
 * The authority that signs tokens as the server configured by `settings`
 * does: with AUTH_SECRET, or else with the server's own key, read from its
 * storage (created there if the server never ran).
 */
async function serverAuthority (settings: Settings): Promise<TokenAuthority> {
  if (settings.authSecret) return createTokenAuthority({ secret: settings.authSecret }) as TokenAuthority
  if (settings.storage === 'memory') {
    throw new UsageError('token needs AUTH_SECRET or AUTH_SECRET_FILE (or --auth-secret-file), or storage that keeps the server\'s own key (sqlite or postgres): with memory storage it lives only in the server\'s process')
  }
  const store = await openStore({ ...settings, webhookUrl: null })
  let ownKey: Uint8Array
  try {
    ownKey = await (store.signingKey as () => Promise<Uint8Array>)()
  } finally {
    await store.close()
  }
  return settings.authPublicKeyPem
    ? createTokenAuthority({ publicKeyPem: settings.authPublicKeyPem, ownKey }) as TokenAuthority
    : createOpenAuthority(ownKey)
}

async function mintToken (settings: Settings, values: TokenOptions): Promise<number> {
  const authority = await serverAuthority(settings)
  const doc = values.doc
  if (typeof doc !== 'string' || doc === '') throw new UsageError('token needs --doc NAME (a document name, or a prefix ending in *)')
  if (values.read === values.write) throw new UsageError('token needs exactly one of --read and --write')
  let ttlSeconds: number | null
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

/**
 * `coedit backup` and `coedit restore` for SQLite; PostgreSQL's own tools
 * do this for PostgreSQL storage, and memory storage has nothing to keep.
 */
async function backupOrRestore (command: 'backup' | 'restore', settings: Settings, file: string, force: boolean): Promise<number> {
  if (settings.storage === 'postgres') {
    const prefix = settings.tablePrefix
    const tables = [`${prefix}_snapshots`, `${prefix}_updates`, `${prefix}_documents`]
    throw new UsageError(command === 'backup'
      ? `storage is PostgreSQL: back up with pg_dump --format=custom ${tables.map((table) => `--table=${table}`).join(' ')} (see README, Self-hosting)`
      : `storage is PostgreSQL: restore a pg_dump archive with pg_restore --clean --if-exists (see README, Self-hosting)`)
  }
  if (settings.storage === 'memory') throw new UsageError(`storage is memory: there is nothing to ${command === 'backup' ? 'back up' : 'restore'}`)
  const summary = command === 'backup'
    ? await backupSqliteDatabase({ dataDir: settings.dataDir, file, force })
    : restoreSqliteDatabase({ dataDir: settings.dataDir, file, force })
  const what = `${summary.documents} document${summary.documents === 1 ? '' : 's'}, ${summary.bytes} bytes`
  process.stdout.write(command === 'backup'
    ? `backed up ${what} from ${databasePath(settings.dataDir)} to ${file} (verified)\n`
    : `restored ${what} from ${file} (verified) into ${databasePath(settings.dataDir)}\n`)
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
    if (err instanceof UsageError || err instanceof SettingError || err instanceof PortInUseError || err instanceof BackupRefusedError) {
      process.stderr.write(`coedit: ${err.message}\n`)
      process.exit(2)
    }
    const detail = process.env.LOG_LEVEL === 'debug' ? (err as Error).stack : (err as Error).message
    process.stderr.write(`coedit: ${detail ?? String(err)}\n`)
    process.exit(1)
  }
)
