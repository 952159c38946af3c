/**
 * Backups of the SQLite database (`coedit.db` in the data folder), taken
 * and restored as files that hold one consistent, verified copy.
 *
 * A backup is safe while a server serves from the same folder: it reads
 * through a connection of its own with SQLite's online backup, copying every
 * page in one step, so it sees one committed state (what the server had
 * committed when the step began) and the server's writes go on meanwhile
 * (WAL mode: readers never block the writer). The copy is written to a
 * temporary file beside the destination, verified, made durable and only
 * then renamed into place, so a file by that name is always a whole,
 * verified backup.
 *
 * Verification opens the copy, runs `PRAGMA integrity_check` and loads every
 * document in it into a Y.Doc as the server would (snapshot, then log).
 *
 * Restoring replaces the folder's database atomically: the file is copied to
 * a temporary file in the folder (with the owner and mode of the database it
 * replaces), verified there, fsynced and renamed over
 * `coedit.db` after the old database's `-wal`, `-shm` and `-journal` files are
 * gone. It refuses while anything else has the database open (see
 * `restoreSqliteDatabase`).
 */
import Database from 'better-sqlite3'
import * as Y from 'yjs'
import { chmodSync, chownSync, closeSync, copyFileSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, statSync } from 'node:fs'
import { basename, dirname, join, resolve } from 'node:path'
import { applyStoredDocument } from '../protocol/document.js'
import { CorruptDocumentError } from './store.js'

/** The database file `openSqliteStore` keeps in the data folder. */
const databaseFile = 'coedit.db'

/** Files SQLite keeps beside a database while it is open or after a crash; stale ones must not meet another database. */
const companionSuffixes = ['-wal', '-shm', '-journal']

/** What a verified database holds. */
export interface DatabaseSummary {
  /** Documents in it, every one of which loads. */
  readonly documents: number
  /** Size of the database file. */
  readonly bytes: number
}

/** A backup or restore that was refused and changed nothing: the message says why and what to do. */
export class BackupRefusedError extends Error {
  override readonly name = 'BackupRefusedError'
}

/** Where `dataDir` keeps its database. */
export function databasePath (dataDir: string): string {
  return join(dataDir, databaseFile)
}

