/**
 * A document's title, read from its Markdown: the first heading, else the
 * first line with text (cut short), else the document's name. No DOM and no
 * CodeMirror: it reads lines from whatever holds them.
 */

/** Longest title kept, in characters; a longer first line is cut with "…". */
export const maxTitleLength = 80

/**
 * Lines read for a heading at most: a title comes early, and a long
 * document without headings costs no more than its first lines.
 */
export const maxTitleLines = 1000

/** An ATX heading: one to six `#`, a space, the text, optional closing `#`s (up to three spaces of indent). */
const atxHeading = /^ {0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$/
/** A line that underlines the line above it into a heading (setext: `===` or `---`). */
const setextUnderline = /^ {0,3}(?:=+|-+)[ \t]*$/
/** The start or end of a fenced code block, whose lines are never headings. */
const fence = /^ {0,3}(```|~~~)/

/**
 * The title of the document whose lines `lines` yields, stopping at its first
 * heading within the first `maxTitleLines` lines: that heading's text; else
 * its first non-empty line outside code fences, cut to `maxTitleLength`;
 * else `name`. Markdown emphasis and code
 * marks around words are kept as typed, except a heading's own `#`s.
 */
export function documentTitle (lines: Iterable<string>, name: string): string {
  let firstLine: string | null = null
  let previous: string | null = null
  let inFence: string | null = null
  let read = 0
  for (const line of lines) {
    if (++read > maxTitleLines) break
    const fenceMark = fence.exec(line)?.[1] ?? null
    if (inFence !== null) {
      if (fenceMark === inFence) inFence = null
      continue
    }
    if (fenceMark !== null) {
      inFence = fenceMark
      previous = null
      continue
    }
    const atx = atxHeading.exec(line)
    if (atx && atx[1].trim() !== '') return cut(atx[1])
    if (previous !== null && setextUnderline.test(line) && !/^ {0,3}-+[ \t]*$/.test(previous)) return cut(previous)
    const trimmed = line.trim()
    previous = trimmed === '' ? null : trimmed
    if (firstLine === null && trimmed !== '' && !atx) firstLine = trimmed
  }
  return firstLine === null ? name : cut(firstLine)
}

/** `text` trimmed and cut to `maxTitleLength` characters (code points), ending in "…" when cut. */
function cut (text: string): string {
  const chars = [...text.trim()]
  return chars.length <= maxTitleLength ? chars.join('') : `${chars.slice(0, maxTitleLength - 1).join('').trimEnd()}…`
}

/**
 * Calls `onTitle` with the document's title now and each time it changes,
 * reading it `delayMs` after a change, at most once per `delayMs` however
 * fast people type (so never once per keystroke, and never held back by
 * someone who types without pause). `subscribe` registers a change listener and returns its
 * removal; the returned function stops watching.
 */
export function watchTitle (
  subscribe: (onChange: () => void) => () => void,
  lines: () => Iterable<string>,
  name: string,
  onTitle: (title: string) => void,
  delayMs = 300
): () => void {
  let shown = documentTitle(lines(), name)
  onTitle(shown)
  let timer: ReturnType<typeof setTimeout> | undefined
  const unsubscribe = subscribe(() => {
    if (timer !== undefined) return
    timer = setTimeout(() => {
      timer = undefined
      const title = documentTitle(lines(), name)
      if (title === shown) return
      shown = title
      onTitle(title)
    }, delayMs)
  })
  return () => {
    clearTimeout(timer)
    unsubscribe()
  }
}
