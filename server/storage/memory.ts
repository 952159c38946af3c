import type { DocStore, StoredDocument } from './store.js'

/**
 * A store that keeps documents in this process only: every write resolves at
 * once and nothing survives a restart. For tests of other layers and for
 * measuring the relay without storage.
 */
export function createMemoryStore (): DocStore {
  const docs = new Map<string, { snapshot: Uint8Array | null, updates: Uint8Array[] }>()
  const done = Promise.resolve()
  let closed = false
  const refuse = (): Promise<void> => Promise.reject(new Error('store is closed'))
  return {
    async load (name): Promise<StoredDocument> {
      const doc = docs.get(name)
      return { snapshot: doc?.snapshot ?? null, updates: doc ? [...doc.updates] : [] }
    },
    append (name, update) {
      if (closed) return refuse()
      // Copy: the caller's bytes may be a view into a larger network buffer.
      const copy = update.slice()
      const doc = docs.get(name)
      if (doc) doc.updates.push(copy)
      else docs.set(name, { snapshot: null, updates: [copy] })
      return done
    },
    replace (name, snapshot) {
      if (closed) return refuse()
      docs.set(name, { snapshot: snapshot.slice(), updates: [] })
      return done
    },
    release () {}, // nothing is remembered per document beyond the documents themselves
    async list () {
      return [...docs.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
    },
    async close () {
      closed = true
    }
  }
}
