/**
 * Links in every mode, over real sockets: on an open server a view link's
 * connection stays read-only and a bad token is refused; the sharer picks
 * how long links last (never, too) but never past their own token; the
 * server's own key is one for every process sharing PostgreSQL and
 * survives a restart in the SQLite data folder (mode 0600); `coedit token`
 * signs with it when there is no AUTH_SECRET.
 */
import { describe, expect, it, vi } from 'vitest'
import { execFile } from 'node:child_process'
import { chmod, mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as Y from 'yjs'
import { decodeJwt } from 'jose'
import { connectClient, onTeardown, startTestRelay, synced, waitFor, type TestClient } from '../helpers/relay.js'
import { openWebSocket, recordMessages, sendThenProbe, upgradeStatus } from '../helpers/raw-socket.js'
import { ecKeyPair, signToken, testSecret } from '../helpers/tokens.js'
import { dropPostgresTables, describeWithServices, postgresUrl, uniqueTablePrefix } from '../helpers/services.js'
import { encodeUpdate, messageAuth } from '../../server/protocol/messages.js'
import { openSqliteStore } from '../../server/storage/sqlite.js'
import { openPostgresStore } from '../../server/storage/postgres.js'
import { signingKeyFileName } from '../../server/storage/signing-key.js'
import type { Relay } from '../../server/relay.js'

interface Answer { status: number, json: Record<string, string | null | undefined> }

async function share (relay: Relay, body: unknown, bearer: string | null = null): Promise<Answer> {
  const res = await fetch(`${relay.url}/api/share`, {
    method: 'POST',
    headers: { ...(bearer === null ? {} : { authorization: `Bearer ${bearer}` }), 'content-type': 'application/json' },
    body: JSON.stringify(body)
  })
  return { status: res.status, json: await res.json() as Answer['json'] }
}

/** Seconds since the epoch at which `token` expires; undefined when it never does. */
function expiry (token: string): number | undefined {
  return decodeJwt(token).exp
}

function nowSeconds (): number {
  return Math.floor(Date.now() / 1000)
}

async function client (relay: Relay, room: string, params: Record<string, string> = {}): Promise<TestClient> {
  const c = connectClient(relay, room, params)
  await synced(c)
  return c
}

async function tempDir (): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'coedit-share-'))
  onTeardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

