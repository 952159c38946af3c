/**
 * A `DocStore` that reports how long its writes take: from the call until
 * the write is durable (so the wait for the group commit is included).
 * Everything else passes straight through.
 */
import type { DocStore } from './store.js'

/** Where write times go, in seconds. Failed writes are not timed. */
export interface StoreTimings {
  appended (seconds: number): void
  replaced (seconds: number): void
}

/** `store`, with the time of every successful `append` and `replace` reported to `timings`. */
export function timedStore (store: DocStore, timings: StoreTimings): DocStore {
  return {
    load: (name) => store.load(name),
    async append (name, update) {
      const start = performance.now()
      const seq = await store.append(name, update)
      timings.appended((performance.now() - start) / 1000)
      return seq
    },
    readSince: (name, seq) => store.readSince(name, seq),
    async replace (name, snapshot) {
      const start = performance.now()
      await store.replace(name, snapshot)
      timings.replaced((performance.now() - start) / 1000)
    },
    release: (name) => store.release(name),
    list: () => store.list(),
    ping: () => store.ping(),
    close: () => store.close(),
    catalog: store.catalog,
    webhooks: store.webhooks
  }
}
