import { DeletedDocumentError, type DocStore, type DocumentInfo, type StoredDocument } from './store.js'
import { memoryWebhooks } from './memory-webhooks.js'
import type { WebhookRecording } from './webhook-outbox.js'
import { createMemoryVersions } from './versions.js'
import { newSigningKey } from './signing-key.js'

interface MemoryDocument {
  snapshot: Uint8Array | null
  /** The highest sequence number the snapshot covers. */
  covers: number
  /** The log after the snapshot; entry i has sequence number `covers + 1 + i`. */
  updates: Uint8Array[]
  /** When the last update was appended; null before any was. */
  changedAtMs: number | null
  /** When the document was marked deleted; null while it is not. */
  deletedAtMs: number | null
}

/**
 * A store that keeps documents in this process only: every write resolves at
 * once and nothing survives a restart. For tests of other layers and for
 * measuring the relay without storage. Sequence numbers come from one
 * counter per document; a replace covers everything appended before it.
 * With `options.webhooks`, webhook events are recorded with each change.
 */
export function createMemoryStore (options: { readonly webhooks?: WebhookRecording } = {}): DocStore {
  const docs = new Map<string, MemoryDocument>()
  const webhooks = options.webhooks ? memoryWebhooks(options.webhooks) : null
  const versions = createMemoryVersions(webhooks ? (name, version) => webhooks.recordVersion(name, version) : undefined)
  const signingKey = newSigningKey()
  let closed = false
  const refuse = (): Promise<never> => Promise.reject(new Error('store is closed'))
  const names = (): string[] => [...docs.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
  const info = (name: string, doc: MemoryDocument): DocumentInfo => {
    let bytes = doc.snapshot?.length ?? 0
    for (const update of doc.updates) bytes += update.length
    return { name, bytes, changedAtMs: doc.changedAtMs, deletedAtMs: doc.deletedAtMs }
  }
  const readSince = async (name: string, seq: number): Promise<StoredDocument> => {
    const doc = docs.get(name)
    if (!doc) return { snapshot: null, updates: [], seq: Math.max(seq, 0) }
    if (doc.deletedAtMs !== null) throw new DeletedDocumentError(name, doc.deletedAtMs)
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
        docs.set(name, { snapshot: null, covers: 0, updates: [copy], changedAtMs: Date.now(), deletedAtMs: null })
        webhooks?.recordAppend(name, 1)
        return Promise.resolve(1)
      }
      doc.changedAtMs = Date.now()
      const seq = doc.covers + doc.updates.push(copy)
      webhooks?.recordAppend(name, seq)
      return Promise.resolve(seq)
    },
    replace (name, snapshot) {
      if (closed) return refuse()
      const doc = docs.get(name)
      const covers = doc ? doc.covers + doc.updates.length : 0
      docs.set(name, { snapshot: snapshot.slice(), covers, updates: [], changedAtMs: doc?.changedAtMs ?? null, deletedAtMs: doc?.deletedAtMs ?? null })
      return Promise.resolve()
    },
    release () {}, // nothing is remembered per document beyond the documents themselves
    async ping () {
      if (closed) throw new Error('store is closed')
    },
    async list () {
      return names()
    },
    webhooks: webhooks?.outbox,
    catalog: {
      async describe (name) {
        const doc = docs.get(name)
        return doc ? info(name, doc) : null
      },
      async page (after, limit) {
        const from = after === null ? [] : [Buffer.from(after)]
        return names()
          .filter((name) => from.every((bound) => Buffer.compare(Buffer.from(name), bound) > 0))
          .slice(0, limit)
          .map((name) => info(name, docs.get(name) as MemoryDocument))
      },
      async markDeleted (name, atMs) {
        const doc = docs.get(name)
        if (!doc || doc.deletedAtMs !== null) return false
        doc.deletedAtMs = atMs
        webhooks?.recordCatalog(name, 'document.deleted', atMs)
        return true
      },
      async restore (name) {
        const doc = docs.get(name)
        if (!doc || doc.deletedAtMs === null) return false
        doc.deletedAtMs = null
        webhooks?.recordCatalog(name, 'document.restored', Date.now())
        return true
      },
      async purge (deletedBeforeMs, limit, only) {
        const purged: string[] = []
        for (const name of only === undefined ? names() : [only]) {
          if (purged.length >= limit) break
          const deletedAtMs = docs.get(name)?.deletedAtMs ?? null
          if (deletedAtMs === null || deletedAtMs >= deletedBeforeMs) continue
          docs.delete(name)
          versions.forget(name)
          purged.push(name)
        }
        return purged
      }
    },
    versions,
    signingKey: async () => signingKey,
    async close () {
      closed = true
    }
  }
}
