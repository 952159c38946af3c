/**
 * The `coedit` command as a user runs it: a built server in its own
 * process, stopped by a signal, and the export and import subcommands on
 * the same data folder.
 */
import { describe, expect, it } from 'vitest'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as Y from 'yjs'
import { startChildRelay } from '../helpers/child-relay.js'
import { connectClient, onTeardown, synced, waitFor } from '../helpers/relay.js'
import { closeCodeOf, openWebSocket } from '../helpers/raw-socket.js'

const cli = fileURLToPath(new URL('../../dist/server/cli.js', import.meta.url))

function tempDataDir (): string {
  const dir = mkdtempSync(join(tmpdir(), 'coedit-cli-'))
  onTeardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** Runs the built CLI to completion and returns what it printed and its exit status. */
function coedit (...args: string[]): { status: number | null, stdout: Buffer, stderr: string } {
  const result = spawnSync(process.execPath, [cli, ...args], { encoding: 'buffer', env: { ...process.env, AUTH_SECRET: '' } })
  return { status: result.status, stdout: result.stdout, stderr: result.stderr.toString('utf8') }
}

describe('coedit command', () => {
  it('stops on SIGTERM: saves, closes every socket with 1012 and exits 0', async () => {
    const dataDir = tempDataDir()
    const relay = await startChildRelay(['--data-dir', dataDir])
    const writer = connectClient(relay.url, 'shutdown')
    await synced(writer)
    writer.text.insert(0, 'kept across a clean stop')
    const watcher = await openWebSocket(relay, 'shutdown')
    await waitFor(() => coedit('export', 'shutdown', '--data-dir', dataDir).stdout.toString() === 'kept across a clean stop', 10_000, 'edit stored')
    const closed = closeCodeOf(watcher)
    expect(await relay.stop()).toBe(0)
    expect(await closed).toBe(1012)
    expect(relay.log.some((line) => line.includes('server.stopped'))).toBe(true)
    writer.provider.disconnect()
    expect(coedit('export', 'shutdown', '--data-dir', dataDir).stdout.toString()).toBe('kept across a clean stop')
  })

  it('imports text into a document, exports it as text and as Yjs state, and a client sees it', async () => {
    const dataDir = tempDataDir()
    const file = join(dataDir, 'notes.md')
    writeFileSync(file, '# Notes\n\nnaïve café ✓\n')
    const imported = coedit('import', 'team/notes', file, '--data-dir', dataDir)
    expect(imported.status, imported.stderr).toBe(0)
    expect(coedit('export', 'team/notes', '--data-dir', dataDir).stdout.toString('utf8')).toBe('# Notes\n\nnaïve café ✓\n')

    const binary = coedit('export', 'team/notes', '--binary', '--data-dir', dataDir)
    const doc = new Y.Doc()
    Y.applyUpdate(doc, new Uint8Array(binary.stdout))
    expect(doc.getText('text').toString()).toBe('# Notes\n\nnaïve café ✓\n')

    writeFileSync(file, 'replaced')
    expect(coedit('import', 'team/notes', file, '--data-dir', dataDir).status).toBe(0)
    const relay = await startChildRelay(['--data-dir', dataDir])
    const reader = connectClient(relay.url, 'team/notes')
    await synced(reader)
    await waitFor(() => reader.text.toString() === 'replaced', 10_000, 'imported text at a client')
  })

  it('exports an unknown document as empty text', () => {
    const result = coedit('export', 'never-written', '--data-dir', tempDataDir())
    expect(result.status).toBe(0)
    expect(result.stdout.length).toBe(0)
  })

  it('says what is wrong in one line and exits non-zero for bad usage', async () => {
    for (const args of [['--bogus'], ['serve', '--port', 'eighty'], ['frobnicate'], ['export'], ['token', '--doc', 'x', '--read']]) {
      const result = coedit(...args)
      expect(result.status, args.join(' ')).toBe(2)
      expect(result.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1)
      expect(result.stderr).toMatch(/^coedit: /)
    }
    const relay = await startChildRelay(['--storage', 'memory'])
    const port = new URL(relay.url).port
    const taken = coedit('serve', '--storage', 'memory', '--host', '127.0.0.1', '--port', port)
    expect(taken.status).toBe(2)
    expect(taken.stderr).toContain(`port ${port} on 127.0.0.1 is already in use`)
  })
})
