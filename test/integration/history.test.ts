/**
 * Document history against real relays, stores and stock clients: versions
 * are recorded once editing goes quiet and on request with a name, survive
 * compaction of the live document and restarts, are recorded once when two
 * store instances (two processes) record the same state, stay whole when
 * retention prunes the ones before them, and a restore through the API
 * reaches every connected client as a normal edit. On memory, SQLite and
 * PostgreSQL (restarts on the persistent ones), and two processes sharing
 * PostgreSQL and Redis record one version of what they both hold.
 */
import { expect, it } from 'vitest'
import * as Y from 'yjs'
import { captureLog, connectClient, onTeardown, startTestRelay, synced, waitFor } from '../helpers/relay.js'
import { storeBackends } from '../helpers/stores.js'
import { describeWithServices, dropPostgresTables, postgresUrl, uniqueTablePrefix } from '../helpers/services.js'
import { startPrivateRedis } from '../helpers/redis-server.js'
import { openPostgresStore } from '../../server/storage/postgres.js'
import { createRedisBus } from '../../server/cluster/redis.js'
import type { Relay } from '../../server/relay.js'
import type { VersionCapture } from '../../server/storage/versions.js'

const docPath = (name: string, rest = ''): string => `/api/documents/${encodeURIComponent(name)}${rest}`

