/**
 * The Prometheus metrics of one relay, in a registry of its own (several
 * relays may run in one process). The relay's parts report through the
 * narrow interfaces they declare (`ConnectionMetrics`, `RoomMetrics`,
 * `StoreTimings`, `ClusterCounts`); this module implements them all.
 * Nothing is labelled by room, address or token: every label has a small
 * fixed set of values.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import { messageKind, messageKinds, type MessageKind } from '../protocol/message-kind.js'
import { CloseCode } from '../protocol/errors.js'
import type { ConnectionMetrics } from '../transport/connection.js'
import type { RoomMetrics } from '../rooms/room.js'
import type { StoreTimings } from '../storage/timed.js'
import type { ClusterCounts } from '../cluster/counted.js'
import type { ClusterMessage } from '../cluster/bus.js'
import { Tally } from './tally.js'
import type { DeliveryOutcome, WebhookMetrics } from '../webhooks/worker.js'

/** What the gauges read at scrape time. */
export interface RelayGauges {
  /** Open WebSocket connections. */
  readonly connections: () => number
  /** Rooms in memory. */
  readonly rooms: () => number
  /** Whether the cluster bus passes messages; null when the relay runs alone (no cluster metrics then). */
  readonly clusterHealthy: (() => boolean) | null
}

/** Where an access token was refused. */
export type AuthFailurePlace = 'upgrade' | 'api' | 'metrics'

const clusterKinds = ['update', 'awareness', 'awareness-query', 'deleted'] as const satisfies ReadonlyArray<ClusterMessage['kind']>

/** Close codes counted under their own label value; any other a client sends counts as `other`. */
const namedCloseCodes = new Set<number>([
  1000, 1001, 1005, 1006, 1015,
  ...Object.values(CloseCode)
])

/** Seconds: from a tenth of a millisecond to ten seconds. */
const latencyBuckets = [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10]

/** One relay's metrics. */
export class RelayMetrics implements ConnectionMetrics, RoomMetrics, StoreTimings, ClusterCounts, WebhookMetrics {
  /** The registry `/metrics` serves. */
  readonly register = new Registry()
  private readonly messagesIn: Tally<MessageKind>
  private readonly bytesIn: Tally<MessageKind>
  private readonly messagesOut: Tally<MessageKind>
  private readonly bytesOut: Tally<MessageKind>
  private readonly updateApply: Histogram
  private readonly storageAppend: Histogram
  private readonly storageReplace: Histogram
  private readonly compactions: Counter
  private readonly closes: Counter<'code'>
  private readonly refusals: Counter<'reason'>
  private readonly authFailures: Counter<'where'>
  private readonly webhookDeliveries: Counter<'outcome'>
  private readonly clusterPublished: Tally<ClusterMessage['kind']> | null = null
  private readonly clusterReceived: Tally<ClusterMessage['kind']> | null = null

