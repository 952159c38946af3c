/**
 * The DocStore contract (server/storage/store.ts), run against every
 * implementation on real storage: memory, SQLite in a temporary folder,
 * PostgreSQL in tables of its own.
 */
import { expect, it } from 'vitest'
import * as Y from 'yjs'
import type { DocStore, StoredDocument } from '../../server/storage/store.js'
import { openPostgresStore } from '../../server/storage/postgres.js'
import { applyStoredDocument } from '../../server/protocol/document.js'
import { storeBackends } from '../helpers/stores.js'
import { describeWithServices, postgresUrl } from '../helpers/services.js'

/** An update that inserts `text` into the shared text of a document of its own. */
function textUpdate (text: string): Uint8Array {
  const doc = new Y.Doc()
  doc.getText('text').insert(0, text)
  return Y.encodeStateAsUpdate(doc)
}

/** The text of a stored document. */
function textOf (stored: StoredDocument): string {
  const doc = new Y.Doc()
  applyStoredDocument(doc, stored)
  return doc.getText('text').toString()
}

/** Bytes as hex, so mismatches print readably and Buffer/Uint8Array compare alike. */
function hex (bytes: Uint8Array | null): string | null {
  return bytes === null ? null : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}

function hexes (stored: StoredDocument): { snapshot: string | null, updates: Array<string | null> } {
  return { snapshot: hex(stored.snapshot), updates: stored.updates.map(hex) }
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/** Names that must reach SQL only as parameters. */
const awkwardNames = [
  '\'; DROP TABLE updates; --',
  '"; DROP TABLE coedit_snapshots; --',
  'it\'s "quoted"',
  'back\\slash',
  '%_ like wildcards',
  '日本語 ✓',
  'emoji 🎉 astral',
  'é'.normalize('NFD'),
  'é'.normalize('NFC'),
  'a/b/c'
]

/** Sorts by code point, the order `list` promises. */
function lexical (names: string[]): string[] {
  return [...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
}

for (const backend of storeBackends) {
  await describeWithServices(backend.services, `${backend.name} store`, () => {
    const open = async (): Promise<DocStore> => await (await backend.create()).open()

    it('reads a document never written as empty', async () => {
      const store = await open()
      expect(await store.load('never-written')).toEqual({ snapshot: null, updates: [] })
      expect(await store.list()).toEqual([])
    })

    it('keeps appended updates in call order, per document', async () => {
      const storage = await backend.create()
      const store = await storage.open()
      const written = new Map<string, string[]>()
      const writes: Array<Promise<void>> = []
      for (let i = 0; i < 60; i++) {
        const name = `doc-${i % 3}`
        const update = textUpdate(`update ${i} `)
        written.set(name, [...(written.get(name) ?? []), hex(update)!])
        writes.push(store.append(name, update))
        if (i % 7 === 0) await nextTurn()
      }
      await Promise.all(writes)
      const readers = backend.persistent ? [store, await storage.open()] : [store]
      for (const reader of readers) {
        for (const [name, updates] of written) {
          expect(hexes(await reader.load(name))).toEqual({ snapshot: null, updates })
        }
      }
    })

    it('stores exactly the bytes of a view into a larger buffer', async () => {
      const storage = await backend.create()
      const store = await storage.open()
      const update = textUpdate('inside a bigger buffer')
      const backing = new Uint8Array(update.length + 20).fill(0xee)
      backing.set(update, 7)
      await store.append('view', backing.subarray(7, 7 + update.length))
      const reader = backend.persistent ? await storage.open() : store
      expect(hexes(await reader.load('view'))).toEqual({ snapshot: null, updates: [hex(update)] })
    })

    it('lets a load see every write called before it, awaited or not', async () => {
      const store = await open()
      const update = textUpdate('not awaited')
      const appended = store.append('read-your-writes', update)
      expect(hexes(await store.load('read-your-writes'))).toEqual({ snapshot: null, updates: [hex(update)] })
      await appended
      const replaced = store.replace('read-your-writes', textUpdate('snapshot'))
      expect(textOf(await store.load('read-your-writes'))).toBe('snapshot')
      await replaced
    })

    it('replace drops what was written before the call and keeps what comes after', async () => {
      const storage = await backend.create()
      const store = await storage.open()
      await store.append('compact', textUpdate('one'))
      const two = store.append('compact', textUpdate('two'))
      const snapshot = textUpdate('one two')
      const replaced = store.replace('compact', snapshot)
      const sameTurn = textUpdate('three')
      const afterInSameTurn = store.append('compact', sameTurn)
      await nextTurn() // the replace may be committing now
      const laterTurn = textUpdate('four')
      const afterInLaterTurn = store.append('compact', laterTurn)
      await Promise.all([two, replaced, afterInSameTurn, afterInLaterTurn])
      const expected = { snapshot: hex(snapshot), updates: [hex(sameTurn), hex(laterTurn)] }
      expect(hexes(await store.load('compact'))).toEqual(expected)
      if (backend.persistent) expect(hexes(await (await storage.open()).load('compact'))).toEqual(expected)
    })

    it('replace after replace leaves one snapshot and no log', async () => {
      const storage = await backend.create()
      const store = await storage.open()
      await store.append('twice', textUpdate('a'))
      const first = store.replace('twice', textUpdate('a'))
      await store.append('twice', textUpdate('b'))
      const final = textUpdate('final')
      await Promise.all([first, store.replace('twice', final)])
      const expected = { snapshot: hex(final), updates: [] }
      expect(hexes(await store.load('twice'))).toEqual(expected)
      if (backend.persistent) expect(hexes(await (await storage.open()).load('twice'))).toEqual(expected)
    })

    if (backend.persistent) it('keeps an update another instance appended, unseen, through a replace', async () => {
      const storage = await backend.create()
      const a = await storage.open()
      const b = await storage.open()
      const base = textUpdate('base ')
      await a.append('shared', base)
      await a.load('shared')
      const fromB = textUpdate('from B ')
      await b.append('shared', fromB) // a never loads this…
      const fromA = textUpdate('from A ')
      await a.append('shared', fromA) // …and appends after it
      const snapshot = Y.mergeUpdates([base, fromA])
      await a.replace('shared', snapshot)
      const stored = await (await storage.open()).load('shared')
      expect(hexes(stored)).toEqual({ snapshot: hex(snapshot), updates: [hex(fromB)] })
      expect(textOf(stored)).toContain('from B')
    })

    if (backend.persistent) it('keeps a snapshot another instance wrote, unseen, through a replace', async () => {
      const storage = await backend.create()
      const a = await storage.open()
      const b = await storage.open()
      await Promise.all([a.load('both'), b.load('both')])
      const fromA = textUpdate('A-text ')
      await a.append('both', fromA)
      await a.replace('both', fromA) // a's update now lives only in a's snapshot
      const fromB = textUpdate('B-text ')
      await b.append('both', fromB)
      await b.replace('both', fromB) // b never saw a's snapshot
      const text = textOf(await (await storage.open()).load('both'))
      expect(text).toContain('A-text')
      expect(text).toContain('B-text')
    })

    if (backend.persistent) it('loses nothing when two instances append and compact one document at once', async () => {
      const storage = await backend.create()
      const instances = await Promise.all([storage.open(), storage.open()])
      await Promise.all(instances.map(async (store, k) => {
        const view = new Y.Doc() // what this instance has seen: its snapshots hold only that
        applyStoredDocument(view, await store.load('contended'))
        const writes: Array<Promise<void>> = []
        for (let i = 0; i < 60; i++) {
          const before = Y.encodeStateVector(view)
          view.getText('text').insert(0, `<${k}:${i}>`)
          writes.push(store.append('contended', Y.encodeStateAsUpdate(view, before)))
          if (i % 10 === 9) writes.push(store.replace('contended', Y.encodeStateAsUpdate(view)))
          if (i % 3 === k) await nextTurn()
        }
        await Promise.all(writes)
      }))
      const text = textOf(await (await storage.open()).load('contended'))
      const missing = [0, 1].flatMap((k) => Array.from({ length: 60 }, (_, i) => `<${k}:${i}>`)).filter((token) => !text.includes(token))
      expect(missing).toEqual([])
    })

    if (backend.name === 'postgres') it('keeps an update committed late under a lower sequence number through a replace', async () => {
      const storage = await backend.create()
      const store = await storage.open()
      const base = textUpdate('base ')
      await store.append('late', base)
      const late = textUpdate('late ')
      const commitLate = await storage.appendUncommitted!('late', late) // takes its seq now, commits later
      const fromStore = textUpdate('from store ')
      await store.append('late', fromStore) // a higher seq, committed first
      await store.load('late')
      await commitLate()
      const snapshot = Y.mergeUpdates([base, fromStore])
      await store.replace('late', snapshot)
      expect(hexes(await (await storage.open()).load('late'))).toEqual({ snapshot: hex(snapshot), updates: [hex(late)] })
    })

    it('commits many writes of one turn together, resolving them in call order across documents', async () => {
      const store = await open()
      const order: number[] = []
      const writes: Array<Promise<void>> = []
      const expectedLog = new Map<string, number>()
      for (let i = 0; i < 300; i++) {
        const name = `group-${i % 7}`
        if (i % 50 === 49) {
          writes.push(store.replace(name, textUpdate(`snapshot ${i}`)).then(() => { order.push(i) }))
          expectedLog.set(name, 0)
        } else {
          writes.push(store.append(name, textUpdate(`update ${i}`)).then(() => { order.push(i) }))
          expectedLog.set(name, (expectedLog.get(name) ?? 0) + 1)
        }
        if (i === 150) await nextTurn() // a second group while the first may still be committing
      }
      await Promise.all(writes)
      expect(order).toEqual(Array.from({ length: 300 }, (_, i) => i))
      for (const [name, count] of expectedLog) expect((await store.load(name)).updates).toHaveLength(count)
    })

    it('resolves writes in call order when one turn holds more than a group', async () => {
      const store = await open()
      const order: number[] = []
      const writes: Array<Promise<void>> = []
      const large = new Uint8Array(9 * 1024 * 1024).fill(7) // larger than a group may be: it goes alone
      const expectedLog = new Map<string, number>()
      for (let i = 0; i < 2_100; i++) {
        const name = i === 1_500 ? 'many-large' : `many-${i % 3}`
        const write = i === 1_000 ? store.replace(name, textUpdate('snapshot')) : store.append(name, i === 1_500 ? large : textUpdate(`update ${i}`))
        expectedLog.set(name, i === 1_000 ? 0 : (expectedLog.get(name) ?? 0) + 1)
        writes.push(write.then(() => { order.push(i) }))
      }
      await Promise.all(writes)
      expect(order).toEqual(Array.from({ length: 2_100 }, (_, i) => i))
      for (const [name, count] of expectedLog) expect((await store.load(name)).updates, name).toHaveLength(count)
      expect((await store.load('many-large')).updates.map(hex)).toEqual([hex(large)])
    })

    it('reads a released document as before', async () => {
      const store = await open()
      const update = textUpdate('kept')
      await store.append('released', update)
      store.release('released')
      store.release('never-loaded')
      expect(hexes(await store.load('released'))).toEqual({ snapshot: null, updates: [hex(update)] })
    })

    if (backend.persistent) it('after release, a replace removes only what a later load or write showed', async () => {
      const storage = await backend.create()
      const store = await storage.open()
      const other = await storage.open()
      const forgotten = textUpdate('forgotten ')
      await store.append('release', forgotten)
      store.release('release')
      const snapshot = textUpdate('snapshot ')
      await store.replace('release', snapshot) // saw nothing since the release: removes nothing
      const reader = await storage.open()
      expect(hexes(await reader.load('release'))).toEqual({ snapshot: hex(snapshot), updates: [hex(forgotten)] })

      store.release('release')
      const relearnt = await store.load('release') // learns the snapshot and the row again
      expect(hexes(relearnt)).toEqual({ snapshot: hex(snapshot), updates: [hex(forgotten)] })
      const written = textUpdate('written ')
      await store.append('release', written)
      const unseen = textUpdate('unseen ')
      await other.append('release', unseen) // never loaded by `store`
      const merged = Y.mergeUpdates([snapshot, forgotten, written])
      await store.replace('release', merged)
      expect(hexes(await reader.load('release'))).toEqual({ snapshot: hex(merged), updates: [hex(unseen)] })
    })

    it('lists stored documents in lexical order', async () => {
      const store = await open()
      const names = ['b', 'B', 'a', 'z-1', 'é', '日本', 'only-snapshot']
      for (const name of names) await store.append(name, textUpdate(name))
      await store.replace('only-snapshot', textUpdate('only-snapshot'))
      await store.load('read-but-never-written')
      expect(await store.list()).toEqual(lexical(names))
    })

    it('close commits pending writes, and refuses writes after', async () => {
      const storage = await backend.create()
      const store = await storage.open()
      const update = textUpdate('pending at close')
      const writes = [store.append('closing', textUpdate('first ')), store.replace('closing', textUpdate('first ')), store.append('closing', update)]
      await store.close()
      await Promise.all(writes)
      await expect(store.append('closing', update)).rejects.toThrow()
      if (backend.persistent) {
        const stored = await (await storage.open()).load('closing')
        expect(hexes(stored).updates).toEqual([hex(update)])
        expect(textOf(stored)).toContain('pending at close')
      }
    })

    it('stores names verbatim, whatever characters they hold', async () => {
      const storage = await backend.create()
      const store = await storage.open()
      const updates = new Map(awkwardNames.map((name) => [name, textUpdate(`content of ${name}`)]))
      await Promise.all([...updates].map(([name, update]) => store.append(name, update)))
      await store.replace(awkwardNames[0], updates.get(awkwardNames[0])!)
      const reader = backend.persistent ? await storage.open() : store
      expect(await reader.list()).toEqual(lexical(awkwardNames))
      for (const [name, update] of updates) {
        const stored = await reader.load(name)
        expect(textOf(stored), name).toBe(`content of ${name}`)
        if (storage.rawBytes) expect((await storage.rawBytes(name)).map(hex), name).toEqual([hex(update)])
      }
    })

    if (backend.name === 'postgres') it('refuses a table prefix that is not a plain identifier', async () => {
      await expect(openPostgresStore({ connectionString: postgresUrl(), tablePrefix: 'x; DROP TABLE y' })).rejects.toThrow(/invalid table prefix/)
    })
  })
}