describe('links on an open server', () => {
  it('tells the page that tokens are optional and that a plain address edits', async () => {
    const relay = await startTestRelay()
    expect(await (await fetch(`${relay.url}/api/info`)).json()).toEqual({ auth: false, canMint: true, anonymous: 'write' })
  })

  it('keeps a view link\'s connection read-only: the stock client\'s writes are refused and the text stays as it was', async () => {
    const relay = await startTestRelay()
    const made = await share(relay, { doc: 'notes', expiresIn: 3600 })
    expect(made.status).toBe(200)
    const view = made.json.view as string
    const writer = await client(relay, 'notes')
    writer.text.insert(0, 'written without a token')
    await waitFor(() => relay.registry.get('notes')?.text === 'written without a token', 2_000, 'the edit on the server')

    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    onTeardown(() => warn.mockRestore())
    const reader = await client(relay, 'notes', { token: view })
    await waitFor(() => reader.text.toString() === 'written without a token', 2_000, 'the text at the reader')
    reader.text.insert(0, 'vandalism ')
    await waitFor(() => warn.mock.calls.some((args) => String(args[0]).includes('Permission denied')), 2_000, 'permission denied at the reader')
    // The writer's next edit reaches the server and the writer, the reader's never does.
    writer.text.insert(writer.text.length, '!')
    await waitFor(() => relay.registry.get('notes')?.text === 'written without a token!', 2_000, 'the writer\'s next edit')
    expect(writer.text.toString()).toBe('written without a token!')
    expect(Y.decodeStateVector(Y.encodeStateVector(relay.registry.get('notes')!.doc)).has(reader.doc.clientID)).toBe(false)

    // A raw socket with the view token gets the refusal itself: auth message (2), permission denied (0).
    const raw = await openWebSocket(relay, 'notes', { token: view })
    const frames = recordMessages(raw)
    const evil = new Y.Doc()
    evil.getText('text').insert(0, 'raw write ')
    expect(await sendThenProbe(raw, encodeUpdate(Y.encodeStateAsUpdate(evil)))).toBe('answered')
    expect(frames.some((frame) => frame[0] === messageAuth && frame[1] === 0)).toBe(true)
    expect(relay.registry.get('notes')!.text).toBe('written without a token!')

    // An edit link's connection writes.
    const editor = await client(relay, 'notes', { token: made.json.edit as string })
    editor.text.insert(0, '> ')
    await waitFor(() => relay.registry.get('notes')?.text === '> written without a token!', 2_000, 'the edit link\'s edit')
  })

  it('refuses an invalid or expired token instead of letting it edit, and a token for another document', async () => {
    const relay = await startTestRelay()
    const other = await share(relay, { doc: 'other' })
    const short = await share(relay, { doc: 'notes', expiresIn: 1 })
    expect(await upgradeStatus(relay, 'notes', { token: 'garbage' })).toBe(401)
    expect(await upgradeStatus(relay, 'notes', { token: await signToken(testSecret('elsewhere'), { doc: 'notes', perm: 'write' }) })).toBe(401)
    expect(await upgradeStatus(relay, 'notes', { token: other.json.edit as string })).toBe(403)
    await waitFor(() => Date.now() / 1000 >= (expiry(short.json.view as string) as number), 3_000, 'the short link to expire')
    expect(await upgradeStatus(relay, 'notes', { token: short.json.view as string })).toBe(401)
    // Without a token, or with an empty one, anyone may edit: that is what an open server is.
    expect(await upgradeStatus(relay, 'notes')).toBe(101)
    expect(await upgradeStatus(relay, 'notes', { token: '' })).toBe(101)
    expect(relay.registry.get('notes')?.text ?? '').toBe('')
    const session = await fetch(`${relay.url}/api/token`, { method: 'POST', headers: { authorization: 'Bearer garbage' } })
    expect(session.status).toBe(401)
  })

  it('makes links that last as long as asked, or never expire, and never longer than the token presented', async () => {
    const relay = await startTestRelay({ shareTokenTtlSeconds: 600 })
    const day = await share(relay, { doc: 'notes', expiresIn: 86_400 })
    expect(day.status).toBe(200)
    for (const link of [day.json.edit, day.json.view] as string[]) {
      expect(expiry(link)).toBeGreaterThanOrEqual(nowSeconds() + 86_400 - 5)
      expect(expiry(link)).toBeLessThanOrEqual(nowSeconds() + 86_400)
    }
    expect(Date.parse(day.json.expiresAt as string)).toBeGreaterThan(Date.now() + 86_000_000)

    const never = await share(relay, { doc: 'notes', expiresIn: null })
    expect(never.json.expiresAt).toBeNull()
    expect(expiry(never.json.edit as string)).toBeUndefined()
    expect(expiry(never.json.view as string)).toBeUndefined()
    expect(await upgradeStatus(relay, 'notes', { token: never.json.view as string })).toBe(101)

    const unnamed = await share(relay, { doc: 'notes' })
    expect(expiry(unnamed.json.view as string)).toBeLessThanOrEqual(nowSeconds() + 600)

    // A presented token bounds every link made with it, whatever is asked; a reader gets a view link only.
    const minute = await share(relay, { doc: 'notes', expiresIn: 60 })
    for (const asked of [null, 86_400, 10 * 365 * 86_400]) {
      const fromEditor = await share(relay, { doc: 'notes', expiresIn: asked }, minute.json.edit as string)
      expect(fromEditor.status).toBe(200)
      expect(expiry(fromEditor.json.edit as string)).toBeLessThanOrEqual(expiry(minute.json.edit as string) as number)
      expect(expiry(fromEditor.json.view as string)).toBeLessThanOrEqual(expiry(minute.json.edit as string) as number)
      expect(Date.parse(fromEditor.json.expiresAt as string)).toBeLessThanOrEqual((expiry(minute.json.edit as string) as number) * 1000)
      const fromReader = await share(relay, { doc: 'notes', expiresIn: asked }, minute.json.view as string)
      expect(fromReader.json.edit).toBeUndefined()
      expect(decodeJwt(fromReader.json.view as string).perm).toBe('read')
      expect(expiry(fromReader.json.view as string)).toBeLessThanOrEqual(expiry(minute.json.view as string) as number)
    }
    // A never-expiring token may make never-expiring links.
    expect((await share(relay, { doc: 'notes', expiresIn: null }, never.json.edit as string)).json.expiresAt).toBeNull()
    // A presented token is checked even where none is needed, and must open the document.
    expect((await share(relay, { doc: 'notes', expiresIn: null }, 'garbage')).status).toBe(401)
    expect((await share(relay, { doc: 'elsewhere', expiresIn: null }, never.json.edit as string)).status).toBe(403)

    for (const bad of [0, -5, 1.5, '7d', 10 * 365 * 86_400 + 1, true]) {
      expect((await share(relay, { doc: 'notes', expiresIn: bad })).status, String(bad)).toBe(400)
    }
  })

  it('budgets the link endpoints per client address', async () => {
    const relay = await startTestRelay()
    const statuses: number[] = []
    for (let i = 0; i < 130; i++) statuses.push((await share(relay, { doc: 'notes', expiresIn: 60 })).status)
    expect(statuses.filter((status) => status === 200).length).toBeGreaterThanOrEqual(100)
    expect(statuses).toContain(429)
    // The budget refills.
    const deadline = Date.now() + 5_000
    let status = 429
    while (status === 429 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50))
      status = (await share(relay, { doc: 'notes', expiresIn: 60 })).status
    }
    expect(status).toBe(200)
  })
})

