/**
 * How deeply a JSON text nests, measured without parsing it. `JSON.parse`
 * reads any depth, but `JSON.stringify` recurses, so a value nested a few
 * thousand levels deep can be stored and then never written again.
 */

const quote = 0x22
const backslash = 0x5c
const openBracket = 0x5b
const closeBracket = 0x5d
const openBrace = 0x7b
const closeBrace = 0x7d

/**
 * The most arrays and objects that `json` opens inside one another (0 for
 * a string, number, literal or text without brackets; 1 for `[]` or
 * `{"a": 1}`), counting only brackets outside strings. Stops at the first
 * level past `limit` and returns `limit + 1`, so the cost of refusing is
 * bounded by where the excess starts. One loop over the characters, no
 * recursion and no allocation; exact for valid JSON, and some number for
 * anything else (which `JSON.parse` then refuses).
 */
export function jsonDepth (json: string, limit: number): number {
  let depth = 0
  let deepest = 0
  const length = json.length
  for (let i = 0; i < length; i++) {
    const c = json.charCodeAt(i)
    if (c === quote) {
      for (i++; i < length; i++) {
        const s = json.charCodeAt(i)
        if (s === backslash) i++
        else if (s === quote) break
      }
    } else if (c === openBracket || c === openBrace) {
      if (++depth > deepest) {
        deepest = depth
        if (deepest > limit) return deepest
      }
    } else if (c === closeBracket || c === closeBrace) {
      depth--
    }
  }
  return deepest
}
