/**
 * `coedit backup` and `coedit restore` as an operator runs them, each in a
 * process of its own beside a running server: a backup taken while clients
 * type holds every edit the server confirmed saved (or revealed) before it
 * began, and a server started on the restored folder serves all of it; a
 * damaged file is refused with exit 2 and the data folder is left as it
 * was; restore refuses a folder a running server uses.
 */
import { describe, expect, it } from 'vitest'
import { spawn, spawnSync } from 'node:child_process'
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import * as Y from 'yjs'
import { fetchChildDocument, startChildRelay } from '../helpers/child-relay.js'
import { RawClient, highestClocks, missingFrom, type Revealed } from '../helpers/raw-client.js'
import { seededRandom, type Random } from '../helpers/random.js'
import { onTeardown, waitFor } from '../helpers/relay.js'

const cli = fileURLToPath(new URL('../../dist/server/cli.js', import.meta.url))

interface Run {
  readonly status: number | null
  readonly stdout: string
  readonly stderr: string
}

/** The environment with no PostgreSQL or Redis of the test runner's, so the commands use SQLite. */
const env = { ...process.env, DATABASE_URL: '', REDIS_URL: '', STORAGE: '' }

/** Runs the built CLI as a child process without blocking this one (clients go on typing meanwhile). */
async function coedit (...args: string[]): Promise<Run> {
  const child = spawn(process.execPath, [cli, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  const status = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  return { status, stdout, stderr }
}

function tempDir (): string {
  const dir = mkdtempSync(join(tmpdir(), 'coedit-backup-'))
  onTeardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** Every file of `dir` with its bytes, to show that a refused restore changed nothing. */
function contents (dir: string): Record<string, string> {
  return Object.fromEntries(readdirSync(dir).sort().map((name) => [name, readFileSync(join(dir, name)).toString('base64')]))
}

/** Inserts a 1–4 letter word or (three times in ten) deletes 1–3 characters, at a random place. */
function edit (text: Y.Text, random: Random): void {
  if (text.length > 0 && random.next() < 0.3) {
    const at = random.int(text.length)
    text.delete(at, Math.min(1 + random.int(3), text.length - at))
  } else {
    text.insert(random.int(text.length + 1), random.word(1 + random.int(4)))
  }
}

/** Edits `client`'s text every 4–11 ms until stopped; counts its edits. */
function keepEditing (client: RawClient, random: Random): { stop: () => void, readonly edits: number } {
  let timer: NodeJS.Timeout
  let edits = 0
  const next = (): void => {
    timer = setTimeout(() => {
      edit(client.doc.getText('text'), random)
      edits++
      next()
    }, 4 + random.int(8))
  }
  next()
  return { stop: () => clearTimeout(timer), get edits () { return edits } }
}

/** A data folder holding `documents` (name → text), written through `coedit import` with no server running. */
async function folderWith (documents: Record<string, string>): Promise<string> {
  const dir = tempDir()
  for (const [name, text] of Object.entries(documents)) {
    const file = join(dir, `${name}.txt`)
    writeFileSync(file, text)
    expect((await coedit('import', name, file, '--data-dir', dir)).status).toBe(0)
    rmSync(file)
  }
  return dir
}

describe('coedit backup and restore (SQLite)', () => {
  it('backs up while clients type: the restored folder serves every edit confirmed before the backup began', async () => {
    const live = tempDir()
    const relay = await startChildRelay(['--storage', 'sqlite', '--data-dir', live, '--compact-after-updates', '10'])
    const rooms = ['backup-one', 'backup-two']
    const clients = rooms.flatMap((room) => Array.from({ length: 3 }, () => ({ room, client: new RawClient() })))
    onTeardown(() => { for (const { client } of clients) client.destroy() })
    await Promise.all(clients.map(({ room, client }) => client.connect(relay.url, room, true)))
    let messages = 0
    for (const { client } of clients) client.onMessage = () => { messages++ }
    const editors = clients.map(({ client }, i) => keepEditing(client, seededRandom(20261201 + i)))
    // Few enough commits that the write-ahead log has not reached SQLite's automatic
    // checkpoint (1000 pages): most of what is committed is in coedit.db-wal only, so a
    // backup that copied the database file without its log would miss it.
    await waitFor(() => messages >= 200, 20_000, 'clients to type and get confirmations')

    // What the server confirmed saved or sent out up to now; then the backup starts, and typing goes on.
    const before: Array<{ room: string, revealed: Revealed }> = clients.map(({ room, client }) => ({ room, revealed: client.takeRevealed() }))
    const editsAtStart = editors.reduce((sum, editor) => sum + editor.edits, 0)
    const file = join(tempDir(), 'coedit-backup.db')
    const backup = await coedit('backup', file, '--storage', 'sqlite', '--data-dir', live)
    const editsDuring = editors.reduce((sum, editor) => sum + editor.edits, 0) - editsAtStart
    for (const editor of editors) editor.stop()
    expect(backup, backup.stderr).toMatchObject({ status: 0, stderr: '' })
    expect(backup.stdout).toMatch(new RegExp(`^backed up 2 documents, ${statSync(file).size} bytes from .* to ${file} \\(verified\\)\\n$`))
    expect(editsDuring, 'clients typed while the backup ran').toBeGreaterThan(0)
    expect(before.reduce((sum, { revealed }) => sum + revealed.savedCount, 0), 'saved confirmations before the backup').toBeGreaterThan(10)

    const restoredDir = join(tempDir(), 'fresh')
    const restore = await coedit('restore', file, '--storage', 'sqlite', '--data-dir', restoredDir)
    expect(restore, restore.stderr).toMatchObject({ status: 0, stderr: '' })
    expect(restore.stdout).toMatch(/^restored 2 documents, \d+ bytes from .* \(verified\) into .*coedit\.db\n$/)
    expect(readdirSync(restoredDir)).toEqual(['coedit.db'])

    const restored = await startChildRelay(['--storage', 'sqlite', '--data-dir', restoredDir])
    for (const room of rooms) {
      const seen = before.filter((entry) => entry.room === room).map((entry) => entry.revealed)
      const received = Y.mergeUpdates([new Uint8Array([0, 0]), ...seen.flatMap((revealed) => revealed.updates)])
      const claimed = highestClocks(seen.flatMap((revealed) => revealed.stateVectors))
      expect(claimed.size, room).toBe(3)
      const doc = await fetchChildDocument(restored, room)
      expect(missingFrom(doc, received, claimed), room).toEqual([])
      doc.destroy()
    }
  })

  it('refuses a damaged file with exit 2 and leaves the data folder as it was', async () => {
    const source = await folderWith({ kept: 'the text that must survive', other: 'a second document' })
    const file = join(tempDir(), 'good.db')
    expect((await coedit('backup', file, '--data-dir', source)).status).toBe(0)
    const target = tempDir()
    expect((await coedit('restore', file, '--data-dir', target)).status).toBe(0)
    const untouched = contents(target)

    const bad = tempDir()
    const damaged: Record<string, string> = {}
    damaged.noise = join(bad, 'noise.db')
    writeFileSync(damaged.noise, Buffer.from(Array.from({ length: 8192 }, (_, i) => (i * 7919) % 251)))
    damaged.truncated = join(bad, 'truncated.db')
    writeFileSync(damaged.truncated, readFileSync(file).subarray(0, 3 * 4096))
    damaged.empty = join(bad, 'empty.db')
    writeFileSync(damaged.empty, '')
    damaged.foreign = join(bad, 'foreign.db')
    new Database(damaged.foreign).exec('CREATE TABLE notes (body TEXT)').close()
    // A whole database whose pages are fine, with a document that does not load.
    damaged.document = join(bad, 'document.db')
    copyFileSync(file, damaged.document)
    const db = new Database(damaged.document)
    db.prepare("INSERT INTO updates (doc, data, doc_seq) VALUES ('kept', x'0105ff00ff', 1000)").run()
    db.close()

    for (const [kind, path] of Object.entries(damaged)) {
      const result = await coedit('restore', path, '--data-dir', target)
      expect(result.status, `${kind}: ${result.stderr}`).toBe(2)
      expect(result.stderr.trim().split('\n'), kind).toHaveLength(1)
      expect(result.stderr, kind).toMatch(new RegExp(`^coedit: ${path}[: ]`))
      expect(result.stdout, kind).toBe('')
      expect(contents(target), kind).toEqual(untouched)
    }
    expect((await coedit('restore', join(bad, 'missing.db'), '--data-dir', target)).status).toBe(2)
    expect(contents(target)).toEqual(untouched)

    const exported = spawnSync(process.execPath, [cli, 'export', 'kept', '--data-dir', target], { env, encoding: 'utf8' })
    expect(exported.stdout).toBe('the text that must survive')
  })

  it('restore refuses a folder a running server uses; backup refuses to overwrite without --force; PostgreSQL storage points to pg_dump', async () => {
    const live = await folderWith({ serving: 'served text' })
    const file = join(tempDir(), 'backup.db')
    expect((await coedit('backup', file, '--data-dir', live)).status).toBe(0)
    const relay = await startChildRelay(['--storage', 'sqlite', '--data-dir', live])
    const before = contents(live)
    const refused = await coedit('restore', file, '--data-dir', live)
    expect(refused.status, refused.stderr).toBe(2)
    expect(refused.stderr).toMatch(/^coedit: .*coedit\.db is in use .*--force/)
    expect(contents(live)).toEqual(before)
    // The server did not notice: it serves and saves as before.
    const client = new RawClient()
    onTeardown(() => client.destroy())
    await client.connect(relay.url, 'serving', true)
    expect(client.doc.getText('text').toString()).toBe('served text')
    client.doc.getText('text').insert(0, 'still ')
    const confirmed = new Map<number, number>()
    await waitFor(() => (highestClocks(client.takeRevealed().stateVectors, confirmed).get(client.doc.clientID) ?? 0) >= 6, 5_000, 'the edit confirmed saved')
    expect(await relay.stop()).toBe(0)
    // Stopped, the server no longer holds it: the restore goes through, and the edit made after the backup is gone.
    expect((await coedit('restore', file, '--data-dir', live)).status).toBe(0)
    expect(spawnSync(process.execPath, [cli, 'export', 'serving', '--data-dir', live], { env, encoding: 'utf8' }).stdout).toBe('served text')

    const again = await coedit('backup', file, '--data-dir', live)
    expect(again.status).toBe(2)
    expect(again.stderr).toBe(`coedit: ${file} exists; pass --force to overwrite it\n`)
    expect((await coedit('backup', file, '--data-dir', live, '--force')).status).toBe(0)

    const postgres = ['--storage', 'postgres', '--database-url', 'postgres://coedit@127.0.0.1:1/coedit', '--table-prefix', 'notes']
    const pgBackup = await coedit('backup', file, ...postgres)
    expect(pgBackup.status).toBe(2)
    expect(pgBackup.stderr).toContain('pg_dump --format=custom --table=notes_snapshots --table=notes_updates --table=notes_documents')
    const pgRestore = await coedit('restore', file, ...postgres)
    expect(pgRestore.status).toBe(2)
    expect(pgRestore.stderr).toContain('pg_restore')
  })
})
