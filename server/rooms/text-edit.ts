/**
 * The smallest single edit that turns one text into another: what both
 * share at the start and at the end stays, the middle is replaced. Pure.
 */

/** Delete `deleteCount` UTF-16 code units at `index`, then insert `insert` there. */
export interface TextEdit {
  readonly index: number
  readonly deleteCount: number
  readonly insert: string
}

/**
 * The edit that keeps the longest common prefix and then the longest common
 * suffix of `from` and `to`, or null when they are equal. Never cuts a
 * surrogate pair: an emoji changed into another is replaced whole.
 */
export function minimalTextEdit (from: string, to: string): TextEdit | null {
  if (from === to) return null
  const shorter = Math.min(from.length, to.length)
  let prefix = 0
  while (prefix < shorter && from.charCodeAt(prefix) === to.charCodeAt(prefix)) prefix++
  if (prefix > 0 && isHighSurrogate(from.charCodeAt(prefix - 1))) prefix--
  let suffix = 0
  while (suffix < shorter - prefix && from.charCodeAt(from.length - 1 - suffix) === to.charCodeAt(to.length - 1 - suffix)) suffix++
  if (suffix > 0 && isLowSurrogate(from.charCodeAt(from.length - suffix))) suffix--
  return { index: prefix, deleteCount: from.length - prefix - suffix, insert: to.slice(prefix, to.length - suffix) }
}

function isHighSurrogate (code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff
}

function isLowSurrogate (code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff
}
