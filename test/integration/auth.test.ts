/**
 * Access control over real sockets: tokens at the upgrade, read-only
 * connections, display names, origins, the token endpoints and the
 * `coedit token` command.
 */
import { describe, expect, it, vi } from 'vitest'
import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as Y from 'yjs'
import { decodeJwt } from 'jose'
import { connectClient, onTeardown, startTestRelay, synced, waitFor, type TestClient } from '../helpers/relay.js'
import { openWebSocket, sendThenProbe, upgradeStatus } from '../helpers/raw-socket.js'
import { ecKeyPair, signToken, testSecret } from '../helpers/tokens.js'
import { createTokenAuthority, type Permission, type TokenAuthority } from '../../server/auth/tokens.js'
import { encodeUpdate, messageAuth } from '../../server/protocol/messages.js'
import { openSqliteStore } from '../../server/storage/sqlite.js'
import type { Relay, RelayOptions } from '../../server/relay.js'

const secret = testSecret('auth')
const tokens = createTokenAuthority({ secret }) as TokenAuthority

/** A token for `doc` with `permission`, from the relay's own secret. */
async function token (doc: string, permission: Permission = 'write', ttlSeconds = 3600, name: string | null = null): Promise<string> {
  return await tokens.mint({ doc, permission, name }, ttlSeconds)
}

async function relayWithAuth (options: RelayOptions = {}): Promise<Relay> {
  return await startTestRelay({ authSecret: secret, ...options })
}

/** A stock client connected with `token` (as the `token` query parameter, the way the editor sends it). */
async function client (relay: Relay, room: string, accessToken: string): Promise<TestClient> {
  const c = connectClient(relay, room, { token: accessToken })
  await synced(c)
  return c
}

async function post (relay: Relay, path: string, bearer: string | null, body?: unknown): Promise<{ status: number, json: Record<string, string> }> {
  const res = await fetch(`${relay.url}${path}`, {
    method: 'POST',
    headers: { ...(bearer === null ? {} : { authorization: `Bearer ${bearer}` }), 'content-type': 'application/json' },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body)
  })
  const text = await res.text()
  return { status: res.status, json: text ? JSON.parse(text) as Record<string, string> : {} }
}

/** Seconds since the epoch at which a token expires. */
function expiry (jwt: string): number {
  return decodeJwt(jwt).exp as number
}

describe('tokens at the upgrade', () => {
  it('answers 401 without a token, with a forged one or an expired one, and 403 for another document', async () => {
    const relay = await relayWithAuth()
    expect(await upgradeStatus(relay, 'notes')).toBe(401)
    expect(await upgradeStatus(relay, 'notes', { token: '' })).toBe(401)
    expect(await upgradeStatus(relay, 'notes', { token: 'garbage' })).toBe(401)
    const forged = await (createTokenAuthority({ secret: testSecret('attacker') }) as TokenAuthority).mint({ doc: 'notes', permission: 'write', name: null }, 60)
    expect(await upgradeStatus(relay, 'notes', { token: forged })).toBe(401)
    expect(await upgradeStatus(relay, 'notes', { token: await signToken(secret, { doc: 'notes', perm: 'write', expiresInSeconds: -5 }) })).toBe(401)
    expect(await upgradeStatus(relay, 'notes', { token: await token('other') })).toBe(403)
    expect(await upgradeStatus(relay, 'notes', { token: await token('notes') })).toBe(101)
    expect(await upgradeStatus(relay, 'notes', {}, { headers: { authorization: `Bearer ${await token('notes')}` } })).toBe(101)
    expect(relay.registry.size).toBeLessThanOrEqual(1)
  })

  it('opens every document under a prefix token (team/*) and nothing else', async () => {
    const relay = await relayWithAuth()
    const team = await token('team/*')
    expect(await upgradeStatus(relay, 'team/a', { token: team })).toBe(101)
    expect(await upgradeStatus(relay, 'team/deep/b', { token: team })).toBe(101)
    expect(await upgradeStatus(relay, 'other', { token: team })).toBe(403)
    expect(await upgradeStatus(relay, 'team', { token: team })).toBe(403)
    expect(await upgradeStatus(relay, 'teams/a', { token: team })).toBe(403)
    const writer = await client(relay, 'team/a', team)
    writer.text.insert(0, 'prefix works')
    await waitFor(() => relay.registry.get('team/a')?.text === 'prefix works', 2_000, 'the edit on the server')
  })

  it('closes a connection with 4401 when its token expires, and the stock client does not retry', async () => {
    const relay = await relayWithAuth()
    const short = await token('notes', 'write', 2)
    const c = connectClient(relay, 'notes', { token: short })
    const closedWith = new Promise<number>((resolve) => c.provider.on('closed', (event: { code: number }) => resolve(event.code)))
    await synced(c)
    const openedAt = Date.now()
    expect(await closedWith).toBe(4401)
    expect(Date.now()).toBeGreaterThanOrEqual(expiry(short) * 1000 - 50)
    expect(Date.now() - openedAt).toBeLessThan(3_500)
    expect(c.provider.shouldConnect).toBe(false)
  })
})

