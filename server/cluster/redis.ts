/**
 * The bus over Redis pub/sub, for several coedit processes serving the same
 * documents. Redis is a best-effort link: messages published while it is
 * down are dropped (the store holds every update), and whatever may have
 * been missed is reported through `onResync` so rooms catch up from the
 * store.
 *
 * Two connections: one subscribed to a channel per document
 * (`<prefix>:doc:<name>`, the name's UTF-8 bytes as given) and to the
 * heartbeat channel (`<prefix>:heartbeat`), one that publishes. Both
 * reconnect forever with a capped backoff; after the subscriber reconnects
 * it subscribes everything again and then fires `onResync`.
 */
import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import type { Logger } from '../log.js'
import type { ClusterBus, ClusterMessage } from './bus.js'
import { decodeClusterMessage, decodeHeartbeat, encodeClusterMessage, encodeHeartbeat } from './messages.js'

/** Options of `createRedisBus`. */
export interface RedisBusOptions {
  /** `redis://` or `rediss://` URL of the Redis all processes share. */
  readonly url: string
  /** How often this process says it is alive, in ms. Default 2500. */
  readonly heartbeatMs?: number
  /**
   * How long another process may stay silent before it counts as gone, in ms.
   * Default 10000: with heartbeats every 2.5 s and a look every second, the
   * people a dead process served leave every list within 11 s of its death.
   */
  readonly processTimeoutMs?: number
  /** How long `createRedisBus` waits for Redis at start before it rejects, in ms. Default 10000. */
  readonly startTimeoutMs?: number
  /** Where connection changes, gone processes and dropped malformed messages are logged. */
  readonly logger: Logger
  /** Start of every channel name, so deployments can share a Redis. Default 'coedit'. */
  readonly channelPrefix?: string
}

/** Longest wait between two reconnection attempts, in ms. */
const maxReconnectDelayMs = 2_000

/** Longest wait between two looks for processes that went silent, in ms. */
const judgeIntervalMs = 1_000

/**
 * Connects to Redis and resolves with a bus once both connections are ready
 * and subscribed to the heartbeat channel. Rejects, naming the host and port
 * (never the password), if that takes longer than `startTimeoutMs`.
 */
