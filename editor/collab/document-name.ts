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