describe('read-only connections', () => {
  it('receive edits; their writes get "permission denied" and are never applied, relayed or stored', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'coedit-auth-'))
    onTeardown(() => rm(dataDir, { recursive: true, force: true }))
    const store = openSqliteStore({ dataDir })
    let relay = await relayWithAuth({ store })
    const writer = await client(relay, 'notes', await token('notes', 'write'))
    const observer = await client(relay, 'notes', await token('notes', 'write'))
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    onTeardown(() => warn.mockRestore())
    const reader = await client(relay, 'notes', await token('notes', 'read'))

    writer.text.insert(0, 'from the writer')
    await waitFor(() => reader.text.toString() === 'from the writer', 2_000, 'the edit at the reader')
    const before = Y.encodeStateVector(relay.registry.get('notes')!.doc)

    reader.text.insert(0, 'from the reader ')
    await waitFor(() => warn.mock.calls.some((args) => String(args[0]).includes('Permission denied')), 2_000, 'permission denied at the reader')
    // Answered by the server once the edit was refused; a later edit of the writer still reaches everyone.
    writer.text.insert(writer.text.length, '!')
    await waitFor(() => observer.text.toString() === 'from the writer!', 2_000, 'the writer at the observer')
    await waitFor(() => reader.text.toString().endsWith('from the writer!'), 2_000, 'the writer at the reader')
    const room = relay.registry.get('notes')!
    expect(room.text).toBe('from the writer!')
    expect(Y.decodeStateVector(Y.encodeStateVector(room.doc)).has(reader.doc.clientID)).toBe(false)
    expect(Y.decodeStateVector(before).has(reader.doc.clientID)).toBe(false)
    expect(observer.doc.store.clients.has(reader.doc.clientID)).toBe(false)

    // A raw read-only socket gets the auth message itself: type 2, permission denied (0).
    const raw = await openWebSocket(relay, 'notes', { token: await token('notes', 'read') })
    const frames: Buffer[] = []
    raw.on('message', (data: Buffer) => frames.push(data))
    const evil = new Y.Doc()
    evil.getText('text').insert(0, 'raw write')
    expect(await sendThenProbe(raw, encodeUpdate(Y.encodeStateAsUpdate(evil)))).toBe('answered')
    expect(frames.some((f) => f[0] === messageAuth && f[1] === 0)).toBe(true)

    // After a restart on the same database, only the writer's text is there.
    for (const c of [writer, observer, reader]) c.provider.destroy()
    await relay.close()
    await store.close()
    const reopened = openSqliteStore({ dataDir })
    onTeardown(() => reopened.close())
    relay = await relayWithAuth({ store: reopened })
    const fresh = await client(relay, 'notes', await token('notes', 'read'))
    expect(fresh.text.toString()).toBe('from the writer!')
    expect(fresh.doc.store.clients.has(reader.doc.clientID)).toBe(false)
    expect(fresh.doc.store.clients.has(evil.clientID)).toBe(false)
  })

  it('never tell a reader that only synced that its writes were denied, even when the document holds deletions', async () => {
    const relay = await relayWithAuth()
    const writer = await client(relay, 'notes', await token('notes', 'write'))
    writer.text.insert(0, 'some text that will be partly deleted')
    writer.text.delete(0, 10)
    await waitFor(() => relay.registry.get('notes')?.text === writer.text.toString(), 2_000, 'the edits on the server')
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    onTeardown(() => warn.mockRestore())
    const reader = await client(relay, 'notes', await token('notes', 'read'))
    await waitFor(() => reader.text.toString() === writer.text.toString(), 2_000, 'the text at the reader')
    reader.provider.disconnect()
    reader.provider.connect()
    await synced(reader)
    writer.text.insert(0, 'more ')
    await waitFor(() => reader.text.toString() === writer.text.toString(), 2_000, 'the next edit at the reader')
    expect(warn.mock.calls.filter((args) => String(args[0]).includes('Permission denied'))).toEqual([])
  })

  it('still relay their awareness', async () => {
    const relay = await relayWithAuth()
    const writer = await client(relay, 'notes', await token('notes', 'write'))
    const reader = await client(relay, 'notes', await token('notes', 'read'))
    reader.provider.awareness.setLocalStateField('cursor', { at: 3 })
    await waitFor(() => writer.provider.awareness.getStates().get(reader.doc.clientID)?.cursor?.at === 3, 2_000, 'the reader\'s cursor at the writer')
  })
})

