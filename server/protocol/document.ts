/**
 * The document format every part of coedit shares: which shared type holds
 * the text, and how a stored document (snapshot, then log) becomes a Y.Doc.
 */
import * as Y from 'yjs'
import { CorruptDocumentError, type StoredDocument } from '../storage/store.js'

/** The Y.Text every coedit client edits. Clients of the stock `y-websocket` provider use `doc.getText('text')`. */
export const textName = 'text'

/** Tags the transaction that loads a stored document. */
export const storedOrigin = { kind: 'store' } as const

/**
 * Applies a stored document (snapshot, then log) to `doc` in one transaction
 * with origin `storedOrigin`. Throws `CorruptDocumentError` when the stored
 * bytes do not apply.
 */
export function applyStoredDocument (doc: Y.Doc, stored: StoredDocument, name = ''): void {
  try {
    doc.transact(() => {
      if (stored.snapshot) Y.applyUpdate(doc, stored.snapshot)
      for (const update of stored.updates) Y.applyUpdate(doc, update)
    }, storedOrigin)
  } catch (err) {
    throw new CorruptDocumentError(name, (err as Error).message)
  }
}
