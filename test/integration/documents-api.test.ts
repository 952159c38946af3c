/**
 * The document HTTP API against real relays over real HTTP: text written
 * through it reaches connected stock clients at once and keeps their cursors,
 * deletion closes and refuses connections until a restore, tokens are
 * enforced per route, listings page, every error has the documented shape,
 * and the OpenAPI document lists every route. Storage-dependent behaviour
 * runs on memory, SQLite and PostgreSQL; the cluster case on PostgreSQL and
 * a private Redis.
 */
import { expect, it } from 'vitest'
import * as Y from 'yjs'
import WebSocket from 'ws'
import { captureLog, connectClient, onTeardown, startTestRelay, synced, waitFor, type TestClient } from '../helpers/relay.js'
import { storeBackends } from '../helpers/stores.js'
import { describeWithServices, dropPostgresTables, postgresUrl, uniqueTablePrefix } from '../helpers/services.js'
import { startPrivateRedis, type PrivateRedis } from '../helpers/redis-server.js'
import { signToken, testSecret } from '../helpers/tokens.js'
import { apiErrorStatus } from '../../server/http/api-errors.js'
import { createMemoryStore } from '../../server/storage/memory.js'
import { openPostgresStore } from '../../server/storage/postgres.js'
import { createRedisBus } from '../../server/cluster/redis.js'
import { CloseCode } from '../../server/protocol/errors.js'
import type { Relay } from '../../server/relay.js'
import type { DocStore } from '../../server/storage/store.js'

/** An answer of the API: status, headers and body (parsed when JSON). */
interface Answer {
  readonly status: number
  readonly headers: Headers
  readonly body: any
  readonly text: string
}

/**
 * Calls the API. Every error answer is checked here to have the documented
 * shape `{ error: { code, message } }` with a code of the table whose status
 * is the one answered, so every test that meets an error checks the shape.
 */
