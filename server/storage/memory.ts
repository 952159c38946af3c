import type { DocStore, StoredDocument } from './store.js'

interface MemoryDocument {
  snapshot: Uint8Array | null
  /** The highest sequence number the snapshot covers. */
  covers: number
  /** The log after the snapshot; entry i has sequence number `covers + 1 + i`. */
  updates: Uint8Array[]
}

/**
 * A store that keeps documents in this process only: every write resolves at
 * once and nothing survives a restart. For tests of other layers and for
 * measuring the relay without storage. Sequence numbers come from one
 * counter per document; a replace covers everything appended before it.
 */
export function createMemoryStore (): DocStore {
  const docs = new Map<string, MemoryDocument>()
  let closed = false
  const refuse = (): Promise<never> => Promise.reject(new Error('store is closed'))
  const readSince = async (name: string, seq: number): Promise<StoredDocument> => {
    const doc = docs.get(name)
    if (!doc) return { snapshot: null, updates: [], seq: Math.max(seq, 0) }
    const last = doc.covers + doc.updates.length
    const withSnapshot = seq === 0 || doc.covers > seq
    const updates = doc.updates.slice(withSnapshot ? 0 : seq - doc.covers)
    return { snapshot: withSnapshot ? doc.snapshot : null, updates, seq: Math.max(seq, last) }
  }
  return {
    load: (name) => readSince(name, 0),
    readSince,
    append (name, update) {
      if (closed) return refuse()
      // Copy: the caller's bytes may be a view into a larger network buffer.
      const copy = update.slice()
      const doc = docs.get(name)
      if (!doc) {
        docs.set(name, { snapshot: null, covers: 0, updates: [copy] })
        return Promise.resolve(1)
      }
      return Promise.resolve(doc.covers + doc.updates.push(copy))
    },
    replace (name, snapshot) {
      if (closed) return refuse()
      const doc = docs.get(name)
      const covers = doc ? doc.covers + doc.updates.length : 0
      docs.set(name, { snapshot: snapshot.slice(), covers, updates: [] })
      return Promise.resolve()
    },
    release () {}, // nothing is remembered per document beyond the documents themselves
    async ping () {
      if (closed) throw new Error('store is closed')
    },
    async list () {
      return [...docs.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
    },
    async close () {
      closed = true
    }
  }
}
