/**
 * The seam between coedit processes that serve the same documents. Rooms
 * see only this interface; `cli.ts` picks the implementation (`local.ts` for
 * one process alone, `redis.ts` for several).
 *
 * The bus is best effort: the shared store is the source of truth. Every
 * update is committed to the store before it is published, and a process
 * catches up from the store when it sees a gap in a document's sequence
 * numbers or when the bus reports through `onResync` that it may have lost
 * messages.
 */

/** A message between processes about one document. `from` is the sending process's id. */
export type ClusterMessage =
  /** An update committed to the store with the document's sequence number `seq`. */
  | { readonly kind: 'update', readonly from: string, readonly seq: number, readonly update: Uint8Array }
  /** y-protocols awareness update bytes. */
  | { readonly kind: 'awareness', readonly from: string, readonly update: Uint8Array }
  /** "Send me your processes' present states of this document." */
  | { readonly kind: 'awareness-query', readonly from: string }
  /** The document was marked deleted in the store: close its connections (a reconnect is refused by the store). */
  | { readonly kind: 'deleted', readonly from: string }

/** A message as a process publishes it: the bus fills in `from`. */
export type OutgoingClusterMessage = ClusterMessage extends infer M ? M extends ClusterMessage ? Omit<M, 'from'> : never : never

/** Messages between the processes serving the same documents. */
export interface ClusterBus {
  /** This process's id: unique per process start (random), never reused. */
  readonly processId: string
  /** Whether messages flow now (connected and subscribed). */
  readonly healthy: boolean
  /**
   * Subscribes to a document. Resolves once subscribed: every message published to it
   * after that (by any process) reaches `listener`, except when the bus loses messages,
   * which it reports through `onResync`. A process never receives its own messages.
   * One listener per document; subscribing again replaces it. While the bus is down it
   * resolves at once: the subscription is made when the bus is back, and `onResync` follows.
   */
  subscribe (document: string, listener: (message: ClusterMessage) => void): Promise<void>
  /** Stops delivering a document's messages. */
  unsubscribe (document: string): void
  /**
   * Sends to every other process subscribed to the document. Best effort: never throws,
   * may be lost (it is dropped at once while the bus is down). Messages one process
   * publishes to one document arrive in the order published, or not at all.
   */
  publish (document: string, message: OutgoingClusterMessage): void
  /**
   * `listener` runs after the bus may have lost messages (it reconnected, a subscription was
   * re-established, or another process reports that it dropped messages it published): every
   * subscribed document must catch up from the store.
   */
  onResync (listener: () => void): void
  /**
   * `listener` runs once for a process that has not been heard for `processTimeoutMs`
   * (heartbeats every `heartbeatMs`): the people it served are gone. Not while this
   * process itself is cut off from the bus (it cannot tell then); after a reconnect,
   * processes are judged afresh.
   */
  onProcessGone (listener: (processId: string) => void): void
  /** Unsubscribes everything and closes connections. */
  close (): Promise<void>
}
