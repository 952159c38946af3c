/**
 * Wires one relay: an HTTP server that serves the editor and health, a
 * WebSocket server on the same port for rooms, a room registry over a
 * document store, and one heartbeat. Everything lives in the returned
 * object, so one process can run several relays.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { Duplex } from 'node:stream'
import type { AddressInfo } from 'node:net'
import { WebSocketServer, type WebSocket } from 'ws'
import { defaultConfig, type Config } from './config.js'
import { createLogger, type Logger } from './log.js'
import type { DocStore } from './storage/store.js'
import { createMemoryStore } from './storage/memory.js'
import { createLocalBus } from './cluster/local.js'
import type { ClusterBus } from './cluster/bus.js'
import { RoomRegistry } from './rooms/registry.js'
import { Connection, type ConnectionContext } from './transport/connection.js'
import { startHeartbeat } from './transport/heartbeat.js'
import { FrameCache } from './transport/frame.js'
import { admitUpgrade, clientAddress, ConnectionCounter, UpgradeRejection, type AdmissionPolicy } from './transport/upgrade.js'
import { TrustedProxies } from './transport/forwarded.js'
import { serveEditor } from './http/static.js'
import { tokenApi } from './http/token-api.js'
import { documentsApi } from './http/documents-api.js'
import { createOpenAuthority, createTokenAuthority } from './auth/tokens.js'
import { newSigningKey } from './storage/signing-key.js'
import { documentExistsApi } from './http/document-exists.js'
import { RelayMetrics } from './metrics/relay-metrics.js'
import { metricsEndpoint } from './http/metrics.js'
import { timedStore } from './storage/timed.js'
import { countedBus } from './cluster/counted.js'
import { startWebhookWorker, type WebhookWorker } from './webhooks/worker.js'
import { webhookDeliveriesPath, webhooksApi } from './http/webhooks-api.js'
import { HistoryRecorder } from './rooms/history.js'

/** What `startRelay` takes: any configuration field, plus the pieces it plugs together. */
export interface RelayOptions extends Partial<Config> {
  /** Where documents live. Defaults to an in-memory store (nothing survives the process). */
  readonly store?: DocStore
  /** How this process hears about documents other processes serve. Defaults to a bus for one process alone. */
  readonly bus?: ClusterBus
  /** Defaults to info-level lines on stderr. */
  readonly logger?: Logger
}

/** A running relay. */
export interface Relay {
  /** The port actually bound (useful with `port: 0`). */
  readonly port: number
  /** `http://host:port` of this relay. */
  readonly url: string
  readonly config: Config
  readonly registry: RoomRegistry
  /** Open WebSocket connections. */
  readonly connectionCount: number
  /**
   * Stops accepting connections, saves every document, closes every socket
   * with 1012 (service restart) and frees the port. Does not close the store.
   */
  close (): Promise<void>
}

/** Thrown by `startRelay` when the port is taken. */
export class PortInUseError extends Error {
  override readonly name = 'PortInUseError'
}

/**
 * Starts a relay listening on `host:port`. Rejects with `PortInUseError`
 * when the port is taken, or an error naming the setting for unusable auth keys.
 */