async function call (relay: Relay, method: string, path: string, body?: unknown): Promise<{ status: number, body: any, text: string }> {
  const response = await fetch(`${relay.url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body)
  })
  const text = await response.text()
  const json = (response.headers.get('content-type') ?? '').startsWith('application/json')
  return { status: response.status, body: json ? JSON.parse(text) : text, text }
}

async function listVersions (relay: Relay, name: string): Promise<any[]> {
  const answer = await call(relay, 'GET', docPath(name, '/versions'))
  expect(answer.status).toBe(200)
  return answer.body.versions
}

/** Polls the version list until `predicate` holds for it, and returns it. */
async function versionsWhen (relay: Relay, name: string, predicate: (versions: any[]) => boolean, what: string): Promise<any[]> {
  let latest: any[] = []
  const deadline = Date.now() + 10_000
  for (;;) {
    latest = await listVersions(relay, name)
    if (predicate(latest)) return latest
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; versions: ${JSON.stringify(latest)}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** A capture of `doc` as of `seq`, as the recorder makes one. */
function capture (doc: Y.Doc, seq: number, createdAtMs: number, name: string | null = null): VersionCapture {
  return { seq, state: Y.encodeStateAsUpdate(doc), stateVector: Y.encodeStateVector(doc), createdAtMs, name, authors: [] }
}

function textOf (update: Uint8Array | null): string {
  expect(update).not.toBeNull()
  const doc = new Y.Doc()
  Y.applyUpdate(doc, update as Uint8Array)
  return doc.getText('text').toString()
}

for (const backend of storeBackends) {
  await describeWithServices(backend.services, `document history on ${backend.name}`, () => {
    it('records a version once editing goes quiet, with its author, and a named one on request', async () => {
      const storage = await backend.create()
      const relay = await startTestRelay({ store: await storage.open(), versionQuietMs: 50, versionEveryMs: 60_000 })
      const client = connectClient(relay, 'notes')
      client.provider.awareness.setLocalStateField('user', { name: 'Ada' })
      await synced(client)
      client.text.insert(0, 'first draft')
      const [quiet] = await versionsWhen(relay, 'notes', (versions) => versions.length === 1, 'a version after the quiet period')
      expect(quiet).toMatchObject({ id: 1, name: null, authors: ['Ada'] })
      expect((await call(relay, 'GET', docPath('notes', '/versions/1/text'))).text).toBe('first draft')

      client.text.insert(client.text.length, ', edited')
      await waitFor(() => relay.registry.get('notes')?.text === 'first draft, edited', 10_000, 'the edit at the relay')
      const named = await call(relay, 'POST', docPath('notes', '/versions'), { name: 'Submitted' })
      expect(named.status).toBe(201)
      expect(named.body).toMatchObject({ id: 2, name: 'Submitted', authors: ['Ada'] })
      expect((await call(relay, 'GET', docPath('notes', '/versions/2/text'))).text).toBe('first draft, edited')
      // Nothing changed since: the quiet period that follows records nothing more, and a second name renames it.
      expect((await call(relay, 'POST', docPath('notes', '/versions'), { name: 'Final' })).body).toMatchObject({ id: 2, name: 'Final' })
      expect((await listVersions(relay, 'notes')).map((version) => version.name)).toEqual([null, 'Final'])

      expect((await call(relay, 'GET', docPath('notes', '/versions/3/text'))).status).toBe(404)
      expect((await call(relay, 'GET', docPath('nothing', '/versions'))).status).toBe(404)
      expect((await call(relay, 'POST', docPath('notes', '/versions'), { name: '' })).status).toBe(400)
    })

    it('records a version at least every versionEveryMs while editing goes on', async () => {
      const storage = await backend.create()
      const relay = await startTestRelay({ store: await storage.open(), versionQuietMs: 600_000, versionEveryMs: 50 })
      const client = connectClient(relay, 'diary')
      await synced(client)
      client.text.insert(0, 'day one')
      const [version] = await versionsWhen(relay, 'diary', (versions) => versions.length === 1, 'a version after versionEveryMs')
      expect((await call(relay, 'GET', docPath('diary', `/versions/${version.id}/text`))).text).toBe('day one')
    })

    it('restores a version through the API as an edit every connected client receives', async () => {
      const storage = await backend.create()
      const relay = await startTestRelay({ store: await storage.open(), versionQuietMs: 60_000 })
      const alice = connectClient(relay, 'essay')
      const bob = connectClient(relay, 'essay')
      await Promise.all([synced(alice), synced(bob)])
      alice.text.insert(0, 'The quick brown fox')
      await waitFor(() => bob.text.toString() === 'The quick brown fox', 10_000, 'bob sees the text')
      await waitFor(() => relay.registry.get('essay')?.text === 'The quick brown fox', 10_000, 'the relay has the text')
      expect((await call(relay, 'POST', docPath('essay', '/versions'), { name: 'fox' })).status).toBe(201)
      bob.text.delete(4, 6)
      bob.text.insert(bob.text.length, ' jumps')
      await waitFor(() => alice.text.toString() === 'The brown fox jumps', 10_000, 'alice sees bob')

      const restored = await call(relay, 'POST', docPath('essay', '/versions/1/restore'))
      expect(restored.body).toEqual({ name: 'essay', version: 1, changed: true })
      await waitFor(() => alice.text.toString() === 'The quick brown fox' && bob.text.toString() === 'The quick brown fox', 10_000, 'both clients restored')
      // A forward edit: both keep editing on top of it, and the history still holds what came before.
      alice.text.insert(0, '> ')
      await waitFor(() => bob.text.toString() === '> The quick brown fox', 10_000, 'editing goes on after the restore')
      expect((await call(relay, 'GET', docPath('essay', '/versions/1/text'))).text).toBe('The quick brown fox')
    })

    it('records a state once when two store instances record it, and newer first wins over older', async () => {
      const storage = await backend.create()
      const [first, second] = backend.persistent ? [await storage.open(), await storage.open()] : [await storage.open(), await storage.open()]
      const doc = new Y.Doc()
      doc.getText('text').insert(0, 'shared')
      const results = await Promise.all([first.versions!.record('d', capture(doc, 7, 1000)), second.versions!.record('d', capture(doc, 7, 1001))])
      expect(results.map((version) => version?.id)).toEqual([1, 1])
      expect(await second.versions!.list('d')).toHaveLength(1)
      doc.getText('text').insert(6, ' more')
      expect(await first.versions!.record('d', capture(doc, 9, 2000))).toMatchObject({ id: 2, seq: 9 })
      expect(await second.versions!.record('d', capture(doc, 8, 2001))).toBeNull()
      expect((await first.versions!.list('d')).map((version) => version.seq)).toEqual([7, 9])
    })

    it('removes a document\'s versions when the document is purged', async () => {
      const storage = await backend.create()
      const store = await storage.open()
      const doc = new Y.Doc()
      doc.getText('text').insert(0, 'gone soon')
      await store.append('old', Y.encodeStateAsUpdate(doc))
      await store.append('kept', Y.encodeStateAsUpdate(doc))
      await store.versions!.record('old', capture(doc, 1, 1000))
      await store.versions!.record('kept', capture(doc, 1, 1000))
      expect(await store.catalog!.markDeleted('old', 5000)).toBe(true)
      expect(await store.catalog!.purge(6000, 10)).toEqual(['old'])
      expect(await store.versions!.list('old')).toEqual([])
      expect(await store.versions!.list('kept')).toHaveLength(1)
    })

    it('prunes old unnamed versions and keeps every remaining one whole', async () => {
      const storage = await backend.create()
      const store = await storage.open()
      const versions = store.versions!
      const doc = new Y.Doc()
      const text = doc.getText('text')
      const expected: string[] = []
      for (let i = 1; i <= 6; i++) {
        if (i % 2 === 0 && text.length > 0) text.delete(0, 1)
        text.insert(text.length, `v${i};`)
        expected.push(text.toString())
        await versions.record('log', capture(doc, i, i * 1000, i === 2 ? 'kept' : null))
      }
      // Versions 1, 3 and 4 are older than 4500 and unnamed; 2 is named, 5 and 6 are newer.
      expect(await versions.prune(4500)).toBe(3)
      const left = await versions.list('log')
      expect(left.map((version) => version.id)).toEqual([2, 5, 6])
      for (const version of left) expect(textOf(await versions.read('log', version.id))).toBe(expected[version.id - 1])
      expect(await versions.read('log', 1)).toBeNull()
      // The newest is never pruned: it is what the next version adds to.
      expect(await versions.prune(Number.MAX_SAFE_INTEGER)).toBe(1)
      expect((await versions.list('log')).map((version) => version.id)).toEqual([2, 6])
      text.insert(0, 'after;')
      await versions.record('log', capture(doc, 7, 7000))
      expect(textOf(await versions.read('log', 7))).toBe(text.toString())
      expect(textOf(await versions.read('log', 6))).toBe(expected[5])
    })

    if (backend.persistent) {
      it('keeps versions whole across compaction of the live document and a restart', async () => {
        const storage = await backend.create()
        const relay = await startTestRelay({ store: await storage.open(), versionQuietMs: 60_000, compactAfterUpdates: 3 })
        const client = connectClient(relay, 'book')
        await synced(client)
        const texts: string[] = []
        for (let round = 0; round < 3; round++) {
          for (let i = 0; i < 5; i++) client.text.insert(client.text.length, `r${round}e${i} `)
          if (round === 1) client.text.delete(0, 5)
          texts.push(client.text.toString())
          await waitFor(() => relay.registry.get('book')?.text === texts[round], 10_000, 'the edits at the relay')
          expect((await call(relay, 'POST', docPath('book', '/versions'), { name: `round ${round}` })).status).toBe(201)
        }
        await relay.close()
        // The log was compacted while editing: what the versions need is not in it.
        const raw = await storage.rawBytes!('book')
        expect(raw.length).toBeLessThan(15)

        const restarted = await startTestRelay({ store: await storage.open() })
        expect((await listVersions(restarted, 'book')).map((version) => version.name)).toEqual(['round 0', 'round 1', 'round 2'])
        for (let id = 1; id <= 3; id++) expect((await call(restarted, 'GET', docPath('book', `/versions/${id}/text`))).text).toBe(texts[id - 1])
      })

      it('records what changed before a room unloads', async () => {
        const storage = await backend.create()
        const relay = await startTestRelay({ store: await storage.open(), versionQuietMs: 60_000, unloadGraceMs: 0 })
        const client = connectClient(relay, 'brief')
        await synced(client)
        client.text.insert(0, 'written, then left')
        await waitFor(() => relay.registry.get('brief')?.text === 'written, then left', 10_000, 'the edit at the relay')
        client.provider.destroy()
        await waitFor(() => relay.registry.get('brief') === undefined, 10_000, 'the room unloads')
        const [version] = await versionsWhen(relay, 'brief', (versions) => versions.length === 1, 'the version recorded at unload')
        expect((await call(relay, 'GET', docPath('brief', `/versions/${version.id}/text`))).text).toBe('written, then left')
      })
    }
  })
}

await describeWithServices(['postgres', 'redis'], 'document history across processes', () => {
  it('records one version when two processes serving the document both record it', async () => {
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
      return await startTestRelay({ store, bus, logger, versionQuietMs: 60_000 })
    }
    const [one, two] = [await start(), await start()]
    const ada = connectClient(one, 'minutes')
    const bob = connectClient(two, 'minutes')
    ada.provider.awareness.setLocalStateField('user', { name: 'Ada' })
    bob.provider.awareness.setLocalStateField('user', { name: 'Bob' })
    await Promise.all([synced(ada), synced(bob)])
    ada.text.insert(0, 'agenda: ')
    await waitFor(() => bob.text.toString() === 'agenda: ', 10_000, 'bob sees ada')
    bob.text.insert(bob.text.length, 'history')
    const both = (): boolean => [one, two].every((relay) => relay.registry.get('minutes')?.text === 'agenda: history')
    await waitFor(both, 10_000, 'both processes hold both edits')
    // Each process records what it holds, as of the same sequence number: one version,
    // named as the last asked, with the authors each process saw (Ada's edits reached
    // process two, and Bob's process one, from the other process, without a name).
    const first = await call(one, 'POST', docPath('minutes', '/versions'), { name: 'from one' })
    const second = await call(two, 'POST', docPath('minutes', '/versions'), { name: 'from two' })
    expect(first.body).toMatchObject({ id: 1, authors: ['Ada'] })
    expect(second.body).toMatchObject({ id: 1, seq: first.body.seq, name: 'from two', authors: ['Ada', 'Bob'] })
    const listed = await listVersions(one, 'minutes')
    expect(listed).toEqual([second.body])
    expect(await listVersions(two, 'minutes')).toEqual(listed)
    expect((await call(two, 'GET', docPath('minutes', '/versions/1/text'))).text).toBe('agenda: history')
  })
})