async function api (relay: Relay, method: string, path: string, options: { token?: string, body?: string | Buffer, type?: string | null } = {}): Promise<Answer> {
  const headers: Record<string, string> = {}
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`
  if (options.body !== undefined && options.type !== null) headers['content-type'] = options.type ?? 'text/plain; charset=utf-8'
  const response = await fetch(`${relay.url}${path}`, { method, headers, body: options.body })
  const text = await response.text()
  const json = (response.headers.get('content-type') ?? '').startsWith('application/json')
  const body = json ? JSON.parse(text) : text
  if (response.status >= 400) {
    expect(json, `${method} ${path} → ${response.status} answers JSON`).toBe(true)
    expect(Object.keys(body)).toEqual(['error'])
    expect(Object.keys(body.error).sort()).toEqual(['code', 'message'])
    expect(typeof body.error.message).toBe('string')
    expect(apiErrorStatus[body.error.code as keyof typeof apiErrorStatus], `code ${body.error.code}`).toBe(response.status)
  }
  return { status: response.status, headers: response.headers, body, text }
}

const docPath = (name: string, rest = ''): string => `/api/documents/${encodeURIComponent(name)}${rest}`

/** Resolves with the close code of the client's next closed connection. */
function nextCloseCode (client: TestClient): Promise<number> {
  return new Promise((resolve) => {
    const onClose = (event: { code: number } | null): void => {
      if (!event) return
      client.provider.off('connection-close', onClose)
      resolve(event.code)
    }
    client.provider.on('connection-close', onClose)
  })
}

/** Opens a bare WebSocket to `room` and resolves with the code it is closed with, or -1 once the room greets it (it was let in). */
function closeCodeOfNewConnection (relay: Relay, room: string, token?: string): Promise<number> {
  const query = token === undefined ? '' : `?token=${token}`
  const ws = new WebSocket(`${relay.url.replace(/^http/, 'ws')}/${encodeURIComponent(room)}${query}`)
  onTeardown(() => ws.terminate())
  return new Promise((resolve, reject) => {
    ws.on('close', (code) => resolve(code))
    ws.on('message', () => resolve(-1))
    ws.on('error', reject)
  })
}

for (const backend of storeBackends) {
  await describeWithServices(backend.services, `document API on ${backend.name}`, () => {
    it('shows an API write in a connected client at once, keeping a cursor in unchanged text where it was', async () => {
      const storage = await backend.create()
      const relay = await startTestRelay({ store: await storage.open() })
      const client = connectClient(relay, 'notes')
      await synced(client)
      client.text.insert(0, 'Hello world\nsecond line\nthird line\n')
      await waitFor(() => relay.registry.get('notes')?.text === client.text.toString(), 10_000, 'the edit at the relay')
      expect((await api(relay, 'GET', docPath('notes', '/text'))).text).toBe('Hello world\nsecond line\nthird line\n')

      // Cursors before and after the changed part, as the editor keeps them.
      const before = Y.createRelativePositionFromTypeIndex(client.text, 'Hello'.length)
      const after = Y.createRelativePositionFromTypeIndex(client.text, 'Hello world\nsecond '.length)
      let reconnects = 0
      client.provider.on('status', ({ status }: { status: string }) => { if (status === 'connecting') reconnects++ })

      const put = await api(relay, 'PUT', docPath('notes', '/text'), { body: 'Hello brave world\nsecond line\nthird line\n' })
      expect(put.status).toBe(200)
      expect(put.body).toEqual({ name: 'notes', changed: true })
      await waitFor(() => client.text.toString() === 'Hello brave world\nsecond line\nthird line\n', 10_000, 'the API edit at the client')
      expect(reconnects).toBe(0)
      expect(Y.createAbsolutePositionFromRelativePosition(before, client.doc)?.index).toBe('Hello'.length)
      expect(Y.createAbsolutePositionFromRelativePosition(after, client.doc)?.index).toBe('Hello brave world\nsecond '.length)

      // The same text again changes nothing; the stored document has the edit.
      expect((await api(relay, 'PUT', docPath('notes', '/text'), { body: 'Hello brave world\nsecond line\nthird line\n' })).body.changed).toBe(false)
      if (backend.persistent) {
        const reader = await storage.open()
        const doc = new Y.Doc()
        const stored = await reader.load('notes')
        if (stored.snapshot) Y.applyUpdate(doc, stored.snapshot)
        for (const update of stored.updates) Y.applyUpdate(doc, update)
        expect(doc.getText('text').toString()).toBe('Hello brave world\nsecond line\nthird line\n')
      }
    })

    it('creates a document never written, reads it back after its room left memory, and describes it', async () => {
      const storage = await backend.create()
      const relay = await startTestRelay({ store: await storage.open(), unloadGraceMs: 0, unwrittenUnloadGraceMs: 0 })
      expect((await api(relay, 'GET', docPath('fresh'))).body.error.code).toBe('not-found')
      expect((await api(relay, 'GET', docPath('fresh', '/text'))).body.error.code).toBe('not-found')
      const text = 'naïve café ☕ — 𝄞 emoji 🎉\n'.repeat(3)
      expect((await api(relay, 'PUT', docPath('fresh', '/text'), { body: text })).status).toBe(200)
      await waitFor(() => relay.registry.get('fresh') === undefined, 10_000, 'the room to unload')
      expect((await api(relay, 'GET', docPath('fresh', '/text'))).text).toBe(text)
      // Replacing one emoji by another never leaves half a surrogate pair.
      const edited = text.replace('🎉', '🎈')
      await api(relay, 'PUT', docPath('fresh', '/text'), { body: edited })
      expect((await api(relay, 'GET', docPath('fresh', '/text'))).text).toBe(edited)
      const info = await api(relay, 'GET', docPath('fresh'))
      expect(info.status).toBe(200)
      expect(info.body.name).toBe('fresh')
      expect(info.body.bytes).toBeGreaterThan(Buffer.byteLength(text))
      expect(info.body.deletedAt).toBeNull()
      expect(Date.parse(info.body.changedAt)).toBeGreaterThan(Date.now() - 60_000)
    })

    it('closes live clients with 4404 on DELETE, refuses them and every read until restored, across a restart', async () => {
      const storage = await backend.create()
      const first = await startTestRelay({ store: await storage.open() })
      const client = connectClient(first, 'doomed')
      await synced(client)
      client.text.insert(0, 'keep me')
      await waitFor(() => first.registry.get('doomed')?.text === 'keep me', 10_000, 'the edit at the relay')
      const closed = nextCloseCode(client)
      const deleted = await api(first, 'DELETE', docPath('doomed'))
      expect(deleted.status).toBe(200)
      expect(await closed).toBe(CloseCode.documentDeleted)
      expect(client.provider.shouldConnect).toBe(false) // the stock client stops on 44xx
      expect(Date.parse(deleted.body.restorableUntil) - Date.parse(deleted.body.deletedAt)).toBe(30 * 24 * 3600 * 1000)

      expect(await closeCodeOfNewConnection(first, 'doomed')).toBe(CloseCode.documentDeleted)
      expect((await api(first, 'GET', docPath('doomed'))).body.error.code).toBe('gone')
      expect((await api(first, 'GET', docPath('doomed', '/text'))).body.error.code).toBe('gone')
      expect((await api(first, 'PUT', docPath('doomed', '/text'), { body: 'x' })).body.error.code).toBe('gone')
      expect((await api(first, 'DELETE', docPath('doomed'))).body.error.code).toBe('gone')
      const listed = await api(first, 'GET', '/api/documents')
      expect(listed.body.documents.find((doc: { name: string }) => doc.name === 'doomed').deletedAt).toBe(deleted.body.deletedAt)

      let relay = first
      if (backend.persistent) {
        await first.close()
        relay = await startTestRelay({ store: await storage.open() })
        expect(await closeCodeOfNewConnection(relay, 'doomed')).toBe(CloseCode.documentDeleted)
        expect((await api(relay, 'GET', docPath('doomed'))).body.error.code).toBe('gone')
      }
      const restored = await api(relay, 'POST', docPath('doomed', '/restore'))
      expect(restored.status).toBe(200)
      expect(restored.body.deletedAt).toBeNull()
      expect((await api(relay, 'POST', docPath('doomed', '/restore'))).body.error.code).toBe('conflict')
      const back = connectClient(relay, 'doomed')
      await synced(back)
      expect(back.text.toString()).toBe('keep me')
      expect((await api(relay, 'GET', docPath('doomed', '/text'))).text).toBe('keep me')
    })

    it('purges a deleted document once its retention has passed', async () => {
      const storage = await backend.create()
      const store = await storage.open()
      const relay = await startTestRelay({ store, deletedRetentionSeconds: 0 })
      await api(relay, 'PUT', docPath('brief', '/text'), { body: 'short-lived' })
      const deleted = await api(relay, 'DELETE', docPath('brief'))
      await waitFor(() => Date.now() > Date.parse(deleted.body.deletedAt) + 1, 1000, 'the retention to pass')
      expect((await api(relay, 'GET', docPath('brief'))).body.error.code).toBe('not-found')
      expect(await store.catalog?.describe('brief')).toBeNull()
      expect(await store.list()).not.toContain('brief')
      expect((await api(relay, 'POST', docPath('brief', '/restore'))).body.error.code).toBe('not-found')
      // The name is free again.
      await api(relay, 'PUT', docPath('brief', '/text'), { body: 'anew' })
      expect((await api(relay, 'GET', docPath('brief', '/text'))).text).toBe('anew')
    })

    it('lists documents in pages, in code point order, with sizes and who is connected', async () => {
      const storage = await backend.create()
      const relay = await startTestRelay({ store: await storage.open() })
      const names = ['b', 'a/z', 'Ä', 'a', 'team/x y', 'z']
      for (const name of names) await api(relay, 'PUT', docPath(name, '/text'), { body: `text of ${name}` })
      const client = connectClient(relay, 'a')
      await synced(client)
      const seen: Array<{ name: string, bytes: number, connections: number }> = []
      let after: string | null = null
      let pages = 0
      do {
        const query: string = `?limit=4${after === null ? '' : `&after=${encodeURIComponent(after)}`}`
        const page = await api(relay, 'GET', `/api/documents${query}`)
        expect(page.status).toBe(200)
        expect(page.body.documents.length).toBeLessThanOrEqual(4)
        seen.push(...page.body.documents)
        after = page.body.next
        pages++
      } while (after !== null)
      expect(pages).toBe(2)
      const lexical = [...names].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)))
      expect(seen.map((doc) => doc.name)).toEqual(lexical)
      expect(seen.every((doc) => doc.bytes > 0)).toBe(true)
      expect(seen.find((doc) => doc.name === 'a')?.connections).toBe(1)
      expect(seen.find((doc) => doc.name === 'b')?.connections).toBe(0)
      for (const limit of ['0', '1001', '-1', 'ten', '1e3']) {
        expect((await api(relay, 'GET', `/api/documents?limit=${limit}`)).body.error.code).toBe('bad-request')
      }
      expect((await api(relay, 'GET', '/api/documents?limit=1000')).body.documents).toHaveLength(names.length)
    })
  })
}

it('enforces tokens per route: reads, writes and operator routes, with 401 and 403 codes', async () => {
  const secret = testSecret()
  const relay = await startTestRelay({ authSecret: secret })
  const token = (doc: string, perm: string, expiresInSeconds?: number): Promise<string> => signToken(secret, { doc, perm, expiresInSeconds })
  const operator = await token('*', 'write')
  const writer = await token('team/*', 'write')
  const reader = await token('team/notes', 'read')
  const expired = await token('*', 'write', -10)
  const readAll = await token('*', 'read')
  const notes = docPath('team/notes')

  expect((await api(relay, 'PUT', `${notes}/text`, { token: writer, body: 'hello' })).status).toBe(200)
  const cases: Array<[string, string, string | undefined, number, string?]> = [
    ['GET', '/api/documents', undefined, 401, 'unauthorized'],
    ['GET', '/api/documents', expired, 401, 'unauthorized'],
    ['GET', '/api/documents', 'not.a.token', 401, 'unauthorized'],
    ['GET', '/api/documents', writer, 403, 'forbidden'],
    ['GET', '/api/documents', readAll, 403, 'forbidden'],
    ['GET', '/api/documents', operator, 200],
    ['GET', notes, undefined, 401, 'unauthorized'],
    ['GET', notes, await token('team/other', 'read'), 403, 'forbidden'],
    ['GET', notes, reader, 200],
    ['GET', `${notes}/text`, reader, 200],
    ['GET', `${notes}/text`, writer, 200],
    ['PUT', `${notes}/text`, reader, 403, 'forbidden'],
    ['PUT', `${notes}/text`, undefined, 401, 'unauthorized'],
    ['PUT', `${docPath('elsewhere')}/text`, writer, 403, 'forbidden'],
    ['DELETE', notes, writer, 403, 'forbidden'],
    ['DELETE', notes, reader, 403, 'forbidden'],
    ['POST', `${notes}/restore`, writer, 403, 'forbidden'],
    ['DELETE', notes, operator, 200],
    ['GET', notes, reader, 410, 'gone'],
    ['POST', `${notes}/restore`, operator, 200],
    ['GET', `${notes}/text`, reader, 200]
  ]
  for (const [method, path, bearer, status, code] of cases) {
    const answer = await api(relay, method, path, { token: bearer, body: method === 'PUT' ? 'changed' : undefined })
    expect(answer.status, `${method} ${path} with ${bearer === undefined ? 'no token' : bearer.slice(-6)}`).toBe(status)
    if (code) expect(answer.body.error.code).toBe(code)
    if (status === 401) expect(answer.headers.get('www-authenticate')).toBe('Bearer')
  }
  // The OpenAPI document is public: it tells how to authenticate.
  expect((await api(relay, 'GET', '/api/openapi.json')).status).toBe(200)
})

it('answers malformed requests with the documented codes', async () => {
  const relay = await startTestRelay({ maxMessageBytes: 1024 })
  await api(relay, 'PUT', docPath('doc', '/text'), { body: 'hello' })
  const expectCode = async (answer: Promise<Answer>, code: string): Promise<Answer> => {
    const { body, status } = await answer
    expect(body.error?.code, `status ${status}`).toBe(code)
    return await answer
  }
  await expectCode(api(relay, 'GET', '/api/documents/bad%ZZname'), 'bad-request')
  await expectCode(api(relay, 'GET', `/api/documents/${'x'.repeat(201)}`), 'bad-request')
  await expectCode(api(relay, 'GET', '/api/documents/%3Cscript%3E'), 'bad-request')
  await expectCode(api(relay, 'GET', docPath('doc', '/nothing')), 'not-found')
  await expectCode(api(relay, 'GET', docPath('doc', '/text/more')), 'not-found')
  await expectCode(api(relay, 'GET', '/api/nothing'), 'not-found')
  const wrong = await expectCode(api(relay, 'POST', docPath('doc', '/text'), { body: 'x' }), 'method-not-allowed')
  expect(wrong.headers.get('allow')).toBe('GET, PUT')
  await expectCode(api(relay, 'GET', docPath('doc', '/restore')), 'method-not-allowed')
  await expectCode(api(relay, 'PUT', '/api/documents', { body: 'x' }), 'method-not-allowed')
  await expectCode(api(relay, 'PUT', docPath('doc', '/text'), { body: 'x'.repeat(1025) }), 'too-large')
  await expectCode(api(relay, 'PUT', docPath('doc', '/text'), { body: Buffer.from([0x68, 0xff, 0xfe]) }), 'bad-request')
  await expectCode(api(relay, 'PUT', docPath('doc', '/text'), { body: '{"text":1}', type: 'application/json' }), 'bad-request')
  await expectCode(api(relay, 'POST', docPath('doc', '/restore')), 'conflict')
  await expectCode(api(relay, 'DELETE', docPath('never')), 'not-found')
  // Nothing of the refused writes is stored.
  expect((await api(relay, 'GET', docPath('doc', '/text'))).text).toBe('hello')
  // A document over its size budget is refused as too large.
  const small = await startTestRelay({ maxDocumentBytes: 2048 })
  await expectCode(api(small, 'PUT', docPath('doc', '/text'), { body: 'y'.repeat(4000) }), 'too-large')
  expect((await api(small, 'GET', docPath('doc', '/text'))).text).toBe('')
})

it('answers a PUT only once the edit is stored, and shows it to clients no earlier', async () => {
  const inner = createMemoryStore()
  let releaseAppends!: () => void
  const gate = new Promise<void>((resolve) => { releaseAppends = resolve })
  let holding = false
  const store: DocStore = {
    ...inner,
    append: async (name, update) => { if (holding) await gate; return await inner.append(name, update) }
  }
  const relay = await startTestRelay({ store })
  const client = connectClient(relay, 'held')
  await synced(client)
  holding = true
  let answered = false
  const put = api(relay, 'PUT', docPath('held', '/text'), { body: 'not yet' }).then((answer) => { answered = true; return answer })
  await waitFor(() => relay.registry.get('held')?.text === 'not yet', 10_000, 'the edit applied at the relay')
  // Another round trip through the relay: the edit is applied but not stored, so nothing went out.
  expect((await api(relay, 'GET', '/api/openapi.json')).status).toBe(200)
  expect(answered).toBe(false)
  expect(client.text.toString()).toBe('')
  releaseAppends()
  expect((await put).status).toBe(200)
  await waitFor(() => client.text.toString() === 'not yet', 10_000, 'the edit at the client')
})

it('serves an OpenAPI 3.1 document that lists every route and error code', async () => {
  const relay = await startTestRelay()
  const answer = await api(relay, 'GET', '/api/openapi.json')
  expect(answer.status).toBe(200)
  const spec = JSON.parse(answer.text)
  expect(spec.openapi).toMatch(/^3\.1\./)
  const routes = Object.entries(spec.paths as Record<string, Record<string, unknown>>)
    .flatMap(([path, item]) => Object.keys(item).filter((key) => key !== 'parameters').map((method) => `${method.toUpperCase()} ${path}`))
  expect(routes.sort()).toEqual([
    'DELETE /api/documents/{name}',
    'GET /api/documents',
    'GET /api/documents/{name}',
    'GET /api/documents/{name}/text',
    'GET /api/documents/{name}/versions',
    'GET /api/documents/{name}/versions/{id}/text',
    'GET /api/exists/{name}',
    'POST /api/documents/{name}/restore',
    'POST /api/documents/{name}/versions',
    'POST /api/documents/{name}/versions/{id}/restore',
    'PUT /api/documents/{name}/text'
  ])
  expect(spec.components.schemas.Error.properties.error.properties.code.enum.sort()).toEqual(Object.keys(apiErrorStatus).sort())
  // Every $ref resolves inside the document.
  for (const [, ref] of answer.text.matchAll(/"\$ref":"#\/([^"]+)"/g)) {
    expect(ref.split('/').reduce((node: any, key) => node?.[key], spec), ref).toBeDefined()
  }
  // Every error status a route documents is the status of the codes its description names.
  for (const [, item] of Object.entries(spec.paths as Record<string, Record<string, { responses?: Record<string, { description: string }> }>>)) {
    for (const [, operation] of Object.entries(item)) {
      for (const [status, response] of Object.entries(operation.responses ?? {})) {
        if (Number(status) < 400) continue
        for (const [, code] of response.description.matchAll(/`([a-z-]+)`/g)) {
          expect(apiErrorStatus[code as keyof typeof apiErrorStatus], `${code} under ${status}`).toBe(Number(status))
        }
      }
    }
  }
})

it('logs at start that the API is open without a secret', async () => {
  const { lines, logger } = captureLog()
  await startTestRelay({ logger })
  expect(lines.some((line) => line.includes('api.open'))).toBe(true)
})

await describeWithServices(['postgres', 'redis'], 'document API across processes', () => {
  /** Two relays on shared PostgreSQL tables, each with its own bus on one private Redis. */
  async function twoProcesses (): Promise<{ one: Relay, two: Relay, redis: PrivateRedis }> {
    const redis = await startPrivateRedis()
    const prefix = uniqueTablePrefix()
    onTeardown(() => dropPostgresTables(prefix))
    const start = async (): Promise<Relay> => {
      const { logger } = captureLog()
      const store = await openPostgresStore({ connectionString: postgresUrl(), tablePrefix: prefix })
      const bus = await createRedisBus({ url: redis.url, logger, heartbeatMs: 100, processTimeoutMs: 600 })
      onTeardown(async () => {
        await bus.close()
        await store.close()
      })
      return await startTestRelay({ store, bus, logger })
    }
    return { one: await start(), two: await start(), redis }
  }

  it('a PUT on one process reaches clients of another, and a DELETE closes them there with 4404', async () => {
    const { one, two } = await twoProcesses()
    const client = connectClient(two, 'shared')
    await synced(client)
    client.text.insert(0, 'from two')
    await waitFor(() => two.registry.get('shared')?.text === 'from two', 10_000, 'the edit at its relay')
    expect((await api(one, 'GET', docPath('shared', '/text'))).text).toBe('from two')
    await api(one, 'PUT', docPath('shared', '/text'), { body: 'from one, via the API' })
    await waitFor(() => client.text.toString() === 'from one, via the API', 10_000, 'the API edit at the other process')
    const closed = nextCloseCode(client)
    await api(one, 'DELETE', docPath('shared'))
    expect(await closed).toBe(CloseCode.documentDeleted)
    expect(await closeCodeOfNewConnection(two, 'shared')).toBe(CloseCode.documentDeleted)
    await api(two, 'POST', docPath('shared', '/restore'))
    const back = connectClient(one, 'shared')
    await synced(back)
    expect(back.text.toString()).toBe('from one, via the API')
  })

  it('a process that missed the deletion on the bus closes the document at its catch-up from the store', async () => {
    const { one, two, redis } = await twoProcesses()
    const client = connectClient(two, 'missed')
    await synced(client)
    client.text.insert(0, 'still here')
    await waitFor(() => two.registry.get('missed')?.text === 'still here', 10_000, 'the edit at its relay')
    const closed = nextCloseCode(client)
    await redis.kill()
    expect((await api(one, 'DELETE', docPath('missed'))).status).toBe(200)
    await redis.restart()
    expect(await closed).toBe(CloseCode.documentDeleted)
  })
})
