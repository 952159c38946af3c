/**
 * A `ClusterBus` that counts the messages passing through it, by kind.
 * Everything else passes straight through.
 */
import type { ClusterBus, ClusterMessage } from './bus.js'

/** Where the counts go. */
export interface ClusterCounts {
  /** A message was handed to the bus (it may still be dropped while the bus is down). */
  published (kind: ClusterMessage['kind']): void
  /** A message from another process reached a subscribed document. */
  receivedFromCluster (kind: ClusterMessage['kind']): void
}

/** `bus`, with every message published and received reported to `counts`. */
export function countedBus (bus: ClusterBus, counts: ClusterCounts): ClusterBus {
  return {
    get processId () { return bus.processId },
    get healthy () { return bus.healthy },
    subscribe (document, listener) {
      return bus.subscribe(document, (message) => {
        counts.receivedFromCluster(message.kind)
        listener(message)
      })
    },
    unsubscribe: (document) => bus.unsubscribe(document),
    publish (document, message) {
      counts.published(message.kind)
      bus.publish(document, message)
    },
    onResync: (listener) => bus.onResync(listener),
    onProcessGone: (listener) => bus.onProcessGone(listener),
    close: () => bus.close()
  }
}
