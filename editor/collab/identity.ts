/**
 * Who you are to the others in a document: a display name and a colour,
 * kept in the browser's storage so they survive reloads.
 */

/** A person's name and colour, as shown on their cursor and in the people list. */
export interface Identity {
  readonly name: string
  /** A `#rrggbb` colour that white text is readable on. */
  readonly color: string
}

/** The storage key under which the identity is kept. */
export const identityStorageKey = 'coedit.identity'

/** Longest display name, in characters; longer ones are cut. */
export const maxDisplayNameLength = 40

/** The colours to choose from; each has enough contrast for white label text. */
export const palette: readonly string[] = ['#c2255c', '#7048e8', '#1971c2', '#0c8599', '#2b8a3e', '#d9480f', '#9c36b5', '#e03131', '#3b5bdb', '#087f5b', '#5c940d', '#495057']
const adjectives = ['Blue', 'Brave', 'Bright', 'Calm', 'Clever', 'Gentle', 'Golden', 'Happy', 'Lucky', 'Merry', 'Quiet', 'Swift', 'Witty', 'Jolly', 'Keen', 'Sunny']
const animals = ['Otter', 'Fox', 'Heron', 'Badger', 'Lynx', 'Panda', 'Owl', 'Koala', 'Falcon', 'Seal', 'Robin', 'Hare', 'Beaver', 'Finch', 'Moose', 'Wren']

function pick<T> (items: readonly T[]): T {
  return items[crypto.getRandomValues(new Uint32Array(1))[0] % items.length]
}

/** A new random identity such as "Blue Otter" with a random colour from the palette. */
export function randomIdentity (): Identity {
  return { name: `${pick(adjectives)} ${pick(animals)}`, color: pick(palette) }
}

/**
 * The identity kept in `storage`, or null when there is none (or it is
 * unreadable, or storage is blocked).
 */
export function loadIdentity (storage: Storage): Identity | null {
  try {
    const kept: unknown = JSON.parse(storage.getItem(identityStorageKey) ?? 'null')
    if (typeof kept !== 'object' || kept === null) return null
    const { name, color } = kept as Record<string, unknown>
    if (typeof name !== 'string' || typeof color !== 'string' || !/^#[0-9a-f]{6}$/i.test(color)) return null
    const cleaned = cleanDisplayName(name)
    return cleaned === '' ? null : { name: cleaned, color }
  } catch {
    return null
  }
}

/** Keeps `identity` in `storage`. Does nothing when storage is blocked or full. */
export function saveIdentity (storage: Storage, identity: Identity): void {
  try {
    storage.setItem(identityStorageKey, JSON.stringify(identity))
  } catch {
    // The identity then lasts for this page only.
  }
}

/** `name` with runs of white space made single spaces, trimmed, and cut to `maxDisplayNameLength`. */
export function cleanDisplayName (name: string): string {
  return name.replace(/\s+/g, ' ').trim().slice(0, maxDisplayNameLength).trim()
}