describe('links with access control', () => {
  it('with AUTH_SECRET: chosen expiry, never too, bounded by the presented token', async () => {
    const secret = testSecret('share')
    const relay = await startTestRelay({ authSecret: secret })
    expect((await share(relay, { doc: 'notes', expiresIn: null })).status).toBe(401)
    const neverEditor = await signToken(secret, { doc: 'notes', perm: 'write', expiresInSeconds: null })
    const never = await share(relay, { doc: 'notes', expiresIn: null }, neverEditor)
    expect(never.json.expiresAt).toBeNull()
    expect(await upgradeStatus(relay, 'notes', { token: never.json.view as string })).toBe(101)
    const hourEditor = await signToken(secret, { doc: 'notes', perm: 'write', expiresInSeconds: 3600 })
    const bounded = await share(relay, { doc: 'notes', expiresIn: null }, hourEditor)
    expect(expiry(bounded.json.edit as string)).toBeLessThanOrEqual(expiry(hourEditor) as number)
    // Links an open server made with its own key open nothing here.
    const open = await startTestRelay()
    expect(await upgradeStatus(relay, 'notes', { token: (await share(open, { doc: 'notes' })).json.edit as string })).toBe(401)
  })

  it('with AUTH_PUBLIC_KEY: links made with the server\'s own key work, links from its open days do not', async () => {
    const dataDir = await tempDir()
    const { privateKey, publicKeyPem } = ecKeyPair()
    const openStore = openSqliteStore({ dataDir })
    const open = await startTestRelay({ store: openStore })
    const fromOpenDays = (await share(open, { doc: 'notes', expiresIn: null })).json.edit as string
    await open.close()
    await openStore.close()

    const store = openSqliteStore({ dataDir })
    onTeardown(() => store.close())
    const relay = await startTestRelay({ store, authPublicKeyPem: publicKeyPem })
    expect(await upgradeStatus(relay, 'notes', { token: fromOpenDays })).toBe(401)
    const issued = await signToken(privateKey, { doc: 'notes', perm: 'write' })
    const made = await share(relay, { doc: 'notes', expiresIn: null }, issued)
    expect(made.status).toBe(200)
    expect(expiry(made.json.view as string)).toBeLessThanOrEqual(expiry(issued) as number)
    expect(await upgradeStatus(relay, 'notes', { token: made.json.view as string })).toBe(101)
  })
})

