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
 * A copy the relay refused (the document was deleted, or the copy holds a
 * change the relay will not take) is marked and set apart: it is never
 * merged into a later document of the same name, which would bring back a
 * deleted document or be refused on every visit, but its text stays
 * available to copy.
 */
import * as Y from 'yjs'
import * as idb from 'lib0/indexeddb'
import { IndexeddbPersistence, storeState } from 'y-indexeddb'

/** Rows written since the last merge that trigger the next one. */
export const compactAfterRows = 100

/** How long the page waits for the browser's copy before connecting without it. */
const loadTimeoutMs = 3_000

/** Key, in y-indexeddb's `custom` store, of how many changes wait for the relay. */
const pendingKey = 'pending'
/** Key of the mark (1) set once the relay refused the copy (see `KeptCopy.setApart`). */
const setApartKey = 'set-apart'

/** The IndexedDB database name for document `name` on the relay at `serverUrl`. */
export function offlineStoreName (serverUrl: string, name: string): string {
  return `coedit ${serverUrl} ${name}`
}

/** The browser's copy of a document, bound to the page's `Y.Doc`. */
export interface KeptCopy {
  readonly kind: 'kept'
  /** The origin of the updates that load the copy into the document: they replay, they are not changes. */
  readonly origin: unknown
  /** Changes that waited for the relay when the page last noted them (see `notePending`). */
  readonly pending: number
  /** Notes that `count` changes wait for the relay, for a later visit; writes at most once per call with a new count. */
  notePending (count: number): void
  /** Stops storing and sets the copy apart, kept only to be copied: the relay refused the document or a change in it. */
  setApart (): void
}

/** A copy set apart on an earlier visit (see `KeptCopy.setApart`): never merged, only shown to be copied. */
export interface OrphanedCopy {
  readonly kind: 'orphaned'
  readonly text: string
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

/** Whether database `dbName` carries the set-apart mark (creating it empty, as y-indexeddb would, if new). */
async function markedSetApart (dbName: string): Promise<boolean> {
  const db = await idb.openDB(dbName, (created) => idb.createStores(created, [['updates', { autoIncrement: true }], ['custom']]))
  try {
    const [custom] = idb.transact(db, ['custom'], 'readonly')
    return await idb.get(custom, setApartKey) === 1
  } finally {
    db.close()
  }
}

/** The text named `textName` of the copy in database `dbName`, loaded into a document of its own. */
async function orphanedText (dbName: string, textName: string): Promise<string> {
  const scratch = new Y.Doc()
  const persistence = new IndexeddbPersistence(dbName, scratch)
  await persistence.whenSynced
  const text = scratch.getText(textName).toString()
  await persistence.destroy()
  scratch.destroy()
  return text
}

/**
 * Loads the browser's copy of the document `dbName` (see
 * `offlineStoreName`) into `doc` and keeps storing `doc`'s updates there,
 * compactly. A copy set apart yields the text named `textName`. Resolves with null when IndexedDB is unavailable or slow
 * (private windows, full disks): the page then works as before, without a
 * copy.
 */
export async function openOfflineCopy (dbName: string, doc: Y.Doc, textName: string): Promise<KeptCopy | OrphanedCopy | null> {
  const opened = async (): Promise<KeptCopy | OrphanedCopy> => {
    if (await markedSetApart(dbName)) return { kind: 'orphaned', text: await orphanedText(dbName, textName) }
    const persistence = new IndexeddbPersistence(dbName, doc)
    await persistence.whenSynced
    const pending: unknown = await persistence.get(pendingKey)
    return keep(persistence, doc, typeof pending === 'number' ? pending : 0)
  }
  return await within(opened(), loadTimeoutMs)
}

/** Keeps `doc` in `persistence`, merging its rows (see the module comment). */
function keep (persistence: IndexeddbPersistence, doc: Y.Doc, pending: number): KeptCopy {
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
    kind: 'kept',
    origin: persistence,
    pending,
    notePending (count) {
      if (count === notedPending || stopped) return
      notedPending = count
      void persistence.set(pendingKey, count)
    },
    setApart () {
      if (stopped) return
      stopped = true
      doc.off('update', onUpdate)
      // The mark's transaction starts before `destroy` closes the database, which waits for it;
      // `destroy` stops storing at once: what the page holds now is what the copy keeps.
      void persistence.set(setApartKey, 1)
      void persistence.destroy()
    }
  }
}
