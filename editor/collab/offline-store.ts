/**
 * This page's copy of a document in the browser (IndexedDB, through
 * y-indexeddb), so that edits made while the relay is out of reach survive
 * a closed tab and reach the relay on a later visit: the provider's sync
 * step 2 carries whatever the relay lacks.
 *
 * y-indexeddb appends one row per update and merges rows only once 500 have
 * piled up, and then only after a second without updates; someone typing
 * steadily never pauses that long, and every load adds a row of its own. So
 * this module merges the rows itself: once when the copy has loaded, and
 * again after every `compactAfterRows` rows, whatever the typing rhythm.
 * Merging writes the whole document as one row and deletes the rows it
 * covers; the document in memory holds everything ever stored, so nothing
 * is lost however merges overlap.
 *
 * When the relay refuses the document for good (it was deleted, or the copy
 * holds a change the relay will not take), the copy is set apart: its rows
 * are cleared, so that it is never merged into a later document of the same
 * name (which would bring back a deleted document, or be refused on every
 * visit), and its text is kept beside them, to be copied.
 */
import type * as Y from 'yjs'
import * as idb from 'lib0/indexeddb'
import { IndexeddbPersistence, storeState } from 'y-indexeddb'

/** Rows written since the last merge that trigger the next one. */
export const compactAfterRows = 100

/** How long the page waits for the browser's copy before connecting without it. */
const loadTimeoutMs = 3_000

/** Key, in y-indexeddb's `custom` store, of how many changes wait for the relay. */
const pendingKey = 'pending'
/** Key of the text of a copy set apart (see `KeptCopy.setApart`). */
const setApartKey = 'set-apart-text'

/** The IndexedDB database name for document `name` on the relay at `serverUrl`. */
export function offlineStoreName (serverUrl: string, name: string): string {
  return `coedit ${serverUrl} ${name}`
}

/** The browser's copy of a document, bound to the page's `Y.Doc`. */
export interface KeptCopy {
  /** The origin of the updates that load the copy into the document: they replay, they are not changes. */
  readonly origin: unknown
  /** Changes that waited for the relay when the page last noted them (see `notePending`). */
  readonly pending: number
  /** The text of a copy set apart on an earlier visit, if any. */
  readonly setApartText: string | null
  /** Notes that `count` changes wait for the relay, for a later visit; writes only when the count changed. */
  notePending (count: number): void
  /**
   * Stops storing, clears the copy and keeps `text` (the document as the
   * page holds it) beside it, to be copied on a later visit. The writes are
   * queued at once, in one transaction.
   */
  setApart (text: string): void
}

/** Resolves with `promise`'s value, or with null once `ms` have passed or it failed. */
async function within<T> (promise: Promise<T>, ms: number): Promise<T | null> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const late = new Promise<null>((resolve) => { timer = setTimeout(() => resolve(null), ms) })
  try {
    return await Promise.race([promise.catch(() => null), late])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Loads the browser's copy of the document `dbName` (see
 * `offlineStoreName`) into `doc` and keeps storing `doc`'s updates there,
 * compactly. Resolves with null when IndexedDB is unavailable or slow
 * (private windows, full disks): the page then works as before, without a
 * copy.
 */
export async function openOfflineCopy (dbName: string, doc: Y.Doc): Promise<KeptCopy | null> {
  const opened = async (): Promise<KeptCopy> => {
    const persistence = new IndexeddbPersistence(dbName, doc)
    await persistence.whenSynced
    const pending: unknown = await persistence.get(pendingKey)
    const setApartText: unknown = await persistence.get(setApartKey)
    return keep(persistence, doc, typeof pending === 'number' ? pending : 0, typeof setApartText === 'string' ? setApartText : null)
  }
  return await within(opened(), loadTimeoutMs)
}

/** Keeps `doc` in `persistence`, merging its rows (see the module comment). */
function keep (persistence: IndexeddbPersistence, doc: Y.Doc, pending: number, setApartText: string | null): KeptCopy {
  let rowsSinceMerge = 0
  let notedPending = pending
  let stopped = false
  const merge = (): void => {
    rowsSinceMerge = 0
    void storeState(persistence, true)
  }
  // Registered after y-indexeddb's own listener: the row for this update is already written.
  const onUpdate = (_update: Uint8Array, origin: unknown): void => {
    if (origin === persistence || stopped) return
    if (++rowsSinceMerge >= compactAfterRows) merge()
  }
  doc.on('update', onUpdate)
  merge()
  return {
    origin: persistence,
    pending,
    setApartText,
    notePending (count) {
      if (count === notedPending || stopped) return
      notedPending = count
      void persistence.set(pendingKey, count)
    },
    setApart (text) {
      if (stopped || persistence.db === null) return
      stopped = true
      doc.off('update', onUpdate)
      const [updates, custom] = idb.transact(persistence.db, ['updates', 'custom'])
      // Row keys count up from 1.
      void idb.del(updates, idb.createIDBKeyRangeLowerBound(0, false))
      void idb.put(custom, text, setApartKey)
      void idb.put(custom, 0, pendingKey)
      // Stops storing at once; the database closes once the transaction above is done.
      void persistence.destroy()
    }
  }
}