describe('the server\'s own key', () => {
  it('in SQLite: a file readable by its owner only, kept across restarts, made private again if loosened', async () => {
    const dataDir = await tempDir()
    let store = openSqliteStore({ dataDir })
    let relay = await startTestRelay({ store })
    const link = (await share(relay, { doc: 'notes', expiresIn: null })).json.view as string
    await relay.close()
    await store.close()
    const file = join(dataDir, signingKeyFileName)
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    await chmod(file, 0o644)

    store = openSqliteStore({ dataDir })
    onTeardown(() => store.close())
    relay = await startTestRelay({ store })
    expect(await upgradeStatus(relay, 'notes', { token: link })).toBe(101)
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    // Another data folder, another key.
    const otherStore = openSqliteStore({ dataDir: await tempDir() })
    onTeardown(() => otherStore.close())
    const elsewhere = await startTestRelay({ store: otherStore })
    expect(await upgradeStatus(elsewhere, 'notes', { token: link })).toBe(401)
  })

  it('coedit token signs with it when AUTH_SECRET is absent, for an open server and one with AUTH_PUBLIC_KEY', async () => {
    const dataDir = await tempDir()
    const cli = fileURLToPath(new URL('../../dist/server/cli.js', import.meta.url))
    const run = (args: string[], env: Record<string, string> = {}): Promise<{ code: number, stdout: string, stderr: string }> =>
      new Promise((resolve) => {
        execFile(process.execPath, [cli, 'token', '--data-dir', dataDir, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 20_000 }, (err, stdout, stderr) => {
          resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr })
        })
      })
    // First run: no server ever ran on this folder; the command makes the key the server will use.
    const never = await run(['--doc', 'notes', '--read', '--ttl', 'never'])
    expect(never.code, never.stderr).toBe(0)
    const viewToken = never.stdout.trim()
    expect(expiry(viewToken)).toBeUndefined()
    const day = await run(['--doc', 'notes', '--write', '--ttl', '1d'])
    expect(expiry(day.stdout.trim())).toBeGreaterThan(nowSeconds() + 86_000)

    const store = openSqliteStore({ dataDir })
    onTeardown(() => store.close())
    const relay = await startTestRelay({ store })
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    onTeardown(() => warn.mockRestore())
    const reader = await client(relay, 'notes', { token: viewToken })
    reader.text.insert(0, 'nope')
    await waitFor(() => warn.mock.calls.some((args) => String(args[0]).includes('Permission denied')), 2_000, 'permission denied at the reader')
    expect(relay.registry.get('notes')?.text).toBe('')

    const { publicKeyPem } = ecKeyPair()
    const guarded = await run(['--doc', 'notes', '--write', '--ttl', '1h'], { AUTH_PUBLIC_KEY: publicKeyPem })
    expect(guarded.code, guarded.stderr).toBe(0)
    const withKey = await startTestRelay({ store, authPublicKeyPem: publicKeyPem })
    expect(await upgradeStatus(withKey, 'notes', { token: guarded.stdout.trim() })).toBe(101)
    expect(await upgradeStatus(withKey, 'notes', { token: viewToken })).toBe(401)
  })
})

await describeWithServices(['postgres'], 'the server\'s own key in PostgreSQL', () => {
  it('is one key for every process, even when they start together, and outlives them', async () => {
    const tablePrefix = uniqueTablePrefix()
    onTeardown(() => dropPostgresTables(tablePrefix))
    const open = async (): Promise<Awaited<ReturnType<typeof openPostgresStore>>> => {
      const store = await openPostgresStore({ connectionString: postgresUrl(), tablePrefix })
      onTeardown(() => store.close())
      return store
    }
    const [a, b] = await Promise.all([open(), open()])
    const [keyA, keyB] = await Promise.all([a.signingKey!(), b.signingKey!()])
    expect(Buffer.from(keyA).equals(Buffer.from(keyB))).toBe(true)
    expect(keyA.length).toBe(32)

    const [relayA, relayB] = await Promise.all([startTestRelay({ store: a }), startTestRelay({ store: b })])
    const made = await share(relayA, { doc: 'notes', expiresIn: null })
    expect(await upgradeStatus(relayB, 'notes', { token: made.json.view as string })).toBe(101)
    expect(await upgradeStatus(relayB, 'notes', { token: made.json.edit as string })).toBe(101)

    const later = await open()
    expect(Buffer.from(await later.signingKey!()).equals(Buffer.from(keyA))).toBe(true)
    // Another deployment's tables, another key.
    const otherPrefix = uniqueTablePrefix()
    onTeardown(() => dropPostgresTables(otherPrefix))
    const other = await openPostgresStore({ connectionString: postgresUrl(), tablePrefix: otherPrefix })
    onTeardown(() => other.close())
    expect(Buffer.from(await other.signingKey!()).equals(Buffer.from(keyA))).toBe(false)
  })
})
