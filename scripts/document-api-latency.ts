/**
 * Latency of the document API on a large real document: the automerge-paper
 * trace (shared/data) stored as one update, then GET …/text (with the
 * document's room in memory or not) and PUT …/text (a one-word change in the
 * middle, and the same text again) against a relay in this process, on the
 * memory store and on SQLite. Prints medians and 95th percentiles.
 *
 *   npx tsx scripts/document-api-latency.ts [trace file, default ../shared/data/automerge-paper.json.gz] [rounds]
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { replayTrace } from '../bench/trace.js'
import { startRelay } from '../server/relay.js'
import { createLogger } from '../server/log.js'
import { createMemoryStore } from '../server/storage/memory.js'
import { openSqliteStore } from '../server/storage/sqlite.js'
import type { DocStore } from '../server/storage/store.js'

const tracePath = process.argv[2] ?? '../shared/data/automerge-paper.json.gz'
const rounds = Number(process.argv[3] ?? 30)
const trace = replayTrace(tracePath)
const name = 'paper'

function percentile (values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]
}

/**
 * Runs every request `rounds` times against a relay whose rooms unload at
 * once (every request loads the document from the store) and against one
 * that keeps the room in memory.
 */
async function measure (label: string, store: DocStore): Promise<void> {
  await store.append(name, trace.update)
  const results: Record<string, number[]> = {}
  const middle = Math.floor(trace.endContent.length / 2)
  for (const inMemory of [false, true]) {
    const graceMs = inMemory ? 600_000 : 0
    const relay = await startRelay({ port: 0, host: '127.0.0.1', store, logger: createLogger('error'), unloadGraceMs: graceMs, unwrittenUnloadGraceMs: graceMs })
    const url = `${relay.url}/api/documents/${name}/text`
    const where = inMemory ? 'room in memory' : 'room not in memory'
    const record = async (what: string, work: () => Promise<Response>): Promise<void> => {
      const start = performance.now()
      const response = await work()
      await response.arrayBuffer()
      const elapsed = performance.now() - start
      if (response.status !== 200) throw new Error(`${what} answered ${response.status}`)
      ;(results[`${what}, ${where}`] ??= []).push(elapsed)
      // Cold runs: wait until the room left memory before the next request.
      while (!inMemory && relay.registry.get(name)) await new Promise((resolve) => setTimeout(resolve, 5))
    }
    if (inMemory) await fetch(url) // loads nothing: GET reads the store; a first PUT loads the room
    for (let i = 0; i < rounds; i++) {
      const text = `${trace.endContent.slice(0, middle)} word${inMemory ? 'w' : 'c'}${i} ${trace.endContent.slice(middle)}`
      await record('PUT text, one word changed', () => fetch(url, { method: 'PUT', headers: { 'content-type': 'text/plain' }, body: text }))
      await record('PUT text, unchanged', () => fetch(url, { method: 'PUT', headers: { 'content-type': 'text/plain' }, body: text }))
      await record('GET text', () => fetch(url))
    }
    await relay.close()
  }
  console.log(`\n${label} (document: ${trace.endContent.length} characters, ${trace.edits} edits, ${trace.update.length} bytes as one update; ${rounds} rounds)`)
  for (const [what, values] of Object.entries(results)) {
    console.log(`  ${what.padEnd(52)} median ${percentile(values, 0.5).toFixed(2)} ms   p95 ${percentile(values, 0.95).toFixed(2)} ms`)
  }
  await store.close()
}

await measure('memory store', createMemoryStore())
const dir = mkdtempSync(join(tmpdir(), 'coedit-api-bench-'))
try {
  await measure('SQLite store', openSqliteStore({ dataDir: dir }))
} finally {
  rmSync(dir, { recursive: true, force: true })
}