describe('display names from tokens', () => {
  it('replace the user.name a client claims, for everyone and for late joiners', async () => {
    const relay = await relayWithAuth()
    const named = await client(relay, 'notes', await token('notes', 'write', 3600, 'Ada (verified)'))
    const other = await client(relay, 'notes', await token('notes', 'write'))
    named.provider.awareness.setLocalStateField('user', { name: 'Mallory', color: '#f00' })
    const nameAt = (c: TestClient): unknown => c.provider.awareness.getStates().get(named.doc.clientID)?.user
    await waitFor(() => (nameAt(other) as { name?: string } | undefined)?.name === 'Ada (verified)', 2_000, 'the token name at the other client')
    expect(nameAt(other)).toEqual({ name: 'Ada (verified)', color: '#f00' })
    const late = await client(relay, 'notes', await token('notes', 'read'))
    await waitFor(() => (nameAt(late) as { name?: string } | undefined)?.name === 'Ada (verified)', 2_000, 'the token name at a late joiner')
    // A client without a token name keeps its own.
    other.provider.awareness.setLocalStateField('user', { name: 'Grace' })
    await waitFor(() => named.provider.awareness.getStates().get(other.doc.clientID)?.user?.name === 'Grace', 2_000, 'Grace at the named client')
  })
})

describe('allowed origins', () => {
  it('answers 403 to browsers from other origins', async () => {
    const relay = await relayWithAuth({ allowedOrigins: ['https://notes.example'] })
    const valid = await token('notes')
    expect(await upgradeStatus(relay, 'notes', { token: valid }, { origin: 'https://evil.example' })).toBe(403)
    expect(await upgradeStatus(relay, 'notes', { token: valid }, { origin: 'https://notes.example.evil.example' })).toBe(403)
    expect(await upgradeStatus(relay, 'notes', { token: valid }, { origin: 'null' })).toBe(403)
    expect(await upgradeStatus(relay, 'notes', { token: valid }, { origin: 'https://notes.example' })).toBe(101)
    // Clients that are not browsers send no Origin; the token decides for them.
    expect(await upgradeStatus(relay, 'notes', { token: valid })).toBe(101)
    const open = await startTestRelay({ allowedOrigins: ['https://notes.example'] })
    expect(await upgradeStatus(open, 'notes', {}, { origin: 'https://evil.example' })).toBe(403)
  })
})

