/**
 * Latency of the document API while the document is being edited live: the
 * automerge-paper trace (bench/data) put into a `coedit serve` process (memory
 * store), then GET …/text and PUT …/text (one word inserted into the text
 * just read) measured first with nobody connected, then under the
 * benchmark's fan-out load on the same document (50 stock clients, 10 of
 * them inserting a character 20 times a second at random places). Prints
 * medians and 95th percentiles.
 *
 *   npx tsx scripts/document-api-under-load.ts [rounds, default 40]
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import * as Y from 'yjs'
import WebSocket from 'ws'
import { WebsocketProvider } from 'y-websocket'
import { replayTrace } from '../bench/trace.js'

const rounds = Number(process.argv[2] ?? 40)
const root = fileURLToPath(new URL('..', import.meta.url))
const trace = replayTrace(`${root}/bench/data/automerge-paper.json.gz`)
const name = 'paper'

function percentile (values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]
}

/** Starts the built server on a free port and resolves with its URL and a way to stop it. */
async function startServer (): Promise<{ url: string, stop: () => void }> {
  const child = spawn(process.execPath, [`${root}/dist/server/cli.js`, 'serve', '--port', '0', '--host', '127.0.0.1', '--storage', 'memory', '--log-level', 'info'], { stdio: ['ignore', 'ignore', 'pipe'] })
  const url = await new Promise<string>((resolve, reject) => {
    let log = ''
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      log += chunk
      const started = /server\.started url=(\S+)/.exec(log)
      if (started) resolve(started[1])
    })
    child.once('exit', (code) => reject(new Error(`coedit serve exited with ${code}:\n${log}`)))
  })
  return { url, stop: () => child.kill('SIGKILL') }
}

async function measure (url: string, label: string): Promise<void> {
  const endpoint = `${url}/api/documents/${name}/text`
  const times: Record<string, number[]> = { 'GET text': [], 'PUT text, one word inserted': [] }
  for (let i = 0; i < rounds; i++) {
    let start = performance.now()
    const read = await fetch(endpoint)
    const text = await read.text()
    times['GET text'].push(performance.now() - start)
    const middle = Math.floor(text.length / 2)
    start = performance.now()
    const written = await fetch(endpoint, { method: 'PUT', headers: { 'content-type': 'text/plain' }, body: `${text.slice(0, middle)} word${i} ${text.slice(middle)}` })
    await written.arrayBuffer()
    times['PUT text, one word inserted'].push(performance.now() - start)
    if (read.status !== 200 || written.status !== 200) throw new Error(`answered ${read.status} / ${written.status}`)
  }
  for (const [what, values] of Object.entries(times)) {
    console.log(`| ${label} | ${what} | ${percentile(values, 0.5).toFixed(2)} | ${percentile(values, 0.95).toFixed(2)} |`)
  }
}

const server = await startServer()
try {
  const seeded = await fetch(`${server.url}/api/documents/${name}/text`, { method: 'PUT', headers: { 'content-type': 'text/plain' }, body: trace.endContent })
  if (seeded.status !== 200) throw new Error(`seeding answered ${seeded.status}`)
  console.log(`document: ${trace.endContent.length} characters\n`)
  console.log('| load | request | median ms | p95 ms |\n| --- | --- | ---: | ---: |')
  await measure(server.url, 'nobody connected')

  const clients: Array<{ doc: Y.Doc, provider: WebsocketProvider }> = []
  for (let i = 0; i < 50; i++) {
    const doc = new Y.Doc()
    const provider = new WebsocketProvider(server.url.replace(/^http/, 'ws'), name, doc, { WebSocketPolyfill: WebSocket as never, disableBc: true })
    clients.push({ doc, provider })
  }
  await new Promise<void>((resolve) => {
    const check = setInterval(() => { if (clients.every((c) => c.provider.synced)) { clearInterval(check); resolve() } }, 20)
  })
  const typists = clients.slice(0, 10).map(({ doc }) => setInterval(() => {
    const text = doc.getText('text')
    text.insert(Math.floor(Math.random() * text.length), 'x')
  }, 50))
  await measure(server.url, 'fan-out load: 50 clients, 10 typing 20/s')
  for (const timer of typists) clearInterval(timer)
  for (const { doc, provider } of clients) {
    provider.destroy()
    doc.destroy()
  }
} finally {
  server.stop()
}
