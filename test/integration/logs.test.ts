/**
 * The built server with `--log-format json`, as a log collector reads it:
 * every stderr line is one JSON object; each connection gets one line when
 * it opens and one when it closes, with room, address, close code and
 * duration; what clients type never shows up in any line; SIGUSR2 moves the
 * level on.
 */
import { describe, expect, it } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startChildRelay, type ChildRelay } from '../helpers/child-relay.js'
import { RawClient } from '../helpers/raw-client.js'
import { onTeardown, waitFor } from '../helpers/relay.js'

interface Entry {
  readonly time: string
  readonly level: string
  readonly event: string
  readonly [field: string]: unknown
}

function tempDir (): string {
  const dir = mkdtempSync(join(tmpdir(), 'coedit-logs-'))
  onTeardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** Every line `relay` wrote, parsed; fails naming the first line that is not a JSON log entry. */
function entries (relay: ChildRelay): Entry[] {
  return relay.log.filter((line) => line !== '').map((line) => {
    let entry: Entry
    try {
      entry = JSON.parse(line) as Entry
    } catch {
      throw new Error(`not a JSON line: ${line}`)
    }
    expect(Object.keys(entry).slice(0, 3), line).toEqual(['time', 'level', 'event'])
    expect(Number.isNaN(Date.parse(entry.time)), line).toBe(false)
    return entry
  })
}

function client (): RawClient {
  const c = new RawClient()
  onTeardown(() => c.destroy())
  return c
}

describe('JSON logs of a running server', () => {
  it('writes only JSON lines, one per connection opened and closed, and never what clients type', async () => {
    const relay = await startChildRelay(['--log-format', 'json', '--data-dir', tempDir()])
    const room = 'log-room'
    // Distinctive enough never to appear by chance; typed in pieces and as a whole.
    const secret = 'zebra-quartz-7731-PLAINTEXT'
    const typist = client()
    const reader = client()
    await typist.connect(relay.url, room, true)
    await reader.connect(relay.url, room)
    const text = typist.doc.getText('text')
    for (const piece of secret.match(/.{1,5}/g) as string[]) text.insert(text.length, piece)
    text.insert(0, `${secret}\n`)
    await waitFor(() => reader.doc.getText('text').toString() === text.toString(), 10_000, 'the text at the reader')
    // Presence too is a client's to write: a name in it stays out of the log.
    const closedByClient = typist.closed()
    typist.terminate()
    await closedByClient
    // A server-side close: a text frame is refused with 1003.
    const refused = client()
    await refused.connect(relay.url, room)
    const refusedClosed = refused.closed()
    ;(refused as unknown as { socket: { send: (data: string) => void } }).socket.send(secret)
    expect(await refusedClosed).toBe(1003)
    reader.terminate()
    await waitFor(() => entries(relay).filter((entry) => entry.event === 'connection.closed').length === 3, 10_000, 'three close lines')
    expect(await relay.stop()).toBe(0)

    const all = entries(relay)
    expect(all.map((entry) => entry.event)).toContain('server.started')
    expect(all.at(-1)?.event).toBe('server.stopped')
    for (const line of relay.log) {
      for (const part of [secret, 'zebra', 'quartz', 'PLAINTEXT']) expect(line, 'a log line holds typed text').not.toContain(part)
    }

    const opened = all.filter((entry) => entry.event === 'connection.opened')
    const closed = all.filter((entry) => entry.event === 'connection.closed')
    expect(opened).toHaveLength(3)
    expect(closed).toHaveLength(3)
    for (const entry of [...opened, ...closed]) {
      expect(entry).toMatchObject({ level: 'info', room, address: '127.0.0.1' })
      expect(typeof entry.id).toBe('number')
    }
    for (const entry of closed) {
      expect(Number.isInteger(entry.durationMs) && (entry.durationMs as number) >= 0, JSON.stringify(entry)).toBe(true)
      expect(entry.bytesIn as number).toBeGreaterThan(0)
      expect(entry.bytesOut as number).toBeGreaterThan(0)
    }
    const byId = new Map(closed.map((entry) => [entry.id, entry]))
    expect(opened.map((entry) => byId.has(entry.id))).toEqual([true, true, true])
    const codes = closed.map((entry) => ({ code: entry.code, by: entry.by }))
    // The typist and the reader vanished without a close frame; the third was closed by the server.
    expect(codes).toEqual(expect.arrayContaining([{ code: 1006, by: 'client' }, { code: 1003, by: 'server' }]))
    expect(codes.filter((c) => c.code === 1006)).toHaveLength(2)
    // The typist sent more than it received back, the reader the other way round.
    const typistClosed = byId.get(opened[0].id) as Entry
    expect(typistClosed.bytesIn as number).toBeGreaterThan(secret.length * 2)
  })

  it('moves the level on at SIGUSR2: info → warn hides connection lines, and says so', async () => {
    const relay = await startChildRelay(['--log-format', 'json', '--data-dir', tempDir()])
    process.kill(relay.pid, 'SIGUSR2')
    await waitFor(() => entries(relay).some((entry) => entry.event === 'log.level'), 5_000, 'the level change line')
    expect(entries(relay).find((entry) => entry.event === 'log.level')).toMatchObject({ from: 'info', to: 'warn' })
    const quiet = client()
    await quiet.connect(relay.url, 'after-sigusr2')
    quiet.terminate()
    // The next change is written after the connection's lines would have been.
    process.kill(relay.pid, 'SIGUSR2')
    await waitFor(() => entries(relay).filter((entry) => entry.event === 'log.level').length === 2, 5_000, 'the second level change')
    expect(entries(relay).filter((entry) => entry.event.startsWith('connection.'))).toEqual([])
    process.kill(relay.pid, 'SIGUSR2') // error → debug
    await waitFor(() => entries(relay).filter((entry) => entry.event === 'log.level').length === 3, 5_000, 'the third level change')
    const loud = client()
    await loud.connect(relay.url, 'after-sigusr2')
    await waitFor(() => entries(relay).some((entry) => entry.event === 'connection.opened'), 5_000, 'an open line at debug level')
    expect(entries(relay).filter((entry) => entry.event === 'log.level').map((entry) => entry.to)).toEqual(['warn', 'error', 'debug'])
  })
})