export async function createRedisBus (options: RedisBusOptions): Promise<ClusterBus> {
  const { logger } = options
  const heartbeatMs = options.heartbeatMs ?? 2_500
  const processTimeoutMs = options.processTimeoutMs ?? 10_000
  const startTimeoutMs = options.startTimeoutMs ?? 10_000
  const prefix = options.channelPrefix ?? 'coedit'
  const processId = randomUUID()
  const heartbeatChannel = Buffer.from(`${prefix}:heartbeat`)
  const documentChannelStart = Buffer.from(`${prefix}:doc:`)

  const connectionOptions = {
    lazyConnect: true,
    // The store is the source of truth: commands are never queued while down, nor resent.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    // Subscriptions are made again by `subscribeEverything`, so `onResync` follows them.
    autoResubscribe: false,
    retryStrategy: (attempt: number) => Math.min(attempt * 100, maxReconnectDelayMs)
  }
  const subscriber = new Redis(options.url, { ...connectionOptions, connectionName: `coedit-sub-${processId}` })
  const publisher = new Redis(options.url, { ...connectionOptions, connectionName: `coedit-pub-${processId}` })

  /** Subscribed documents by their channel (its bytes as latin1). */
  const documents = new Map<string, { readonly channel: Buffer, readonly listener: (message: ClusterMessage) => void }>()
  const resyncListeners: Array<() => void> = []
  const goneListeners: Array<(processId: string) => void> = []
  /** When each other process was last heard, and how many publishes it said it dropped. */
  const processes = new Map<string, { heardAt: number, droppedPublishes: number }>()
  let subscribed = false
  let everSubscribed = false
  let healthy = false
  let closed = false
  let droppedPublishes = 0
  /** When this process last heard its own heartbeat: proof that the bus carries messages. */
  let selfHeardAt = 0
  let lastError: Error | null = null
  let becameHealthy = (): void => {}

  const channelOf = (document: string): Buffer => Buffer.concat([documentChannelStart, Buffer.from(document, 'utf8')])

  const safely = (event: string, run: () => void): void => {
    try {
      run()
    } catch (err) {
      logger.error(event, { error: err as Error })
    }
  }

  const resync = (): void => {
    for (const listener of resyncListeners) safely('cluster.resync-listener-failed', listener)
  }

  const updateHealth = (): void => {
    const now = subscribed && publisher.status === 'ready' && !closed
    if (now === healthy) return
    healthy = now
    if (healthy) {
      // Silence while this process was cut off proves nothing: judge every process afresh.
      const heardAt = Date.now()
      for (const known of processes.values()) known.heardAt = heardAt
      selfHeardAt = heardAt
      logger.info('cluster.connected', { processId })
      becameHealthy()
    } else if (!closed) {
      logger.warn('cluster.disconnected', { processId, error: lastError ?? undefined })
    }
    lastError = null
  }

  const heard = (from: string): { heardAt: number, droppedPublishes: number } => {
    let known = processes.get(from)
    if (known === undefined) {
      known = { heardAt: Date.now(), droppedPublishes: 0 }
      processes.set(from, known)
    } else {
      known.heardAt = Date.now()
    }
    return known
  }

  const sendHeartbeat = (): void => {
    if (publisher.status !== 'ready') return
    publisher.publish(heartbeatChannel, Buffer.from(encodeHeartbeat({ from: processId, droppedPublishes }))).catch(() => {})
  }

  const judgeProcesses = (): void => {
    if (!healthy) return
    const now = Date.now()
    if (now - selfHeardAt > processTimeoutMs) {
      // Connected but deaf (a half-open connection, a stalled Redis): it cannot judge
      // others; connecting again makes it healthy only once messages flow.
      logger.warn('cluster.silent', { processId, silentMs: now - selfHeardAt })
      // Destroyed, not ended: a half-open socket may never finish a graceful close.
      subscriber.stream.destroy()
      publisher.stream.destroy()
      return
    }
    // Only while this process hears its own heartbeats is the bus known to deliver:
    // then another's silence for the timeout means it is gone.
    if (now - selfHeardAt > 2 * heartbeatMs) return
    for (const [id, known] of processes) {
      if (now - known.heardAt <= processTimeoutMs) continue
      processes.delete(id)
      logger.info('cluster.process-gone', { processId: id })
      for (const listener of goneListeners) safely('cluster.process-gone-listener-failed', () => listener(id))
    }
  }

  const receiveHeartbeat = (bytes: Buffer): void => {
    const heartbeat = decodeHeartbeat(bytes)
    if (heartbeat.from === processId) {
      selfHeardAt = Date.now()
      return
    }
    const known = heard(heartbeat.from)
    const lostSome = heartbeat.droppedPublishes > known.droppedPublishes
    known.droppedPublishes = heartbeat.droppedPublishes
    // It could not publish some messages (maybe while this process listened): catch up.
    if (lostSome) resync()
  }

  const receive = (channel: Buffer, bytes: Buffer): void => {
    if (closed) return
    try {
      if (channel.equals(heartbeatChannel)) {
        receiveHeartbeat(bytes)
        return
      }
      const subscription = documents.get(channel.toString('latin1'))
      if (subscription === undefined) return
      const message = decodeClusterMessage(bytes)
      if (message.from === processId) return
      heard(message.from)
      safely('cluster.listener-failed', () => subscription.listener(message))
    } catch (err) {
      logger.warn('cluster.malformed-message', { channel: channel.toString('utf8'), bytes: bytes.length, error: err as Error })
    }
  }

  /** Subscribes every channel after the subscriber connected; fires `onResync` when it reconnected. */
  const subscribeEverything = async (): Promise<void> => {
    const channels = [heartbeatChannel, ...[...documents.values()].map((d) => d.channel)]
    try {
      await subscriber.subscribe(...channels)
    } catch {
      return // the connection dropped again; its next 'ready' tries again
    }
    if (closed || subscriber.status !== 'ready') return
    subscribed = true
    updateHealth()
    if (everSubscribed) resync()
    everSubscribed = true
  }

  for (const [name, connection] of [['subscriber', subscriber], ['publisher', publisher]] as const) {
    connection.on('error', (err: Error) => {
      lastError = err
      logger.debug('cluster.connection-error', { connection: name, error: err })
    })
    connection.on('close', () => {
      if (connection === subscriber) subscribed = false
      updateHealth()
    })
  }
  subscriber.on('ready', () => { void subscribeEverything() })
  subscriber.on('messageBuffer', receive)
  publisher.on('ready', () => {
    updateHealth()
    sendHeartbeat()
  })

  const timer = setInterval(sendHeartbeat, heartbeatMs)
  timer.unref()
  // Judged more often than heartbeats go out, so a process is found gone soon after the timeout.
  const judgeTimer = setInterval(judgeProcesses, Math.min(judgeIntervalMs, heartbeatMs))
  judgeTimer.unref()

  const bus: ClusterBus = {
    processId,
    get healthy () { return healthy },

    async subscribe (document, listener) {
      if (closed) return
      const channel = channelOf(document)
      documents.set(channel.toString('latin1'), { channel, listener })
      // Not ready: `subscribeEverything` includes it on the next 'ready', then fires `onResync`.
      if (subscriber.status !== 'ready') return
      await subscriber.subscribe(channel).catch(() => {})
    },

    unsubscribe (document) {
      const channel = channelOf(document)
      if (!documents.delete(channel.toString('latin1'))) return
      if (subscriber.status === 'ready') subscriber.unsubscribe(channel).catch(() => {})
    },

    publish (document, message) {
      if (closed) return
      if (publisher.status !== 'ready') {
        droppedPublishes++
        return
      }
      let bytes: Uint8Array
      try {
        bytes = encodeClusterMessage({ ...message, from: processId } as ClusterMessage)
      } catch (err) {
        logger.error('cluster.unpublishable', { document, kind: message.kind, error: err as Error })
        return
      }
      publisher.publish(channelOf(document), Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)).catch(() => {
        // Maybe delivered, maybe not: the others are told to catch up.
        droppedPublishes++
      })
    },

    onResync (listener) { resyncListeners.push(listener) },
    onProcessGone (listener) { goneListeners.push(listener) },

    async close () {
      if (closed) return
      closed = true
      healthy = false
      clearInterval(timer)
      clearInterval(judgeTimer)
      documents.clear()
      await Promise.all([disconnect(subscriber), disconnect(publisher)])
    }
  }

  // A refused first attempt is retried like any other until the deadline.
  const started = await new Promise<boolean>((resolve) => {
    const deadline = setTimeout(() => resolve(false), startTimeoutMs)
    becameHealthy = () => { clearTimeout(deadline); resolve(true) }
    subscriber.connect().catch(() => {})
    publisher.connect().catch(() => {})
  })
  becameHealthy = () => {}
  if (!started) {
    await bus.close()
    const url = new URL(options.url)
    const why = (lastError as Error | null)?.message
    throw new Error(`Redis at ${url.hostname}:${url.port || 6379} could not be reached within ${startTimeoutMs} ms${why !== undefined ? `: ${why}` : ''}`)
  }
  return bus
}

/** Closes `connection` for good; resolves once its socket is closed. */
async function disconnect (connection: Redis): Promise<void> {
  // Between two attempts there is no socket, and no 'end' would follow.
  if (connection.status === 'end' || connection.status === 'reconnecting' || connection.status === 'wait') {
    connection.disconnect()
    return
  }
  const ended = new Promise<void>((resolve) => connection.once('end', () => resolve()))
  connection.disconnect()
  await ended
}