describe('token endpoints', () => {
  it('reports whether auth is on', async () => {
    const relay = await relayWithAuth()
    expect(await (await fetch(`${relay.url}/api/info`)).json()).toEqual({ auth: true, canMint: true, anonymous: 'none' })
    const open = await startTestRelay()
    expect(await (await fetch(`${open.url}/api/info`)).json()).toEqual({ auth: false, canMint: true, anonymous: 'write' })
    // An open server makes links with its own key, and knows no other.
    expect((await post(open, '/api/token', await token('notes'))).status).toBe(401)
  })

  it('exchanges a link token for a session token that never outlives the link', async () => {
    const relay = await relayWithAuth({ sessionTokenTtlSeconds: 900 })
    const longLink = await token('notes', 'read', 7 * 86_400, 'Ada')
    const long = await post(relay, '/api/token', longLink)
    expect(long.status).toBe(200)
    const session = decodeJwt(long.json.token)
    expect(session).toMatchObject({ doc: 'notes', perm: 'read', name: 'Ada' })
    expect(session.exp).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000) + 900)
    expect(Date.parse(long.json.expiresAt)).toBeLessThanOrEqual(Date.now() + 900_000)
    expect(await upgradeStatus(relay, 'notes', { token: long.json.token })).toBe(101)

    const shortLink = await token('notes', 'write', 60)
    const short = await post(relay, '/api/token', shortLink)
    expect(short.status).toBe(200)
    expect(expiry(short.json.token)).toBeLessThanOrEqual(expiry(shortLink))
    // A session token exchanged again does not live longer either.
    const again = await post(relay, '/api/token', short.json.token)
    expect(expiry(again.json.token)).toBeLessThanOrEqual(expiry(shortLink))

    expect((await post(relay, '/api/token', null)).status).toBe(401)
    expect((await post(relay, '/api/token', 'garbage')).status).toBe(401)
    expect((await post(relay, '/api/token', await signToken(secret, { doc: 'notes', perm: 'read', expiresInSeconds: -1 }))).status).toBe(401)
    expect((await fetch(`${relay.url}/api/token`)).status).toBe(405)
  })

  it('mints edit links only for writers, and links only for documents their token opens', async () => {
    const relay = await relayWithAuth({ shareTokenTtlSeconds: 3600 })
    const editor = await token('team/*', 'write')
    const shared = await post(relay, '/api/share', editor, { doc: 'team/plan' })
    expect(shared.status).toBe(200)
    expect(decodeJwt(shared.json.edit)).toMatchObject({ doc: 'team/plan', perm: 'write' })
    expect(decodeJwt(shared.json.view)).toMatchObject({ doc: 'team/plan', perm: 'read' })
    expect(await upgradeStatus(relay, 'team/plan', { token: shared.json.view })).toBe(101)
    expect(await upgradeStatus(relay, 'team/other', { token: shared.json.edit })).toBe(403)

    // The view link is read-only in practice.
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    onTeardown(() => warn.mockRestore())
    const viewer = await client(relay, 'team/plan', shared.json.view)
    viewer.text.insert(0, 'nope')
    await waitFor(() => warn.mock.calls.length > 0, 2_000, 'permission denied at the viewer')
    expect(relay.registry.get('team/plan')!.text).toBe('')

    // A reader can pass on a view link, never an edit link.
    const fromReader = await post(relay, '/api/share', await token('team/*', 'read'), { doc: 'team/plan' })
    expect(fromReader.status).toBe(200)
    expect(fromReader.json.edit).toBeUndefined()
    expect(decodeJwt(fromReader.json.view)).toMatchObject({ doc: 'team/plan', perm: 'read' })
    expect((await post(relay, '/api/share', editor, { doc: 'elsewhere' })).status).toBe(403)
    expect((await post(relay, '/api/share', editor, { doc: 'team/*' })).status).toBe(403)
    expect((await post(relay, '/api/share', editor, {})).status).toBe(403)
    expect((await post(relay, '/api/share', editor, '{not json')).status).toBe(400)
    expect((await post(relay, '/api/share', editor, `{"doc":"${'x'.repeat(10_000)}"}`)).status).toBe(400)
    expect((await post(relay, '/api/share', null, { doc: 'team/plan' })).status).toBe(401)
  })
})

