/**
 * A bare WebSocket relay with no Yjs: every binary message is forwarded to
 * every other socket connected on the same URL path. It keeps no document,
 * answers no sync request and sends nothing of its own, so it is the
 * physical limit of fan-out over `ws` in one Node process.
 *
 *   node dist/bench/ws-relay.js --port N [--host H]
 *
 * Logs `server.started url=http://H:N` on stderr once listening, like coedit.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { parseArgs } from 'node:util'
import { WebSocketServer, type WebSocket } from 'ws'

/** Same limit as coedit's `maxMessageBytes`. */
const maxMessageBytes = 16 * 1024 * 1024

const { values } = parseArgs({ options: { port: { type: 'string' }, host: { type: 'string' } } })
const host = values.host ?? '127.0.0.1'
const port = Number(values.port ?? 0)

const paths = new Map<string, Set<WebSocket>>()
const wss = new WebSocketServer({ noServer: true, maxPayload: maxMessageBytes, perMessageDeflate: false })
const server = createServer((_req, res) => { res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n') })

server.on('upgrade', (req, socket, head) => {
  socket.on('error', () => {})
  const path = (req.url ?? '/').split('?', 1)[0]
  wss.handleUpgrade(req, socket, head, (ws) => {
    let peers = paths.get(path)
    if (!peers) {
      peers = new Set()
      paths.set(path, peers)
    }
    const group = peers
    group.add(ws)
    ws.on('error', () => {})
    ws.on('message', (data, isBinary) => {
      if (!isBinary) return
      for (const peer of group) {
        if (peer !== ws && peer.readyState === peer.OPEN) peer.send(data)
      }
    })
    ws.on('close', () => {
      group.delete(ws)
      if (group.size === 0 && paths.get(path) === group) paths.delete(path)
    })
  })
})

server.listen(port, host, () => {
  const bound = (server.address() as AddressInfo).port
  process.stderr.write(`server.started url=http://${host}:${bound}\n`)
})

const stop = (): void => {
  for (const ws of wss.clients) ws.terminate()
  server.close(() => process.exit(0))
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
