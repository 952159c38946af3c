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

/** `hexes` with the sequence number the read covers. */
function numbered (stored: StoredDocument): { snapshot: string | null, updates: Array<string | null>, seq: number } {
  return { ...hexes(stored), seq: stored.seq }
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
      expect(await store.load('never-written')).toEqual({ snapshot: null, updates: [], seq: 0 })
      expect(await store.readSince('never-written', 0)).toEqual({ snapshot: null, updates: [], seq: 0 })
      expect(await store.list()).toEqual([])
    })

    it('keeps appended updates in call order, per document', async () => {
      const storage = await backend.create()
      const store = await storage.open()
      const written = new Map<string, string[]>()
      const writes: Array<Promise<number>> = []
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
        const writes: Array<Promise<unknown>> = []
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

    if (backend.name === 'postgres') it('holds an append behind another process\'s uncommitted one, and a replace keeps what it did not see', async () => {
      const storage = await backend.create()
      const store = await storage.open()
      const base = textUpdate('base ')
      expect(await store.append('late', base)).toBe(1)
      const late = textUpdate('late ')
      const commitLate = await storage.appendUncommitted!('late', late) // takes number 2 now, commits later
      expect(numbered(await store.load('late'))).toEqual({ snapshot: null, updates: [hex(base)], seq: 1 }) // reads do not wait
      const fromStore = textUpdate('from store ')
      const appended = store.append('late', fromStore) // waits for the counter row until the late writer commits
      await commitLate()
      expect(await appended).toBe(3)
      const snapshot = Y.mergeUpdates([base, fromStore]) // what `store` saw: not the late update
      await store.replace('late', snapshot)
      const reader = await storage.open()
      expect(numbered(await reader.load('late'))).toEqual({ snapshot: hex(snapshot), updates: [hex(late)], seq: 3 })
      // A reader holding 1 and 2 lacks 3, which only the snapshot holds now.
      expect(hexes(await reader.readSince('late', 2))).toEqual({ snapshot: hex(snapshot), updates: [] })
    })

    it('commits many writes of one turn together, resolving them in call order across documents', async () => {
      const store = await open()
      const order: number[] = []
      const writes: Array<Promise<void>> = []
      const expectedLog = new Map<string, number>()
      const numbers = new Map<string, number[]>()
      for (let i = 0; i < 300; i++) {
        const name = `group-${i % 7}`
        if (i % 50 === 49) {
          writes.push(store.replace(name, textUpdate(`snapshot ${i}`)).then(() => { order.push(i) }))
          expectedLog.set(name, 0)
        } else {
          writes.push(store.append(name, textUpdate(`update ${i}`)).then((seq) => {
            order.push(i)
            numbers.set(name, [...(numbers.get(name) ?? []), seq])
          }))
          expectedLog.set(name, (expectedLog.get(name) ?? 0) + 1)
        }
        if (i === 150) await nextTurn() // a second group while the first may still be committing
      }
      await Promise.all(writes)
      expect(order).toEqual(Array.from({ length: 300 }, (_, i) => i))
      for (const [name, count] of expectedLog) expect((await store.load(name)).updates).toHaveLength(count)
      // Replaces take no numbers: each document's appends are numbered 1, 2, … in call order.
      for (const [name, seqs] of numbers) expect(seqs, name).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1))
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

    it('numbers each document\'s appends 1, 2, … and load reads the last number', async () => {
      const storage = await backend.create()
      const store = await storage.open()
      const numbers: Record<string, number[]> = { a: [], b: [] }
      const writes: Array<Promise<void>> = []
      for (let i = 0; i < 40; i++) {
        const name = i % 3 === 0 ? 'a' : 'b'
        writes.push(store.append(name, textUpdate(`${name}${i} `)).then((seq) => { numbers[name].push(seq) }))
        if (i % 5 === 4) await nextTurn()
      }
      await Promise.all(writes)
      expect(numbers.a).toEqual(Array.from({ length: 14 }, (_, i) => i + 1))
      expect(numbers.b).toEqual(Array.from({ length: 26 }, (_, i) => i + 1))
      const reader = backend.persistent ? await storage.open() : store
      expect((await reader.load('a')).seq).toBe(14)
      expect((await reader.load('b')).seq).toBe(26)
      await store.replace('a', textUpdate('snapshot of a'))
      expect(await store.append('a', textUpdate('after'))).toBe(15) // a replace does not restart the count
      expect((await reader.load('a')).seq).toBe(15)
    })

    it('readSince returns what follows a number, and nothing past the end', async () => {
      const store = await open()
      const updates = Array.from({ length: 5 }, (_, i) => textUpdate(`u${i} `))
      for (const update of updates) await store.append('since', update)
      expect(hexes(await store.readSince('since', 0))).toEqual(hexes(await store.load('since')))
      for (let seq = 0; seq <= 5; seq++) {
        const since = await store.readSince('since', seq)
        expect(since.seq).toBe(5)
        expect(hexes(since)).toEqual({ snapshot: null, updates: updates.slice(seq).map(hex) })
      }
      const written = textUpdate('not awaited')
      const appended = store.append('since', written)
      expect(numbered(await store.readSince('since', 5))).toEqual({ snapshot: null, updates: [hex(written)], seq: 6 }) // waits for earlier writes
      expect(await appended).toBe(6)
    })

    it('readSince after another instance\'s compaction returns the snapshot and the rest, reaching a fresh load\'s state', async () => {
      const storage = await backend.create()
      const writer = await storage.open()
      const compactor = await storage.open()
      const reader = await storage.open()
      const updates = Array.from({ length: 8 }, (_, i) => textUpdate(`u${i} `))
      for (const update of updates.slice(0, 3)) await writer.append('caught-up', update)
      // Readers at every number up to 3, each holding exactly the updates up to it.
      const atSeq = [0, 1, 2, 3].map((seq) => {
        const doc = new Y.Doc()
        for (const update of updates.slice(0, seq)) Y.applyUpdate(doc, update)
        return { seq, doc }
      })
      applyStoredDocument(new Y.Doc(), await compactor.load('caught-up'))
      await compactor.append('caught-up', updates[3])
      await writer.append('caught-up', updates[4]) // the compactor does not see this one
      await compactor.append('caught-up', updates[5])
      await compactor.replace('caught-up', Y.mergeUpdates([...updates.slice(0, 4), updates[5]]))
      await writer.append('caught-up', updates[6])
      await writer.append('caught-up', updates[7])
      const fresh = await (await storage.open()).load('caught-up')
      expect(fresh.seq).toBe(8)
      const expected = new Y.Doc()
      applyStoredDocument(expected, fresh)
      for (const { seq, doc } of atSeq) {
        const since = await reader.readSince('caught-up', seq)
        expect(since.seq, `since ${seq}`).toBe(8)
        expect(since.snapshot, `since ${seq}`).not.toBeNull() // update 4 or 6 is gone from the log
        applyStoredDocument(doc, since)
        expect(doc.getText('text').toString(), `since ${seq}`).toBe(expected.getText('text').toString())
        expect(Y.encodeStateVector(doc), `since ${seq}`).toEqual(Y.encodeStateVector(expected))
      }
      // Past everything the compaction removed, the log alone continues.
      const backendKeptUnseen = backend.persistent // memory has one instance: its replace covers everything
      expect(hexes(await reader.readSince('caught-up', 6))).toEqual({ snapshot: null, updates: [hex(updates[6]), hex(updates[7])] })
      expect(hexes(await reader.readSince('caught-up', 8))).toEqual({ snapshot: null, updates: [] })
      if (backendKeptUnseen) expect(hexes(await reader.readSince('caught-up', 0)).updates).toContain(hex(updates[4]))
    })

    if (backend.name === 'postgres') it('gives two instances appending one document at once disjoint consecutive numbers, which a third reads without gaps', async () => {
      const storage = await backend.create()
      const writers = await Promise.all([storage.open(), storage.open()])
      const reader = await storage.open()
      const numberOf = new Map<string, number>()
      let writing = true
      const appending = Promise.all(writers.map(async (store, k) => {
        const writes: Array<Promise<void>> = []
        for (let i = 0; i < 150; i++) {
          const update = textUpdate(`<${k}:${i}>`)
          writes.push(store.append('raced', update).then((seq) => { numberOf.set(hex(update)!, seq) }))
          if (i % 4 === k) await nextTurn()
        }
        await Promise.all(writes)
      })).finally(() => { writing = false })
      // The reader catches up over and over while the writers run, as a process following the document would.
      const reads: Array<{ since: number, read: StoredDocument }> = []
      let seq = 0
      const catchUp = async (): Promise<void> => {
        const read = await reader.readSince('raced', seq)
        reads.push({ since: seq, read })
        seq = read.seq
      }
      while (writing) await catchUp()
      await appending
      await catchUp()
      expect(seq).toBe(300)
      expect([...numberOf.values()].sort((a, b) => a - b)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1))
      for (const { since, read } of reads) {
        expect(read.snapshot).toBeNull()
        expect(read.updates.map((update) => numberOf.get(hex(update)!)), `since ${since}`)
          .toEqual(Array.from({ length: read.seq - since }, (_, i) => since + i + 1))
      }
      expect(reads.length).toBeGreaterThan(1)
    })

    if (backend.persistent) it('lets a follower catch up by readSince while two instances append and compact one document', async () => {
      const storage = await backend.create()
      const instances = await Promise.all([storage.open(), storage.open()])
      const follower = await storage.open()
      const tokenOf = new Map<number, string>()
      let writing = true
      const writing2 = Promise.all(instances.map(async (store, k) => {
        const view = new Y.Doc() // what this instance has seen: its snapshots hold only that
        applyStoredDocument(view, await store.load('followed'))
        const writes: Array<Promise<unknown>> = []
        for (let i = 0; i < 60; i++) {
          const before = Y.encodeStateVector(view)
          const token = `<${k}:${i}>`
          view.getText('text').insert(0, token)
          writes.push(store.append('followed', Y.encodeStateAsUpdate(view, before)).then((seq) => { tokenOf.set(seq, token) }))
          if (i % 10 === 9) writes.push(store.replace('followed', Y.encodeStateAsUpdate(view)))
          if (i % 3 === k) await nextTurn()
        }
        await Promise.all(writes)
      })).finally(() => { writing = false })
      const doc = new Y.Doc()
      const steps: Array<{ seq: number, text: string }> = []
      let seq = 0
      const catchUp = async (): Promise<void> => {
        const read = await follower.readSince('followed', seq)
        applyStoredDocument(doc, read)
        seq = read.seq
        steps.push({ seq, text: doc.getText('text').toString() })
      }
      while (writing) {
        await catchUp()
        await nextTurn() // a store that answers at once would otherwise starve the writers
      }
      await writing2
      await catchUp()
      // After each step the follower holds every update numbered up to the step's number.
      for (const step of steps) {
        const missing = [...tokenOf].filter(([number, token]) => number <= step.seq && !step.text.includes(token))
        expect(missing, `at ${step.seq}`).toEqual([])
      }
      const fresh = new Y.Doc()
      applyStoredDocument(fresh, await (await storage.open()).load('followed'))
      expect(doc.getText('text').toString()).toBe(fresh.getText('text').toString())
      expect(Y.encodeStateVector(doc)).toEqual(Y.encodeStateVector(fresh))
      expect(tokenOf.size).toBe(120)
    })

    if (backend.persistent) it('upgrades tables of the earlier layout in place, numbering old rows in their order', async () => {
      const storage = await backend.create()
      const a = [textUpdate('a0 '), textUpdate('a1 '), textUpdate('a2 ')]
      const b = [textUpdate('b0 '), textUpdate('b1 ')]
      const snapshotC = textUpdate('c snapshot ')
      const c = [textUpdate('c0 ')]
      const onlySnapshot = textUpdate('only snapshot')
      await storage.writeLegacyTables!([
        { name: 'a', snapshot: null, updates: a },
        { name: 'b', snapshot: null, updates: b },
        { name: 'c', snapshot: snapshotC, updates: c },
        { name: 'd', snapshot: onlySnapshot, updates: [] }
      ])
      const [store, other] = await Promise.all([storage.open(), storage.open()]) // two processes upgrading at once
      expect(numbered(await store.load('a'))).toEqual({ snapshot: null, updates: a.map(hex), seq: 3 })
      expect(hexes(await store.readSince('a', 1))).toEqual({ snapshot: null, updates: a.slice(1).map(hex) })
      expect((await store.load('b')).seq).toBe(2)
      expect(hexes(await store.readSince('b', 1))).toEqual({ snapshot: null, updates: [hex(b[1])] })
      expect(numbered(await store.load('c'))).toEqual({ snapshot: hex(snapshotC), updates: [hex(c[0])], seq: 1 })
      expect(hexes(await store.readSince('c', 1))).toEqual({ snapshot: null, updates: [] })
      expect(numbered(await store.load('d'))).toEqual({ snapshot: hex(onlySnapshot), updates: [], seq: 0 })
      expect(await other.append('a', textUpdate('a3 '))).toBe(4)
      expect(await store.append('d', textUpdate('d0 '))).toBe(1)
      expect(await store.list()).toEqual(['a', 'b', 'c', 'd'])
      // Compaction over migrated rows still removes only what was seen.
      await store.replace('a', Y.mergeUpdates(a))
      expect(hexes(await other.readSince('a', 0)).updates).toHaveLength(1)
      expect(textOf(await (await storage.open()).load('a'))).toContain('a3')
    })

    if (backend.name === 'postgres') it('refuses a table prefix that is not a plain identifier', async () => {
      await expect(openPostgresStore({ connectionString: postgresUrl(), tablePrefix: 'x; DROP TABLE y' })).rejects.toThrow(/invalid table prefix/)
    })
  })
}
