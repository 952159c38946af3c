/**
 * The DocumentCatalog contract (server/storage/store.ts) on every store:
 * sizes and change times, pages in code point order, deletion marks that
 * refuse loads and survive a new store instance, restore, and purge.
 */
import { expect, it } from 'vitest'
import * as Y from 'yjs'
import { DeletedDocumentError, type DocStore, type DocumentCatalog } from '../../server/storage/store.js'
import { applyStoredDocument } from '../../server/protocol/document.js'
import { storeBackends } from '../helpers/stores.js'
import { describeWithServices } from '../helpers/services.js'

/** An update that inserts `text` into the shared text of a document of its own. */
function textUpdate (text: string): Uint8Array {
  const doc = new Y.Doc()
  doc.getText('text').insert(0, text)
  return Y.encodeStateAsUpdate(doc)
}

function catalogOf (store: DocStore): DocumentCatalog {
  if (!store.catalog) throw new Error('the store has no catalog')
  return store.catalog
}

for (const backend of storeBackends) {
  await describeWithServices(backend.services, `${backend.name} store catalog`, () => {
    it('tells stored bytes and the last change, and pages in code point order', async () => {
      const storage = await backend.create()
      const store = await storage.open()
      const catalog = catalogOf(store)
      expect(await catalog.describe('nothing')).toBeNull()
      const before = Date.now()
      const updates = [textUpdate('one'), textUpdate('two, longer')]
      for (const update of updates) await store.append('doc', update)
      const info = await catalog.describe('doc')
      expect(info).toMatchObject({ name: 'doc', bytes: updates[0].length + updates[1].length, deletedAtMs: null })
      expect(info?.changedAtMs).toBeGreaterThanOrEqual(before)
      expect(info?.changedAtMs).toBeLessThanOrEqual(Date.now())
      // A compaction keeps the change time and counts the snapshot instead of the log.
      const snapshot = textUpdate('one two, longer')
      await store.replace('doc', snapshot)
      expect(await catalog.describe('doc')).toMatchObject({ bytes: snapshot.length, changedAtMs: info?.changedAtMs })

      const names = ['b', 'Ä', 'a/z', 'a', 'z', '日本']
      for (const name of names) await store.append(name, textUpdate(name))
      const all = [...names, 'doc'].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)))
      const paged: string[] = []
      for (let after: string | null = null; ;) {
        const page = await catalog.page(after, 3)
        if (page.length === 0) break
        paged.push(...page.map((doc) => doc.name))
        after = page[page.length - 1].name
      }
      expect(paged).toEqual(all)
      expect((await catalog.page('a', 2)).map((doc) => doc.name)).toEqual(all.slice(all.indexOf('a') + 1, all.indexOf('a') + 3))
    })

    it('refuses loads of a deleted document until it is restored, keeping what was appended meanwhile', async () => {
      const storage = await backend.create()
      const store = await storage.open()
      const catalog = catalogOf(store)
      await store.append('doc', textUpdate('kept'))
      expect(await catalog.markDeleted('never', 1)).toBe(false)
      expect(await catalog.markDeleted('doc', 1000)).toBe(true)
      expect(await catalog.markDeleted('doc', 2000)).toBe(false)
      expect((await catalog.describe('doc'))?.deletedAtMs).toBe(1000)
      await expect(store.load('doc')).rejects.toBeInstanceOf(DeletedDocumentError)
      await expect(store.readSince('doc', 1)).rejects.toMatchObject({ document: 'doc', deletedAtMs: 1000 })
      // A process that has not heard of the deletion yet may still append.
      expect(await store.append('doc', textUpdate('late'))).toBe(2)
      if (backend.persistent) {
        const other = await storage.open()
        await expect(other.load('doc')).rejects.toBeInstanceOf(DeletedDocumentError)
        expect(await catalogOf(other).restore('doc')).toBe(true)
      } else {
        expect(await catalog.restore('doc')).toBe(true)
      }
      expect(await catalog.restore('doc')).toBe(false)
      const doc = new Y.Doc()
      applyStoredDocument(doc, await store.load('doc'))
      expect(doc.getText('text').toString()).toHaveLength('kept'.length + 'late'.length)
    })

    it('purges only documents deleted before the cut-off, at most the limit, or only the one named', async () => {
      const storage = await backend.create()
      const store = await storage.open()
      const catalog = catalogOf(store)
      for (const name of ['old1', 'old2', 'old3', 'recent', 'live']) await store.append(name, textUpdate(name))
      await store.replace('old1', textUpdate('old1 compacted'))
      await catalog.markDeleted('old1', 100)
      await catalog.markDeleted('old2', 200)
      await catalog.markDeleted('old3', 300)
      await catalog.markDeleted('recent', 5000)
      expect(await catalog.purge(1000, 1, 'old3')).toEqual(['old3'])
      expect(await catalog.purge(1000, 1)).toEqual(['old1'])
      expect(await catalog.purge(1000, 10)).toEqual(['old2'])
      expect(await catalog.purge(1000, 10)).toEqual([])
      expect(await store.list()).toEqual(['live', 'recent'])
      expect(await catalog.describe('old1')).toBeNull()
      // The name is free again: it starts over.
      expect(await store.append('old1', textUpdate('new'))).toBe(1)
      expect((await catalog.describe('old1'))?.deletedAtMs).toBeNull()
    })

    if (backend.name !== 'memory') {
      it('keeps no change time for documents written before the store kept one', async () => {
        const storage = await backend.create()
        await storage.writeLegacyTables?.([{ name: 'legacy', snapshot: textUpdate('snap'), updates: [textUpdate('log')] }])
        const store = await storage.open()
        expect(await catalogOf(store).describe('legacy')).toMatchObject({ name: 'legacy', changedAtMs: null, deletedAtMs: null })
        expect(await catalogOf(store).markDeleted('legacy', 1)).toBe(true)
        await expect(store.load('legacy')).rejects.toBeInstanceOf(DeletedDocumentError)
      })
    }
  })
}
