/**
 * The webhook outbox of the memory store: a list in this process, recorded
 * synchronously with each change (which is how the memory store commits),
 * gone with the process like the documents.
 */
import { randomUUID } from 'node:crypto'
import { versionCreatedData, type OutboxEvent, type WebhookEventType, type WebhookOutbox, type WebhookRecording } from './webhook-outbox.js'
import type { VersionInfo } from './versions.js'

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

interface Entry extends Mutable<OutboxEvent> {
  data: Record<string, unknown>
  sealed: boolean
  leaseUntilMs: number
}

/** What the memory store calls with each change. */
export interface MemoryWebhooks {
  /** Records or widens the document's `document.changed` event for the append numbered `seq`. */
  recordAppend (name: string, seq: number): void
  /** Records `document.deleted` (at `atMs`) or `document.restored`. */
  recordCatalog (name: string, type: 'document.deleted' | 'document.restored', atMs: number): void
  /** Records `version.created` for `version`, just stored. */
  recordVersion (name: string, version: VersionInfo): void
  readonly outbox: WebhookOutbox
}

/** An empty outbox. */
export function memoryWebhooks (recording: WebhookRecording): MemoryWebhooks {
  /** Pending and failed events, in recording order. */
  const events: Entry[] = []
  const sequences = new Map<string, number>()
  const find = (id: string): Entry | undefined => events.find((event) => event.id === id)

  const record = (name: string, type: WebhookEventType, now: number, data: Record<string, unknown>, due: number): void => {
    const sequence = (sequences.get(name) ?? 0) + 1
    sequences.set(name, sequence)
    events.push({
      id: randomUUID(), type, document: name, sequence, createdAtMs: now, data, attempts: 0, firstAttemptAtMs: null,
      dueAtMs: due, lastError: null, state: 'pending', sealed: false, leaseUntilMs: 0
    })
  }
  const view = (entry: Entry): OutboxEvent => {
    const { sealed, leaseUntilMs, ...event } = entry
    return { ...event, data: { ...event.data } }
  }

  return {
    recordAppend (name, seq) {
      const latest = sequences.get(name)
      const open = events.find((event) => event.document === name && event.sequence === latest)
      if (open && open.type === 'document.changed' && !open.sealed && open.state === 'pending') {
        open.data.to = Math.max(open.data.to as number, seq)
        return
      }
      const now = Date.now()
      record(name, 'document.changed', now, { from: seq, to: seq }, now + recording.debounceMs)
    },
    recordCatalog (name, type, atMs) {
      record(name, type, atMs, type === 'document.deleted' ? { deletedAtMs: atMs } : {}, atMs)
    },
    recordVersion (name, version) {
      const now = Date.now()
      record(name, 'version.created', now, { ...versionCreatedData(version) }, now)
    },
    outbox: {
      async claim (nowMs, limit, leaseUntilMs) {
        const heads = new Map<string, Entry>()
        for (const event of events) {
          if (event.state === 'pending' && !heads.has(event.document)) heads.set(event.document, event)
        }
        return [...heads.values()]
          .filter((event) => event.dueAtMs <= nowMs && event.leaseUntilMs < nowMs)
          .sort((a, b) => a.dueAtMs - b.dueAtMs)
          .slice(0, limit)
          .map((event) => {
            event.sealed = true
            event.leaseUntilMs = leaseUntilMs
            return view(event)
          })
      },
      async delivered (id) {
        const index = events.findIndex((event) => event.id === id)
        if (index >= 0) events.splice(index, 1)
      },
      async retry (id, attempts, first, due, error) {
        const event = find(id)
        if (event) Object.assign(event, { attempts, firstAttemptAtMs: first, dueAtMs: due, lastError: error, leaseUntilMs: 0 })
      },
      async fail (id, attempts, first, error) {
        const event = find(id)
        if (event) Object.assign(event, { attempts, firstAttemptAtMs: first, lastError: error, state: 'failed', leaseUntilMs: 0 })
      },
      async list (limit) {
        return events.slice(0, limit).map(view)
      }
    }
  }
}
