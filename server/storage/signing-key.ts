/**
 * The server's own signing key (`DocStore.signingKey`): 32 random bytes,
 * made the first time a store is asked for it and then kept, so that every
 * process sharing the storage, and every restart, signs and verifies links
 * with the same key. Replacing it (deleting the file or row) ends every link
 * it signed.
 *
 * - SQLite: the file `signing-key` in the data folder, readable by its
 *   owner only (mode 0600), holding the key in hex.
 * - PostgreSQL: the one row of `${prefix}_signing_key`.
 * - Memory: a key of the store instance, gone with the process.
 */
import { randomBytes } from 'node:crypto'
import { chmodSync, linkSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type pg from 'pg'

/** Bytes of a signing key. */
export const signingKeyBytes = 32

/** Name of the key file in an SQLite data folder. */
export const signingKeyFileName = 'signing-key'

/** A new random key. */
export function newSigningKey (): Uint8Array {
  return new Uint8Array(randomBytes(signingKeyBytes))
}

/**
 * The key in `dataDir`'s key file, creating the file (mode 0600) if it is
 * missing. Processes starting together agree on one key: each writes a key
 * of its own to a private temporary file and links it into place, which
 * succeeds for one only; the others read the winner's. A key file that
 * others may read is made private. Throws when the file holds no key.
 */
export function sqliteSigningKey (dataDir: string): Uint8Array {
  const file = join(dataDir, signingKeyFileName)
  try {
    return readKeyFile(file)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  const draft = `${file}.${process.pid}.${randomBytes(6).toString('hex')}`
  writeFileSync(draft, `${Buffer.from(newSigningKey()).toString('hex')}\n`, { mode: 0o600, flag: 'wx' })
  try {
    linkSync(draft, file)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  } finally {
    unlinkSync(draft)
  }
  return readKeyFile(file)
}

function readKeyFile (file: string): Uint8Array {
  const text = readFileSync(file, 'utf8').trim()
  if (!/^[0-9a-f]{64}$/.test(text)) throw new Error(`${file} holds no signing key (64 hex digits); delete it to make a new one (every link made so far stops working)`)
  if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600)
  return new Uint8Array(Buffer.from(text, 'hex'))
}

/** Creates the key table if missing, with `client` (inside the caller's schema transaction). */
export async function createSigningKeyTable (client: pg.PoolClient, prefix: string): Promise<void> {
  await client.query(`CREATE TABLE IF NOT EXISTS ${prefix}_signing_key (id SMALLINT PRIMARY KEY CHECK (id = 1), key BYTEA NOT NULL)`)
}

/**
 * The key in the table `createSigningKeyTable` made, inserting a new one if
 * there is none: insert-if-absent, then read, so processes starting together
 * all read the one key that was inserted first.
 */
export async function postgresSigningKey (pool: pg.Pool, prefix: string): Promise<Uint8Array> {
  const table = `${prefix}_signing_key`
  await pool.query(`INSERT INTO ${table} (id, key) VALUES (1, $1) ON CONFLICT (id) DO NOTHING`, [Buffer.from(newSigningKey())])
  const { rows } = await pool.query(`SELECT key FROM ${table} WHERE id = 1`) as { rows: Array<{ key: Buffer }> }
  return new Uint8Array(rows[0].key)
}
