/** The bus of a process that serves its documents alone. */
import { randomUUID } from 'node:crypto'
import type { ClusterBus } from './bus.js'

/**
 * A bus for one process: publishes go nowhere, nothing is ever received,
 * lost, or gone, and it is always healthy.
 */
export function createLocalBus (): ClusterBus {
  return {
    processId: randomUUID(),
    healthy: true,
    subscribe: async () => {},
    unsubscribe: () => {},
    publish: () => {},
    onResync: () => {},
    onProcessGone: () => {},
    close: async () => {}
  }
}
