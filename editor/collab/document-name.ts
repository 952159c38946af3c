/**
 * Document names and the page paths that show them. A document lives at
 * `/d/<name>` (URL-encoded); its name is also its room on the relay.
 */

const pathPrefix = '/d/'

/** Longest name the relay accepts, in characters. */
export const maxDocumentNameLength = 200

/** What the relay accepts in a room name: letters and digits of any script, `- _ . ~ : @ + /` and space. */
const allowedName = /^[\p{L}\p{N}\-_.~:@+/ ]+$/u

/** Lower-case RFC 4648 base32: every character is safe in a path and easy to read aloud. */
const base32 = 'abcdefghijklmnopqrstuvwxyz234567'

/**
 * The document named by a page path (`/d/<name>`), or null for any other
 * path, a badly encoded one, or an empty name.
 */
export function documentNameFromPath (pathname: string): string | null {
  if (!pathname.startsWith(pathPrefix)) return null
  let name: string
  try {
    name = decodeURIComponent(pathname.slice(pathPrefix.length))
  } catch {
    return null
  }
  return name === '' ? null : name
}

/** The page path of document `name`: `/d/` and the name, URL-encoded. */
export function documentPath (name: string): string {
  return pathPrefix + encodeURIComponent(name)
}

/**
 * A fresh random name: 20 base32 characters (100 bits from
 * `crypto.getRandomValues`), so nobody finds the document by guessing.
 */
export function newDocumentName (): string {
  const bytes = crypto.getRandomValues(new Uint8Array(20))
  let name = ''
  for (const byte of bytes) name += base32[byte & 31]
  return name
}

/**
 * Why `name` cannot name a document, in words for the person who typed it,
 * or null when the relay will accept it.
 */
export function documentNameProblem (name: string): string | null {
  if (name.length === 0) return 'Type a name.'
  if (name.length > maxDocumentNameLength) return `Use at most ${maxDocumentNameLength} characters.`
  if (!allowedName.test(name)) return 'Use letters, digits, spaces and - _ . ~ : @ + / only.'
  return null
}

/**
 * The names among `known` that `name` may have been meant as: at most
 * `limit`, closest first, each within a few typing mistakes (one per four
 * characters, at least one) ignoring case. `name` itself is never among them.
 */
export function similarNames (name: string, known: readonly string[], limit = 3): string[] {
  const wanted = name.toLowerCase()
  const allowed = Math.max(1, Math.floor(wanted.length / 4))
  return known
    .filter((other) => other !== name)
    .map((other, order) => ({ other, order, distance: editDistance(wanted, other.toLowerCase(), allowed) }))
    .filter(({ distance }) => distance <= allowed)
    .sort((a, b) => a.distance - b.distance || a.order - b.order)
    .slice(0, limit)
    .map(({ other }) => other)
}

/**
 * How many typing mistakes turn `a` into `b`: characters inserted, deleted,
 * replaced, or two neighbours swapped (the optimal string alignment
 * distance, over UTF-16 units), or anything above `max` once it is
 * certainly above it.
 */
export function editDistance (a: string, b: string, max = Infinity): number {
  if (Math.abs(a.length - b.length) > max) return max + 1
  let before: number[] = []
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    let rowMin = i
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) current[j] = Math.min(current[j], before[j - 2] + 1)
      rowMin = Math.min(rowMin, current[j])
    }
    if (rowMin > max) return max + 1
    before = previous
    previous = current
  }
  return previous[b.length]
}
