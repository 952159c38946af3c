/**
 * Who you are to the others in a document: a display name, a colour and a
 * per-browser id, kept in the browser's storage so they survive reloads.
 */
import { palette, paletteColour } from './colours.js'

/** A person's name and colour, as shown on their cursor and in the people list. */
export interface Identity {
  readonly name: string
  /** The colour chosen: a palette colour's light shade, as `#rrggbb`. */
  readonly color: string
}

/** The part of Web Storage (`localStorage`) the identity is kept with. */
export interface KeptStorage {
  getItem (key: string): string | null
  setItem (key: string, value: string): void
}

/** Where `storage` events arrive: the window. */
export interface StorageEvents {
  addEventListener (type: 'storage', listener: (event: { readonly key: string | null }) => void): void
}

/** The storage key under which the identity is kept. */
export const identityStorageKey = 'coedit.identity'

/** Longest display name, in characters; longer ones are cut. */
export const maxDisplayNameLength = 40

/** The storage key under which this browser's person id is kept, next to the identity. */
export const personIdStorageKey = 'coedit.person'
const adjectives = ['Blue', 'Brave', 'Bright', 'Calm', 'Clever', 'Gentle', 'Golden', 'Happy', 'Lucky', 'Merry', 'Quiet', 'Swift', 'Witty', 'Jolly', 'Keen', 'Sunny']
const animals = ['Otter', 'Fox', 'Heron', 'Badger', 'Lynx', 'Panda', 'Owl', 'Koala', 'Falcon', 'Seal', 'Robin', 'Hare', 'Beaver', 'Finch', 'Moose', 'Wren']

function pick<T> (items: readonly T[]): T {
  return items[crypto.getRandomValues(new Uint32Array(1))[0] % items.length]
}

/** A new random identity such as "Blue Otter" with a random colour from the palette. */
export function randomIdentity (): Identity {
  return { name: `${pick(adjectives)} ${pick(animals)}`, color: pick(palette).light }
}

/**
 * This browser's person id: random, made on the first visit and kept in
 * `storage`, so that all tabs of one browser count as one person. When
 * storage is blocked it lasts for this page only.
 */
export function personId (storage: KeptStorage): string {
  try {
    const kept = storage.getItem(personIdStorageKey)
    if (kept !== null && /^[0-9a-f]{16,64}$/.test(kept)) return kept
  } catch {
    // Made anew below.
  }
  const made = [...crypto.getRandomValues(new Uint8Array(12))].map((byte) => byte.toString(16).padStart(2, '0')).join('')
  try {
    storage.setItem(personIdStorageKey, made)
  } catch {
    // This page only.
  }
  return made
}

/**
 * The identity kept in `storage`, or null when there is none (or it is
 * unreadable, or storage is blocked). A kept colour outside the palette is
 * replaced by a random palette colour.
 */
export function loadIdentity (storage: KeptStorage): Identity | null {
  try {
    const kept: unknown = JSON.parse(storage.getItem(identityStorageKey) ?? 'null')
    if (typeof kept !== 'object' || kept === null) return null
    const { name, color } = kept as Record<string, unknown>
    if (typeof name !== 'string' || typeof color !== 'string' || !/^#[0-9a-f]{6}$/i.test(color)) return null
    const cleaned = cleanDisplayName(name)
    // A colour of an earlier palette lacks a dark shade and a name: a current one replaces it.
    return cleaned === '' ? null : { name: cleaned, color: paletteColour(color)?.light ?? pick(palette).light }
  } catch {
    return null
  }
}

/** Keeps `identity` in `storage`. Does nothing when storage is blocked or full. */
export function saveIdentity (storage: KeptStorage, identity: Identity): void {
  try {
    storage.setItem(identityStorageKey, JSON.stringify(identity))
  } catch {
    // The identity then lasts for this page only.
  }
}

/**
 * Calls `onChange` with the identity whenever another page of this browser
 * (another tab) stores a new one in `storage`, so that all tabs of one
 * person show the same name and colour.
 */
export function onIdentityStored (events: StorageEvents, storage: KeptStorage, onChange: (identity: Identity) => void): void {
  events.addEventListener('storage', (event) => {
    if (event.key !== identityStorageKey) return
    const identity = loadIdentity(storage)
    if (identity) onChange(identity)
  })
}

/** `name` with runs of white space made single spaces, trimmed, and cut to `maxDisplayNameLength`. */
export function cleanDisplayName (name: string): string {
  return name.replace(/\s+/g, ' ').trim().slice(0, maxDisplayNameLength).trim()
}