export async function startRelay (options: RelayOptions = {}): Promise<Relay> {
  const { store: givenStore, logger: givenLogger, bus: givenBus, ...settings } = options
  const config: Config = { ...defaultConfig, ...withoutUndefined(settings) }
  const logger = givenLogger ?? createLogger()
  const store = givenStore ?? createMemoryStore({ webhooks: config.webhookUrl !== null ? { debounceMs: config.webhookDebounceMs } : undefined })
  const webhookOutbox = store.webhooks ?? null
  if (config.webhookUrl !== null && (webhookOutbox === null || config.webhookSecret === null)) {
    throw new Error('webhookUrl needs webhookSecret and a store opened with webhooks on (its `webhooks` option)')
  }
  // The server's own key signs links where AUTH_SECRET does not; the store keeps it for every process and restart.
  const ownKey = config.authSecret ? null : await (store.signingKey?.() ?? newSigningKey())
  const sockets = new Set<WebSocket>()
  // Cluster metrics only when other processes may be there: a bus was given.
  const metrics: RelayMetrics = new RelayMetrics({
    connections: () => sockets.size,
    rooms: (): number => registry.size,
    clusterHealthy: givenBus ? () => givenBus.healthy : null
  })
  const bus = givenBus ? countedBus(givenBus, metrics) : createLocalBus()
  const history = store.versions ? new HistoryRecorder(store.versions, { ...config, logger }) : null
  const registry = new RoomRegistry(timedStore(store, metrics), bus, {
    ...config, logger, metrics, edits: history ?? undefined, beforeUnload: history ? (room) => history.flush(room) : undefined
  })
  const wss = new WebSocketServer({ noServer: true, clientTracking: false, maxPayload: config.maxMessageBytes, perMessageDeflate: false })
  // `sockets`: open sockets, tracked with one shared listener instead of by `wss` with a closure per socket;
  // the heartbeat pings them.
  function forgetSocket (this: WebSocket): void {
    sockets.delete(this)
  }
  const heartbeat = startHeartbeat(sockets, config.heartbeatIntervalMs)
  const context: ConnectionContext = { registry, logger, frames: new FrameCache(), metrics, ...config }
  const editor = config.editorDir ? serveEditor(config.editorDir) : null
  const authority = createTokenAuthority({ secret: config.authSecret, publicKeyPem: config.authPublicKeyPem, ownKey })
  // Links work on an open server too: a token, when presented, grants exactly its permission.
  const links = authority ?? createOpenAuthority(ownKey as Uint8Array)
  const trustedProxies = TrustedProxies.parse(config.trustProxy)
  const api = tokenApi({ ...config, authority: links, tokenRequired: authority !== null, addressOf: (req) => clientAddress(req, { trustedProxies }) })
  const policy: AdmissionPolicy = { ...config, authority: links, tokenRequired: authority !== null, trustedProxies }
  const documents = documentsApi({ ...config, registry, store, history, authority, logger, addressOf: (req) => clientAddress(req, policy) })
  const exists = documentExistsApi({ ...config, registry, store, authority })
  const serveMetrics = metricsEndpoint({ authority, metrics })
  const serveDeliveries = webhooksApi({ authority, outbox: webhookOutbox })
  const counter = new ConnectionCounter(config.maxConnections, config.maxConnectionsPerAddress)
  let nextConnectionId = 0
  let closing = false
  // Created once: a listener made inside the upgrade handler would keep that request alive with the socket.
  const onSocketError = (err: Error): void => logger.debug('upgrade.socket-error', { error: err })

  /** What keeps this process from taking new work now: empty when it is ready. */
  const readiness = async (): Promise<string[]> => {
    const problems: string[] = []
    if (closing) problems.push('shutting down')
    if (!bus.healthy) problems.push('the cluster bus (Redis) is unreachable')
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${readinessTimeoutMs} ms`)), readinessTimeoutMs)
    })
    try {
      await Promise.race([store.ping(), timeout])
    } catch (err) {
      problems.push(`storage is unreachable: ${(err as Error).message}`)
    } finally {
      clearTimeout(timer)
    }
    return problems
  }

  const server: Server = createServer({
    headersTimeout: config.requestHeadersTimeoutMs,
    requestTimeout: config.requestHeadersTimeoutMs * 3,
    connectionsCheckingInterval: Math.min(1000, config.requestHeadersTimeoutMs)
  }, (req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0]
    if (path === webhookDeliveriesPath) {
      serveDeliveries(req, res).then(() => {
        if (res.statusCode === 401 || res.statusCode === 403) metrics.authFailed('api')
      }, (err) => {
        logger.error('http.error', { path, error: err })
        if (!res.headersSent) res.writeHead(500).end()
      })
      return
    }
    if (path.startsWith('/api/')) {
      documents.handle(req, res, path).then((done) => done || exists(req, res, path)).then((done) => done || api(req, res, path)).then((done) => {
        if (res.statusCode === 401 || res.statusCode === 403) metrics.authFailed('api')
        if (!done) res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"code":"not-found","message":"no such endpoint"}}')
      }, (err) => {
        logger.error('http.error', { path, error: err })
        if (!res.headersSent) res.writeHead(500).end()
      })
      return
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end()
      return
    }
    if (path === '/healthz') {
      const body = JSON.stringify({ status: closing ? 'stopping' : 'ok', rooms: registry.size, connections: sockets.size })
      res.writeHead(closing ? 503 : 200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(body)
      return
    }
    if (path === '/metrics') {
      serveMetrics(req, res).catch((err) => {
        logger.error('http.error', { path, error: err })
        if (!res.headersSent) res.writeHead(500).end()
      })
      return
    }
    if (path === '/livez') {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end('{"status":"ok"}')
      return
    }
    if (path === '/readyz') {
      readiness().then((problems) => {
        const body = JSON.stringify(problems.length === 0 ? { status: 'ready' } : { status: 'unavailable', problems })
        res.writeHead(problems.length === 0 ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(body)
      }, (err) => {
        logger.error('http.error', { path, error: err })
        if (!res.headersSent) res.writeHead(500).end()
      })
      return
    }
    const served = editor ? editor(req, res, path) : Promise.resolve(false)
    served.then((done) => {
      if (!done) res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not found\n')
    }, (err) => {
      logger.error('http.error', { path, error: err })
      if (!res.headersSent) res.writeHead(500).end()
    })
  })

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', onSocketError)
    const address = clientAddress(req, policy)
    const refuse = (err: UpgradeRejection): void => {
      logger.warn('upgrade.rejected', { status: err.status, reason: err.message, address, path: (req.url ?? '').split('?', 1)[0] })
      metrics.refused(`upgrade-${err.status}`)
      if (err.byToken) metrics.authFailed('upgrade')
      rejectUpgrade(socket, err.status, err.message)
    }
    if (closing) {
      refuse(new UpgradeRejection(503, 'the server is shutting down'))
      return
    }
    try {
      counter.hold(socket, address)
    } catch (err) {
      refuse(err as UpgradeRejection)
      return
    }
    admitUpgrade(req, policy).then((grant) => {
      if (closing || socket.destroyed) {
        socket.destroy()
        return
      }
      wss.handleUpgrade(req, socket, head, (ws) => {
        sockets.add(ws)
        ws.on('close', forgetSocket)
        heartbeat.track(ws)
        new Connection(++nextConnectionId, ws, socket, grant, context) // eslint-disable-line no-new
      })
    }, (err: unknown) => {
      if (err instanceof UpgradeRejection) {
        refuse(err)
      } else {
        logger.error('upgrade.error', { error: err as Error })
        rejectUpgrade(socket, 503, 'internal error')
      }
    })
  })

  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      heartbeat.stop()
      documents.stop()
      history?.stop()
      reject(err.code === 'EADDRINUSE' ? new PortInUseError(`port ${config.port} on ${config.host} is already in use`) : err)
    })
    server.listen(config.port, config.host, () => resolve())
  })
  server.on('error', (err) => logger.error('http.server-error', { error: err }))
  const port = (server.address() as AddressInfo).port
  const webhooks: WebhookWorker | null = webhookOutbox && config.webhookUrl !== null && config.webhookSecret !== null
    ? startWebhookWorker({ ...config, webhookUrl: config.webhookUrl, webhookSecret: config.webhookSecret, outbox: webhookOutbox, logger, metrics })
    : null
  const host = config.host.includes(':') ? `[${config.host}]` : config.host
  if (authority) {
    logger.info('auth.on', { tokens: config.authSecret ? 'AUTH_SECRET (HS256)' : 'AUTH_PUBLIC_KEY, and the server\'s own key for links it makes' })
  } else {
    logger.warn('auth.off', { note: `no AUTH_SECRET: anyone who reaches ${host}:${port} can read and write every document` })
    logger.warn('api.open', { note: `no AUTH_SECRET: anyone who reaches ${host}:${port} can list, replace, delete and restore documents through /api/documents` })
  }

  return {
    port,
    url: `http://${host}:${port}`,
    config,
    registry,
    get connectionCount () { return sockets.size },
    async close () {
      if (closing) return
      closing = true
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()))
      await registry.close()
      await webhooks?.stop()
      for (const ws of sockets) ws.close(1012, 'server shutting down')
      await waitForSockets(sockets, config.closeTimeoutMs)
      heartbeat.stop()
      documents.stop()
      history?.stop()
      metrics.clear()
      server.closeAllConnections()
      await stopped
    }
  }
}

/** How long `/readyz` waits for the store to answer. */
const readinessTimeoutMs = 2_000

const statusText: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 429: 'Too Many Requests', 503: 'Service Unavailable'
}

function rejectUpgrade (socket: Duplex, status: number, message: string): void {
  const reason = statusText[status] ?? 'Error'
  const body = `${message}\n`
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
}

/** Waits until every socket finished its close handshake, terminating those still open after `timeoutMs`. */
async function waitForSockets (sockets: ReadonlySet<WebSocket>, timeoutMs: number): Promise<void> {
  const open = [...sockets].filter((ws) => ws.readyState !== ws.CLOSED)
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<void>((resolve) => { timer = setTimeout(resolve, timeoutMs) })
  await Promise.race([Promise.all(open.map((ws) => new Promise((resolve) => ws.once('close', resolve)))), timeout])
  clearTimeout(timer)
  for (const ws of sockets) ws.terminate()
}

function withoutUndefined<T extends object> (value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>
}
