/**
 * The relay behind a real nginx (Debian's `/usr/sbin/nginx`), configured
 * with the README's example: WebSocket upgrades pass through, and with
 * `trustProxy` the per-address connection limit counts the address nginx
 * forwards instead of nginx's own. nginx runs as a child of the test, in
 * the foreground with no master process, with every file it writes in a
 * temporary folder, and is stopped by its pid.
 */
import { describe, expect, it } from 'vitest'
import { spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import WebSocket from 'ws'
import { captureLog, connectClient, startTestRelay, synced, waitFor } from '../helpers/relay.js'
import { freePort, nginxConf, nginxDir as tempDir, nginxPath as nginx, startNginx } from '../helpers/nginx.js'
import { closeCodeOf, openWebSocket, UpgradeRefused } from '../helpers/raw-socket.js'
import type { Relay } from '../../server/relay.js'

const readme = fileURLToPath(new URL('../../README.md', import.meta.url))

/** The README's nginx example (the server block and the map it needs). */
function readmeExample (): string {
  const block = /```nginx\n([\s\S]*?)```/.exec(readFileSync(readme, 'utf8'))
  if (!block) throw new Error('README.md has no ```nginx example')
  return block[1]
}

/** `text` with `from` replaced by `to`; throws when `from` is not there, so a changed README fails loudly. */
function replaced (text: string, from: string | RegExp, to: string): string {
  const result = text.replace(from, to)
  if (result === text) throw new Error(`the README's nginx example no longer contains ${String(from)}`)
  return result
}

/** nginx in front of `relay`, configured with the README's example on a free port without TLS. */
async function behindNginx (relay: Relay): Promise<string> {
  const dir = tempDir()
  const port = await freePort()
  let http = readmeExample()
  http = replaced(http, 'listen 443 ssl;', `listen 127.0.0.1:${port};`)
  http = replaced(http, /^\s*ssl_certificate(_key)?\s.*\n/gm, '')
  http = replaced(http, 'proxy_pass http://127.0.0.1:1234;', `proxy_pass ${relay.url};`)
  return await startNginx(dir, port, nginxConf(dir, http))
}

/** Opens a socket through `url` claiming to come from `forwardedFor`; resolves with it, or with the refusal's status. */
async function connectAs (url: string, forwardedFor: string | null, room = 'proxied'): Promise<WebSocket | number> {
  try {
    return await openWebSocket({ url }, room, {}, forwardedFor === null ? {} : { headers: { 'x-forwarded-for': forwardedFor } })
  } catch (err) {
    if (err instanceof UpgradeRefused) return err.status
    throw err
  }
}

function statusOf (result: WebSocket | number): number {
  return typeof result === 'number' ? result : 101
}

describe('behind nginx', () => {
  it('passes WebSocket upgrades through: two stock clients edit one document', async () => {
    const relay = await startTestRelay({ trustProxy: ['127.0.0.1'] })
    const url = await behindNginx(relay)
    const a = connectClient(url, 'through-nginx')
    const b = connectClient(url, 'through-nginx')
    await synced(a)
    await synced(b)
    a.text.insert(0, 'hello through nginx')
    await waitFor(() => b.text.toString() === 'hello through nginx', 10_000, 'the edit at the other client')
  })

  it('with trustProxy, counts each forwarded address on its own and refuses the third from one address with 429', async () => {
    const log = captureLog()
    const relay = await startTestRelay({ maxConnectionsPerAddress: 2, trustProxy: ['127.0.0.1'], logger: log.logger })
    const url = await behindNginx(relay)
    const opened: WebSocket[] = []
    for (const address of ['198.51.100.1', '198.51.100.2', '198.51.100.3']) {
      for (let i = 0; i < 2; i++) {
        const socket = await connectAs(url, address)
        expect(statusOf(socket), address).toBe(101)
        opened.push(socket as WebSocket)
      }
    }
    expect(relay.connectionCount).toBe(6)
    expect(statusOf(await connectAs(url, '198.51.100.1'))).toBe(429)
    expect(log.lines.some((line) => line.includes('upgrade.rejected status=429') && line.includes('address=198.51.100.1'))).toBe(true)
    // An address the client wrote left of the one it connects from is not believed.
    const spoofing = await connectAs(url, '198.51.100.1, 198.51.100.9')
    expect(statusOf(spoofing)).toBe(101)
    expect(statusOf(await connectAs(url, '198.51.100.9'))).toBe(101)
    expect(statusOf(await connectAs(url, '198.51.100.9'))).toBe(429)
    // The connection itself knows the forwarded address (its grant's), as its log lines show.
    const refused = closeCodeOf(opened[2])
    opened[2].send('a text frame')
    expect(await refused).toBe(1003)
    await waitFor(() => log.lines.some((line) => line.includes('connection.rejected') && line.includes('address=198.51.100.2')), 5_000, 'the rejection logged under the forwarded address')
    // A closed socket is released under the address it was counted with.
    const closed = closeCodeOf(opened[0])
    opened[0].close()
    await closed
    await waitFor(() => relay.connectionCount === 6, 5_000, 'the closed socket to be counted back')
    expect(statusOf(await connectAs(url, '198.51.100.1'))).toBe(101)
    expect(statusOf(await connectAs(url, '198.51.100.1'))).toBe(429)
    expect(statusOf(await connectAs(url, '198.51.100.2'))).toBe(101)
    expect(statusOf(await connectAs(url, '198.51.100.2'))).toBe(429)
  })

  it('without trustProxy, counts every client as nginx\'s address', async () => {
    const log = captureLog()
    const relay = await startTestRelay({ maxConnectionsPerAddress: 2, logger: log.logger })
    const url = await behindNginx(relay)
    expect(statusOf(await connectAs(url, '198.51.100.1'))).toBe(101)
    expect(statusOf(await connectAs(url, '198.51.100.2'))).toBe(101)
    expect(statusOf(await connectAs(url, '198.51.100.3'))).toBe(429)
    expect(statusOf(await connectAs(url, null))).toBe(429)
    expect(relay.connectionCount).toBe(2)
    expect(log.lines.filter((line) => line.includes('upgrade.rejected status=429')).every((line) => line.includes('address=127.0.0.1'))).toBe(true)
  })

  it('accepts the README example as it stands, TLS included (nginx -t)', () => {
    const dir = tempDir()
    const certificate = join(dir, 'fullchain.pem')
    const key = join(dir, 'privkey.pem')
    const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
      '-subj', '/CN=notes.example.org', '-keyout', key, '-out', certificate], { encoding: 'utf8' })
    expect(made.status, `openssl: ${made.stderr}`).toBe(0)
    let http = readmeExample()
    http = replaced(http, '/etc/letsencrypt/live/notes.example.org/fullchain.pem', certificate)
    http = replaced(http, '/etc/letsencrypt/live/notes.example.org/privkey.pem', key)
    const file = join(dir, 'nginx.conf')
    writeFileSync(file, nginxConf(dir, http))
    const result = spawnSync(nginx, ['-t', '-e', join(dir, 'error.log'), '-p', dir, '-c', file], { encoding: 'utf8' })
    expect(result.status, result.stderr).toBe(0)
    expect(result.stderr).toContain('test is successful')
  })
})