describe('public-key mode', () => {
  it('verifies tokens signed elsewhere, and makes links with its own key', async () => {
    const { privateKey, publicKeyPem } = ecKeyPair()
    const relay = await startTestRelay({ authPublicKeyPem: publicKeyPem })
    const signed = await signToken(privateKey, { doc: 'notes', perm: 'write', name: 'Backend user' })
    const c = await client(relay, 'notes', signed)
    c.text.insert(0, 'signed elsewhere')
    await waitFor(() => relay.registry.get('notes')?.text === 'signed elsewhere', 2_000, 'the edit on the server')
    expect(await upgradeStatus(relay, 'notes', { token: await signToken(ecKeyPair().privateKey, { doc: 'notes', perm: 'write' }) })).toBe(401)
    expect(await upgradeStatus(relay, 'notes', { token: await signToken(publicKeyPem, { doc: 'notes', perm: 'write' }) })).toBe(401)
    expect(await upgradeStatus(relay, 'notes', { token: await signToken(privateKey, { doc: 'other', perm: 'write' }) })).toBe(403)
    expect(await (await fetch(`${relay.url}/api/info`)).json()).toEqual({ auth: true, canMint: true, anonymous: 'none' })
    const session = await post(relay, '/api/token', signed)
    expect(session.status).toBe(200)
    expect(await upgradeStatus(relay, 'notes', { token: session.json.token })).toBe(101)
    const shared = await post(relay, '/api/share', signed, { doc: 'notes' })
    expect(shared.status).toBe(200)
    expect(await upgradeStatus(relay, 'notes', { token: shared.json.view })).toBe(101)
    expect(expiry(shared.json.view)).toBeLessThanOrEqual(expiry(signed))
  })
})

describe('coedit token', () => {
  const root = fileURLToPath(new URL('../..', import.meta.url))
  const cli = join(root, 'dist/server/cli.js')

  function run (args: string[], env: Record<string, string> = {}): Promise<{ code: number, stdout: string, stderr: string }> {
    return new Promise((resolve) => {
      execFile(process.execPath, [cli, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 20_000 }, (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr })
      })
    })
  }

  it('mints tokens the relay accepts with the same secret', async () => {
    const relay = await relayWithAuth()
    const [write, read, link, other] = await Promise.all([
      run(['token', '--doc', 'notes', '--write', '--ttl', '1h', '--name', 'CLI user'], { AUTH_SECRET: secret }),
      run(['token', '--doc', 'team/*', '--read', '--auth-secret', secret]),
      run(['token', '--doc', 'a b', '--read', '--url', 'https://notes.example/'], { AUTH_SECRET: secret }),
      run(['token', '--doc', 'notes', '--write'], { AUTH_SECRET: testSecret('another') })
    ])
    expect(write.code, write.stderr).toBe(0)
    const minted = write.stdout.trim()
    expect(decodeJwt(minted)).toMatchObject({ doc: 'notes', perm: 'write', name: 'CLI user' })
    expect(expiry(minted) - Date.now() / 1000).toBeGreaterThan(3590)
    const writer = await client(relay, 'notes', minted)
    writer.text.insert(0, 'via the CLI')
    await waitFor(() => relay.registry.get('notes')?.text === 'via the CLI', 2_000, 'the edit on the server')

    expect(read.code, read.stderr).toBe(0)
    expect(await upgradeStatus(relay, 'team/x', { token: read.stdout.trim() })).toBe(101)
    expect(await upgradeStatus(relay, 'notes', { token: read.stdout.trim() })).toBe(403)

    expect(link.stdout.trim()).toMatch(/^https:\/\/notes\.example\/d\/a%20b\?token=[\w-]+\.[\w-]+\.[\w-]+$/)

    expect(await upgradeStatus(relay, 'notes', { token: other.stdout.trim() })).toBe(401)
  })

  it('refuses to mint without a key, a document or exactly one permission', async () => {
    const cases: Array<[string[], Record<string, string>]> = [
      // Without AUTH_SECRET the server's own key signs, and memory storage keeps it nowhere the command can read.
      [['token', '--doc', 'notes', '--write'], { STORAGE: 'memory' }],
      [['token', '--doc', 'notes', '--write'], { AUTH_SECRET: 'short' }],
      [['token', '--write'], { AUTH_SECRET: secret }],
      [['token', '--doc', 'notes'], { AUTH_SECRET: secret }],
      [['token', '--doc', 'notes', '--read', '--write'], { AUTH_SECRET: secret }],
      [['token', '--doc', 'notes', '--read', '--ttl', 'forever'], { AUTH_SECRET: secret }]
    ]
    const results = await Promise.all(cases.map(([args, env]) => run(args, env)))
    results.forEach((result, i) => {
      expect(result.code, cases[i][0].join(' ')).toBe(2)
      expect(result.stdout).toBe('')
      expect(result.stderr).toMatch(/^coedit: /)
    })
  })
})
