/**
 * The automerge-paper editing trace (Kleppmann and Beresford, CC BY 4.0;
 * see bench/data/README.md) replayed into a Y.Doc, for loading a large,
 * real document.
 */
import { readFileSync } from 'node:fs'
import { gunzipSync } from 'node:zlib'
import * as Y from 'yjs'
import { textName } from './peer.js'

/** A replayed trace. */
export interface ReplayedTrace {
  /** The whole document as one Yjs update (`encodeStateAsUpdate`). */
  readonly update: Uint8Array
  /** The text the trace ends with. */
  readonly endContent: string
  /** Edits replayed. */
  readonly edits: number
}

interface TraceFile {
  readonly startContent: string
  readonly endContent: string
  readonly txns: ReadonlyArray<{ readonly patches: ReadonlyArray<readonly [number, number, string]> }>
}

/** Edits applied per Yjs transaction while replaying (the document is the same for any batch size). */
const editsPerTransaction = 1000

/**
 * Reads a gzipped trace `{startContent, endContent, txns: [{patches: [[pos, delCount, insert]]}]}`,
 * replays every patch in order into a new Y.Doc, and throws if the result
 * differs from `endContent`.
 */
export function replayTrace (path: string): ReplayedTrace {
  const trace = JSON.parse(gunzipSync(readFileSync(path)).toString('utf8')) as TraceFile
  const patches = trace.txns.flatMap((txn) => txn.patches)
  const doc = new Y.Doc()
  const text = doc.getText(textName)
  text.insert(0, trace.startContent)
  for (let from = 0; from < patches.length; from += editsPerTransaction) {
    doc.transact(() => {
      for (const [pos, deleted, inserted] of patches.slice(from, from + editsPerTransaction)) {
        if (deleted > 0) text.delete(pos, deleted)
        if (inserted !== '') text.insert(pos, inserted)
      }
    })
  }
  if (text.toString() !== trace.endContent) throw new Error(`replaying ${path} did not end with its endContent`)
  const update = Y.encodeStateAsUpdate(doc)
  doc.destroy()
  return { update, endContent: trace.endContent, edits: patches.length }
}