/** A temporary file name in the folder of `path`, unique to this process. */
function temporaryBeside (path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.tmp`)
}

/** Flushes a file (or folder, so that a rename in it is durable) to the disk. */
function fsyncPath (path: string): void {
  const fd = openSync(path, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

/** Removes `path` and the files SQLite keeps beside it. */
function removeWithCompanions (path: string): void {
  for (const suffix of ['', ...companionSuffixes]) rmSync(`${path}${suffix}`, { force: true })
}

/**
 * Opens `path` read-write, makes it a single self-contained file (rollback
 * journal mode, which checkpoints and removes any `-wal`), and checks it:
 * `PRAGMA integrity_check` says ok, it has coedit's tables, and every
 * document in it loads into a Y.Doc. Throws `BackupRefusedError` naming the
 * problem, with the file called `shownAs`. Writes nothing but the journal mode.
 */
function verifyOpen (path: string, shownAs: string): DatabaseSummary {
  let db: Database.Database
  try {
    db = new Database(path, { fileMustExist: true })
  } catch (err) {
    throw new BackupRefusedError(`${shownAs} cannot be opened: ${(err as Error).message}`)
  }
  try {
    let documents: number
    try {
      db.pragma('journal_mode = DELETE')
      const problems = db.pragma('integrity_check', { simple: false }) as Array<{ integrity_check: string }>
      if (problems.length !== 1 || problems[0].integrity_check !== 'ok') {
        throw new BackupRefusedError(`${shownAs} is damaged: ${problems.slice(0, 3).map((row) => row.integrity_check).join('; ')}`)
      }
      const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all() as string[]
      const missing = ['snapshots', 'updates'].filter((table) => !tables.includes(table))
      if (missing.length > 0) throw new BackupRefusedError(`${shownAs} is not a coedit database: it has no ${missing.join(' or ')} table`)
      documents = loadEveryDocument(db)
    } catch (err) {
      if (err instanceof BackupRefusedError) throw err
      const problem = err instanceof CorruptDocumentError ? `${shownAs}: ${err.message}` : `${shownAs} is not a readable SQLite database: ${(err as Error).message}`
      throw new BackupRefusedError(problem)
    }
    return { documents, bytes: statSync(path).size }
  } finally {
    db.close()
  }
}

/** Loads each document of `db` (snapshot, then its log in order) into a Y.Doc; returns how many there are. Throws `CorruptDocumentError`. */
function loadEveryDocument (db: Database.Database): number {
  const names = db.prepare('SELECT doc FROM snapshots UNION SELECT doc FROM updates').pluck().all() as string[]
  const snapshot = db.prepare('SELECT data FROM snapshots WHERE doc = ?').pluck()
  const updates = db.prepare('SELECT data FROM updates WHERE doc = ? ORDER BY seq').pluck()
  for (const name of names) {
    const doc = new Y.Doc()
    try {
      applyStoredDocument(doc, { snapshot: (snapshot.get(name) as Buffer | undefined) ?? null, updates: updates.all(name) as Buffer[], seq: 0 }, name)
    } finally {
      doc.destroy()
    }
  }
  return names.length
}

/** Options of `backupSqliteDatabase`. */
export interface BackupOptions {
  /** The data folder the server uses. */
  readonly dataDir: string
  /** The backup file to write. */
  readonly file: string
  /** Overwrite `file` if it exists. Default false: an existing file is refused. */
  readonly force?: boolean
}

/**
 * Copies the database of `dataDir` into `file` while a server may be
 * serving from it, verifies the copy, and only then puts it in place.
 * Throws `BackupRefusedError` (nothing written) when `file` exists without
 * `force`, when there is no database, or when the copy does not verify.
 */
export async function backupSqliteDatabase (options: BackupOptions): Promise<DatabaseSummary> {
  const source = databasePath(options.dataDir)
  const target = resolve(options.file)
  if (target === resolve(source)) throw new BackupRefusedError(`${options.file} is the database itself; back up to another file`)
  if (existsSync(target) && options.force !== true) throw new BackupRefusedError(`${options.file} exists; pass --force to overwrite it`)
  if (!existsSync(source)) throw new BackupRefusedError(`there is no database in ${options.dataDir} (no ${databaseFile})`)
  if (!existsSync(dirname(target))) throw new BackupRefusedError(`the folder of ${options.file} does not exist`)
  const temporary = temporaryBeside(target)
  // Read-write, though it only reads: when no server has it open, this connection is
  // the last to close and removes the -wal and -shm files it needed, instead of leaving
  // them (owned by whoever ran the backup) in the server's folder.
  const db = new Database(source, { fileMustExist: true })
  try {
    // Every page in one step: one read transaction, so a writer in another process
    // cannot force the copy to start over, and the copy is one committed state.
    await db.backup(temporary, { progress: () => 0x7fffffff })
  } catch (err) {
    removeWithCompanions(temporary)
    throw err
  } finally {
    db.close()
  }
  try {
    const summary = verifyOpen(temporary, `the copy of ${source}`)
    fsyncPath(temporary)
    renameSync(temporary, target)
    fsyncPath(dirname(target))
    return summary
  } finally {
    removeWithCompanions(temporary)
  }
}

/** Options of `restoreSqliteDatabase`. */
export interface RestoreOptions {
  /** The data folder to restore into; created if missing. */
  readonly dataDir: string
  /** The backup file to restore. */
  readonly file: string
  /** Skip the check that nothing has the database open. Default false. */
  readonly force?: boolean
}

/** How long the in-use check waits for another connection's lock before deciding the database is in use. */
const inUseTimeoutMs = 1_000

/**
 * Replaces the database of `dataDir` with `file`, after verifying a copy of
 * it in the folder. Refuses with `BackupRefusedError`, changing nothing in
 * the folder, when the file does not verify or, unless `force`, when
 * another process has the current database open.
 *
 * The in-use check: SQLite lets a connection switch a WAL database back to
 * rollback-journal mode only when no other connection has it open (every
 * connection to a WAL database holds a shared lock on its `-shm` file for
 * as long as it is open, idle or not), so the check makes that switch and
 * takes it failing as "in use". It sees any process on this machine that
 * has the file open (a running server, a backup in progress), not one on
 * another machine sharing the folder over a network file system. Its lock
 * is held until the new file is in place, so a server starting meanwhile
 * fails to open the old file instead of serving it.
 */
export function restoreSqliteDatabase (options: RestoreOptions): DatabaseSummary {
  if (!existsSync(options.file)) throw new BackupRefusedError(`${options.file} does not exist`)
  mkdirSync(options.dataDir, { recursive: true })
  const target = databasePath(options.dataDir)
  const temporary = temporaryBeside(target)
  try {
    copyFileSync(options.file, temporary)
    takeOwnership(temporary, existsSync(target) ? target : options.dataDir)
    const summary = verifyOpen(temporary, options.file)
    fsyncPath(temporary)
    const current = existsSync(target) ? lockUnused(target, options.force === true) : null
    try {
      for (const suffix of companionSuffixes) rmSync(`${target}${suffix}`, { force: true })
      renameSync(temporary, target)
      fsyncPath(options.dataDir)
    } finally {
      current?.close()
    }
    return summary
  } finally {
    removeWithCompanions(temporary)
  }
}

/**
 * Gives `path` the mode of the database it replaces (`like`) and, when run
 * as root, its owner (or the data folder's), so that a server running as
 * another user (a systemd DynamicUser, a container's user) can write it.
 */
function takeOwnership (path: string, like: string): void {
  const model = statSync(like)
  if (model.isFile()) chmodSync(path, model.mode & 0o777)
  if (process.getuid?.() === 0) chownSync(path, model.uid, model.gid)
}

/**
 * Opens the database at `path`, checkpoints it into a single file and holds
 * an exclusive lock on it; throws `BackupRefusedError` when another
 * connection has it open (unless `force`, which returns null then).
 */
function lockUnused (path: string, force: boolean): Database.Database | null {
  let db: Database.Database | null = null
  try {
    db = new Database(path, { fileMustExist: true, timeout: inUseTimeoutMs })
    db.pragma('journal_mode = DELETE')
    db.exec('BEGIN EXCLUSIVE')
    return db
  } catch (err) {
    db?.close()
    if (force) return null
    const code = (err as { code?: string }).code
    if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') {
      throw new BackupRefusedError(`${path} is in use (a server, or another coedit command, has it open): stop it first, or pass --force if nothing does`)
    }
    throw new BackupRefusedError(`${path} cannot be opened to check that nothing uses it (${(err as Error).message}); pass --force to replace it anyway`)
  }
}
