/**
 * The documents opened on this device, kept in the browser's localStorage
 * (so per origin): for each, its name, its title as last seen, when it was
 * last opened, and the link it was opened through when that carried an
 * access token. Removing one forgets it here only; the document stays on
 * the server.
 */

/** One document of the list. */
export interface RecentDocument {
  readonly name: string
  /** The title the document had when this device last saw it (see `title.ts`). */
  readonly title: string
  /** When this device last opened it, in ms since the epoch. */
  readonly openedAtMs: number
  /** The address it was opened with, `?token=` included, when access needs a link; null otherwise. */
  readonly link: string | null
}

/** The localStorage key of the list. */
export const recentDocumentsKey = 'coedit.documents'

/** Most documents the list keeps: opening one more forgets the one opened longest ago. */
export const maxRecentDocuments = 200

/** Where the list is kept: `localStorage`, or anything with its two methods. */
export interface KeyValueStorage {
  getItem (key: string): string | null
  setItem (key: string, value: string): void
}

/** The documents this device opened, read from and written to `storage` on each call (other tabs write too). */
export class RecentDocuments {
  constructor (private readonly storage: KeyValueStorage) {}

  /** Every document of the list, the one opened last first. */
  list (): RecentDocument[] {
    return this.read().sort((a, b) => b.openedAtMs - a.openedAtMs)
  }

  /** The entry of document `name`, or null when this device never opened it (or it was removed). */
  get (name: string): RecentDocument | null {
    return this.read().find((entry) => entry.name === name) ?? null
  }

  /**
   * Notes that document `name` was opened now: adds it, or moves it to the
   * top keeping its title. `link` replaces the kept link when given; null
   * keeps the one kept.
   */
  opened (name: string, link: string | null = null, nowMs = Date.now()): void {
    const entries = this.read()
    const kept = entries.find((entry) => entry.name === name)
    const entry: RecentDocument = { name, title: kept?.title ?? name, openedAtMs: nowMs, link: link ?? kept?.link ?? null }
    const others = entries.filter((other) => other.name !== name).sort((a, b) => b.openedAtMs - a.openedAtMs)
    this.write([entry, ...others].slice(0, maxRecentDocuments))
  }

  /** Keeps `title` as the title of document `name`, if the list holds it. */
  retitle (name: string, title: string): void {
    const entries = this.read()
    const at = entries.findIndex((entry) => entry.name === name)
    if (at === -1 || entries[at].title === title) return
    entries[at] = { ...entries[at], title }
    this.write(entries)
  }

  /** Forgets document `name` on this device; the document itself is untouched. */
  remove (name: string): void {
    this.write(this.read().filter((entry) => entry.name !== name))
  }

  /** The kept entries; entries damaged by hand or by another version are left out. */
  private read (): RecentDocument[] {
    let value: unknown
    try {
      value = JSON.parse(this.storage.getItem(recentDocumentsKey) ?? '[]')
    } catch {
      return []
    }
    if (!Array.isArray(value)) return []
    return value.filter((entry): entry is RecentDocument =>
      typeof entry === 'object' && entry !== null &&
      typeof entry.name === 'string' && entry.name !== '' &&
      typeof entry.title === 'string' &&
      typeof entry.openedAtMs === 'number' &&
      (entry.link === null || typeof entry.link === 'string'))
  }

  private write (entries: readonly RecentDocument[]): void {
    try {
      this.storage.setItem(recentDocumentsKey, JSON.stringify(entries))
    } catch {
      // Storage full or refused (private mode): the list is a convenience, the document is on the server.
    }
  }
}