  constructor (gauges: RelayGauges) {
    const registers = [this.register]
    collectDefaultMetrics({ register: this.register })
    new Gauge({ name: 'coedit_connections_open', help: 'Open WebSocket connections.', registers, collect () { this.set(gauges.connections()) } }) // eslint-disable-line no-new
    new Gauge({ name: 'coedit_rooms_loaded', help: 'Documents loaded in memory.', registers, collect () { this.set(gauges.rooms()) } }) // eslint-disable-line no-new
    this.messagesIn = new Tally(this.register, 'coedit_messages_received_total', 'WebSocket messages received from clients, by message type (text frames count as other).', 'type', messageKinds)
    this.bytesIn = new Tally(this.register, 'coedit_message_bytes_received_total', 'Bytes of WebSocket messages received from clients (payload, without framing), by message type.', 'type', messageKinds)
    this.messagesOut = new Tally(this.register, 'coedit_messages_sent_total', 'WebSocket messages sent to clients, by message type (one per recipient).', 'type', messageKinds)
    this.bytesOut = new Tally(this.register, 'coedit_message_bytes_sent_total', 'Bytes of WebSocket messages sent to clients (payload, without framing), by message type.', 'type', messageKinds)
    this.updateApply = new Histogram({ name: 'coedit_update_apply_seconds', help: 'Time to check and apply one client update (update or sync step 2 message) to its document, in seconds (refused ones included).', buckets: latencyBuckets, registers })
    this.storageAppend = new Histogram({ name: 'coedit_storage_append_seconds', help: 'Time from appending an update to the store until it is durable (group commit included), in seconds.', buckets: latencyBuckets, registers })
    this.storageReplace = new Histogram({ name: 'coedit_storage_replace_seconds', help: 'Time to commit a compaction snapshot in place of a document\'s log, in seconds.', buckets: latencyBuckets, registers })
    this.compactions = new Counter({ name: 'coedit_compactions_total', help: 'Compactions started: a document\'s log replaced by one snapshot.', registers })
    this.closes = new Counter({ name: 'coedit_connections_closed_total', help: 'WebSocket connections closed, by close code (the server\'s if it closed first, else the client\'s; 1006 without a close frame; other for codes the server does not know).', labelNames: ['code'], registers })
    this.refusals = new Counter({ name: 'coedit_refusals_total', help: 'Connections refused or closed for breaking a limit or rule, by error code (upgrade-<status> for refused upgrades).', labelNames: ['reason'], registers })
    this.authFailures = new Counter({ name: 'coedit_auth_failures_total', help: 'Requests refused for a missing, invalid, expired or insufficient access token, by where (upgrade, api, metrics).', labelNames: ['where'], registers })
    this.webhookDeliveries = new Counter({ name: 'coedit_webhook_deliveries_total', help: 'Webhook delivery attempts, by outcome: delivered (2xx), retried (failed, tried again later) or failed (given up on).', labelNames: ['outcome'], registers })
    if (gauges.clusterHealthy) {
      const healthy = gauges.clusterHealthy
      this.clusterPublished = new Tally(this.register, 'coedit_cluster_messages_published_total', 'Messages this process published to the other processes, by kind.', 'kind', clusterKinds)
      this.clusterReceived = new Tally(this.register, 'coedit_cluster_messages_received_total', 'Messages received from the other processes, by kind.', 'kind', clusterKinds)
      new Gauge({ name: 'coedit_cluster_healthy', help: 'Whether the cluster bus (Redis) passes messages: 1 yes, 0 no.', registers, collect () { this.set(healthy() ? 1 : 0) } }) // eslint-disable-line no-new
    }
  }

  received (data: Uint8Array, isBinary: boolean): void {
    const kind = isBinary ? messageKind(data) : 'other'
    this.messagesIn.add(kind)
    this.bytesIn.add(kind, data.length)
  }

  sent (message: Uint8Array): void {
    const kind = messageKind(message)
    this.messagesOut.add(kind)
    this.bytesOut.add(kind, message.length)
  }

  refused (reason: string): void {
    this.refusals.inc({ reason })
  }

  closed (code: number): void {
    this.closes.inc({ code: namedCloseCodes.has(code) ? String(code) : 'other' })
  }

  updateApplied (seconds: number): void {
    this.updateApply.observe(seconds)
  }

  compacted (): void {
    this.compactions.inc()
  }

  appended (seconds: number): void {
    this.storageAppend.observe(seconds)
  }

  replaced (seconds: number): void {
    this.storageReplace.observe(seconds)
  }

  published (kind: ClusterMessage['kind']): void {
    this.clusterPublished?.add(kind)
  }

  receivedFromCluster (kind: ClusterMessage['kind']): void {
    this.clusterReceived?.add(kind)
  }

  /**
   * Empties the registry, so that nothing of the stopped relay stays reachable
   * from what prom-client keeps running for the process metrics (a GC
   * observer and an event-loop delay monitor, which it cannot stop).
   */
  clear (): void {
    this.register.clear()
  }

  webhookDelivery (outcome: DeliveryOutcome): void {
    this.webhookDeliveries.inc({ outcome })
  }

  /** Counts a request refused for its access token. */
  authFailed (where: AuthFailurePlace): void {
    this.authFailures.inc({ where })
  }
}
