/**
 * How many bytes document history costs, by representation: replays the
 * automerge-paper trace (bench/data) with a version every 1000 edits and
 * prints, per representation, the bytes all versions take next to the
 * size of the final document.
 *
 *   npx tsx scripts/history-size.ts [editsPerVersion]
 */
import { readFileSync } from 'node:fs'
import { gzipSync, gunzipSync } from 'node:zlib'
import * as Y from 'yjs'

interface TraceFile {
  readonly startContent: string
  readonly txns: ReadonlyArray<{ readonly patches: ReadonlyArray<readonly [number, number, string]> }>
}

const editsPerVersion = Number(process.argv[2] ?? 1000)
const trace = JSON.parse(gunzipSync(readFileSync(new URL('../bench/data/automerge-paper.json.gz', import.meta.url))).toString('utf8')) as TraceFile
const patches = trace.txns.flatMap((txn) => txn.patches)
const doc = new Y.Doc()
const text = doc.getText('text')
text.insert(0, trace.startContent)

const totals = { full: 0, fullGzip: 0, diff: 0, diffGzip: 0 }
let versions = 0
let previous = Y.encodeStateVector(doc)
for (let from = 0; from < patches.length; from += editsPerVersion) {
  doc.transact(() => {
    for (const [pos, deleted, inserted] of patches.slice(from, from + editsPerVersion)) {
      if (deleted > 0) text.delete(pos, deleted)
      if (inserted !== '') text.insert(pos, inserted)
    }
  })
  const full = Y.encodeStateAsUpdate(doc)
  const diff = Y.encodeStateAsUpdate(doc, previous)
  previous = Y.encodeStateVector(doc)
  totals.full += full.length
  totals.fullGzip += gzipSync(full).length
  totals.diff += diff.length
  totals.diffGzip += gzipSync(diff).length
  versions++
}
const state = Y.encodeStateAsUpdate(doc)
const kib = (bytes: number): string => `${(bytes / 1024).toFixed(0)} KiB`
const rows: Array<[string, number]> = [
  ['document: full state (encodeStateAsUpdate)', state.length],
  ['document: text (UTF-8)', Buffer.byteLength(text.toString())],
  ['(a) full state per version', totals.full],
  ['(a) full state per version, gzipped', totals.fullGzip],
  ['(b) update since previous version', totals.diff],
  ['(b) update since previous version, gzipped', totals.diffGzip]
]
console.log(`${patches.length} edits, ${versions} versions (one per ${editsPerVersion} edits)\n`)
console.log('| representation | bytes | | × document state |')
console.log('|---|---:|---:|---:|')
for (const [label, bytes] of rows) console.log(`| ${label} | ${bytes} | ${kib(bytes)} | ${(bytes / state.length).toFixed(2)} |`)
