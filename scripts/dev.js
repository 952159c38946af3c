#!/usr/bin/env node
/**
 * Development: the relay (from source, in-memory storage unless other flags
 * are given) and Vite's dev server in front of it. Pages and their edits
 * reload on save; WebSocket connections for documents go through Vite to
 * the relay, so the editor talks to the same origin as in production.
 *
 *   npm run dev [-- relay flags, e.g. --storage sqlite --data-dir ./data]
 *
 * PORT (default 5173) is the page's port; RELAY_PORT (default 1235) the relay's.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { createServer } from 'vite'

const root = fileURLToPath(new URL('..', import.meta.url))
const port = Number(process.env.PORT ?? 5173)
const relayPort = Number(process.env.RELAY_PORT ?? 1235)
const relayFlags = process.argv.slice(2)

const relay = spawn(process.execPath, [
  '--import', 'tsx', 'server/cli.ts', 'serve',
  '--host', '127.0.0.1', '--port', String(relayPort),
  ...(relayFlags.some((flag) => flag.startsWith('--storage')) ? [] : ['--storage', 'memory']),
  ...relayFlags
], { cwd: root, stdio: 'inherit' })

/** Vite's own sockets (hot reload) stay with Vite; every other upgrade is a document for the relay. */
const isViteSocket = (req) => /\bvite-(hmr|ping)\b/.test(req.headers['sec-websocket-protocol'] ?? '')

let vite
try {
  vite = await createServer({
    root: 'editor',
    configFile: fileURLToPath(new URL('../editor/vite.config.ts', import.meta.url)),
    server: {
      port,
      strictPort: true,
      proxy: {
        // The relay's token endpoints, which the editor asks before it connects.
        '/api/': { target: `http://127.0.0.1:${relayPort}` },
        '/': {
          target: `ws://127.0.0.1:${relayPort}`,
          ws: true,
          // Plain HTTP requests are Vite's to answer: return their own URL to skip the proxy.
          bypass: (req, res) => (res || isViteSocket(req) ? req.url : undefined)
        }
      }
    }
  })
  await vite.listen()
  vite.printUrls()
} catch (err) {
  console.error(`coedit dev: ${err.message}`)
  relay.kill('SIGTERM')
  process.exit(1)
}

let stopping = false
function stop (code) {
  if (stopping) return
  stopping = true
  relay.kill('SIGTERM')
  vite.close().finally(() => process.exit(code))
}
relay.on('exit', (code) => {
  if (!stopping) console.error(`relay exited (${code}); stopping`)
  stop(code ?? 1)
})
process.on('SIGINT', () => stop(0))
process.on('SIGTERM', () => stop(0))
