/**
 * Reading a document straight from the store, for requests about a document
 * whose room is not loaded in this process.
 */
import * as Y from 'yjs'
import { applyStoredDocument } from '../protocol/document.js'
import type { RoomRegistry } from '../rooms/registry.js'
import type { DocStore, StoredDocument } from '../storage/store.js'
import { ApiError } from './api-errors.js'

/**
 * Loads `name` from `store` into a Y.Doc, hands it (and what was read) to
 * `use`, and frees it. Throws `ApiError` 'not-found' for a document never
 * written. The store forgets what it read, for a later compaction, unless a
 * room of this process holds the document meanwhile.
 */
export async function withStoredDocument<T> (store: DocStore, registry: RoomRegistry, name: string, use: (doc: Y.Doc, stored: StoredDocument) => T | Promise<T>): Promise<T> {
  const stored = await store.load(name)
  try {
    if (stored.seq === 0 && stored.snapshot === null && stored.updates.length === 0) throw new ApiError('not-found', `no document named "${name}"`)
    const doc = new Y.Doc({ gc: true })
    try {
      applyStoredDocument(doc, stored, name)
      return await use(doc, stored)
    } finally {
      doc.destroy()
    }
  } finally {
    if (!registry.get(name)) store.release(name)
  }
}
