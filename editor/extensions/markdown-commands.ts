/**
 * Markdown formatting as CodeMirror state commands: each one is a single
 * transaction (so one undo step) and does nothing in a read-only state.
 * Pure functions of the state: they work the same from a key, a toolbar
 * button or a test.
 */
import { EditorSelection, type ChangeSpec, type EditorState, type SelectionRange, type StateCommand, type Transaction } from '@codemirror/state'
import type { KeyBinding } from '@codemirror/view'
import { syntaxTree } from '@codemirror/language'
import { deleteMarkupBackward, insertNewlineContinueMarkupCommand } from '@codemirror/lang-markdown'

/** How many `char`s run backwards from `pos` (exclusive), stopping at `limit`. */
function runBefore (state: EditorState, pos: number, char: string, limit = 0): number {
  let count = 0
  while (pos - count > limit && state.sliceDoc(pos - count - 1, pos - count) === char) count++
  return count
}

/** How many `char`s run forwards from `pos`, stopping at `limit`. */
function runAfter (state: EditorState, pos: number, char: string, limit = state.doc.length): number {
  let count = 0
  while (pos + count < limit && state.sliceDoc(pos + count, pos + count + 1) === char) count++
  return count
}

/**
 * Whether a run of `run` marker characters on each side holds the markup
 * `width` characters wide: `*` is italic in runs of 1 or 3, `**` bold in
 * runs of 2 or 3 (`***both***`); a backtick run of any length is code.
 */
function holds (run: number, width: number, char: string): boolean {
  if (char === '`') return run >= 1
  return width === 1 ? run === 1 || run === 3 : run === 2 || run === 3
}

/** `range` without the spaces at its ends: `** word **` is not bold. */
function trimmed (state: EditorState, range: SelectionRange): { from: number, to: number } {
  const text = state.sliceDoc(range.from, range.to)
  const start = text.length - text.trimStart().length
  const end = text.trimEnd().length
  return end <= start ? { from: range.from, to: range.to } : { from: range.from + start, to: range.from + end }
}

/** The word the cursor at `pos` stands strictly inside of, if any: at a word's end, typing goes on after it. */
function wordAround (state: EditorState, pos: number): { from: number, to: number } | null {
  const word = state.wordAt(pos)
  return word !== null && word.from < pos && pos < word.to ? word : null
}

/** The change and new selection that toggle `marker` around one range; see `toggleInlineMarkup`. */
function toggleRange (state: EditorState, range: SelectionRange, marker: string): { changes: ChangeSpec[], range: SelectionRange } {
  const char = marker[0]
  const width = marker.length
  const word = range.empty ? wordAround(state, range.head) : null
  const { from, to } = range.empty ? word ?? { from: range.head, to: range.head } : trimmed(state, range)
  // How much markup to take out of a run of `run` marker characters: a whole run of backticks.
  const cut = (run: number): number => char === '`' ? run : width

  // The selection itself starts and ends with the markup: `**word**` selected.
  const inside = Math.min(runAfter(state, from, char, to), runBefore(state, to, char, from))
  if (!range.empty && holds(inside, width, char) && 2 * inside < to - from) {
    const size = cut(inside)
    return { changes: [{ from, to: from + size }, { from: to - size, to }], range: EditorSelection.range(from, to - 2 * size) }
  }
  // The markup sits just outside: `word` selected, or the cursor in it or between empty markers, in `**word**`.
  const outside = Math.min(runBefore(state, from, char), runAfter(state, to, char))
  if (holds(outside, width, char)) {
    const size = cut(outside)
    return {
      changes: [{ from: from - size, to: from }, { from: to, to: to + size }],
      range: range.empty ? EditorSelection.cursor(range.head - size) : EditorSelection.range(from - size, to - size)
    }
  }
  return {
    changes: [{ from, insert: marker }, { from: to, insert: marker }],
    range: range.empty ? EditorSelection.cursor(range.head + width) : EditorSelection.range(from + width, to + width)
  }
}

/**
 * A command that toggles inline `marker` (`**`, `*` or `` ` ``) on every
 * selection range. A selection (without the spaces at its ends), or else
 * the word the cursor is inside of, is wrapped in it, or unwrapped when it
 * already is (markup inside or just outside the selection). A cursor
 * outside any word gets a pair of markers with the cursor between them;
 * pressed again right away, it takes them out again.
 */
export function toggleInlineMarkup (marker: string): StateCommand {
  return ({ state, dispatch }) => {
    if (state.readOnly) return false
    const update = state.changeByRange((range) => toggleRange(state, range, marker))
    dispatch(state.update(update, { scrollIntoView: true, userEvent: 'input.format' }))
    return true
  }
}

/** Ctrl/Cmd-B: bold, `**text**`. */
export const toggleBold: StateCommand = toggleInlineMarkup('**')

/** Ctrl/Cmd-I: italic, `*text*` (`***text***` is both). */
export const toggleItalic: StateCommand = toggleInlineMarkup('*')

/** Inline code (`` ` ``) on a selection within a line; a selection over several lines becomes a fenced block. */
export const toggleCode: StateCommand = (target) => {
  const { state, dispatch } = target
  if (state.readOnly) return false
  const main = state.selection.main
  const first = state.doc.lineAt(main.from)
  const last = state.doc.lineAt(main.to)
  if (first.number === last.number) return toggleInlineMarkup('`')(target)
  const fenced = /^```/.test(first.text) && /^```\s*$/.test(last.text)
  const changes = fenced
    ? [{ from: first.from, to: Math.min(first.to + 1, state.doc.length) }, { from: Math.max(last.from - 1, 0), to: last.to }]
    : [{ from: first.from, insert: '```\n' }, { from: last.to, insert: '\n```' }]
  dispatch(state.update({ changes, userEvent: 'input.format' }))
  return true
}

/** Whether `text` looks like a web address, which then becomes the link's target rather than its text. */
function isAddress (text: string): boolean {
  return /^(https?:\/\/|mailto:)\S+$/.test(text)
}

/**
 * Ctrl/Cmd-K: turns the selection (or the word under the cursor) into
 * `[text](url)` with `url` selected, ready to be typed over. A selected web
 * address becomes the target instead, `[](address)`, with the cursor in
 * the brackets; with nothing to use, `[](url)` puts it there too.
 */
export const insertLink: StateCommand = ({ state, dispatch }) => {
  if (state.readOnly) return false
  const update = state.changeByRange((range) => {
    const { from, to } = range.empty ? state.wordAt(range.head) ?? { from: range.head, to: range.head } : trimmed(state, range)
    const text = state.sliceDoc(from, to)
    if (text === '' || isAddress(text)) {
      const insert = `[](${text === '' ? 'url' : text})`
      return { changes: { from, to, insert }, range: EditorSelection.cursor(from + 1) }
    }
    const insert = `[${text}](url)`
    const urlFrom = from + text.length + 3
    return { changes: { from, to, insert }, range: EditorSelection.range(urlFrom, urlFrom + 3) }
  })
  dispatch(state.update(update, { scrollIntoView: true, userEvent: 'input.format' }))
  return true
}

/** A heading's markup at a line's start. */
const headingPrefix = /^#{1,6}[ \t]+/

/** A bulleted or numbered list item's marker at a line's start. */
const listPrefix = /^([-*+]|\d{1,9}[.)])[ \t]+/

/** The distinct lines the selection touches (a range ending at a line's start leaves that line out), skipping blank ones unless all are. */
function selectedLines (state: EditorState): Array<{ from: number, text: string }> {
  const lines = new Map<number, { from: number, text: string }>()
  for (const range of state.selection.ranges) {
    const end = range.to > range.from && state.doc.lineAt(range.to).from === range.to ? range.to - 1 : range.to
    for (let pos = range.from; pos <= end;) {
      const line = state.doc.lineAt(pos)
      lines.set(line.from, { from: line.from, text: line.text })
      pos = line.to + 1
    }
  }
  const all = [...lines.values()].sort((a, b) => a.from - b.from)
  const written = all.filter((line) => line.text.trim() !== '')
  return written.length > 0 ? written : all
}

/** Dispatches `changes` to line starts as one formatting step. */
function changeLines (state: EditorState, dispatch: (tr: Transaction) => void, changes: ChangeSpec[]): boolean {
  dispatch(state.update({ changes, scrollIntoView: true, userEvent: 'input.format' }))
  return true
}

/**
 * A command that prefixes every selected line with `prefix(index)`
 * (`index` counting the lines changed), replacing another list marker
 * there, or, when every line already has markup `matches`, removes it.
 */
function toggleLinePrefix (matches: RegExp, prefix: (index: number) => string, replaces: RegExp | null): StateCommand {
  return ({ state, dispatch }) => {
    if (state.readOnly) return false
    const lines = selectedLines(state)
    const present = lines.every((line) => matches.test(line.text))
    const changes = lines.map((line, index): ChangeSpec => {
      const existing = (present ? matches : replaces)?.exec(line.text)?.[0] ?? ''
      return { from: line.from, to: line.from + existing.length, insert: present ? '' : prefix(index) }
    })
    return changeLines(state, dispatch, changes)
  }
}

/** Makes the selected lines a bulleted list (`- `), or plain lines again; numbered lines become bulleted. */
export const toggleBulletList: StateCommand = toggleLinePrefix(/^[-*+][ \t]+/, () => '- ', listPrefix)

/** Makes the selected lines a numbered list (`1. `, `2. `…), or plain lines again; bulleted lines become numbered. */
export const toggleNumberedList: StateCommand = toggleLinePrefix(/^\d{1,9}[.)][ \t]+/, (index) => `${index + 1}. `, listPrefix)

/** Quotes the selected lines (`> `), or takes one level of quoting off when they all are. */
export const toggleQuote: StateCommand = toggleLinePrefix(/^>[ \t]?/, () => '> ', null)

/**
 * Cycles the selected lines through heading levels: plain, `#`, `##`,
 * `###`, and plain again. The first line's level decides for all.
 */
export const cycleHeading: StateCommand = ({ state, dispatch }) => {
  if (state.readOnly) return false
  const lines = selectedLines(state)
  const level = headingPrefix.exec(lines[0].text)?.[0].trim().length ?? 0
  const next = level >= 3 ? '' : '#'.repeat(level + 1) + ' '
  const changes = lines.map((line): ChangeSpec => {
    const existing = headingPrefix.exec(line.text)?.[0] ?? ''
    return { from: line.from, to: line.from + existing.length, insert: next }
  })
  return changeLines(state, dispatch, changes)
}

/** A node of the syntax tree (the type from `@lezer/common`, which is not a direct dependency). */
type SyntaxNode = ReturnType<ReturnType<typeof syntaxTree>['resolveInner']>

/** The names of the syntax nodes around `pos`, innermost first. */
function nodesAround (state: EditorState, pos: number): string[] {
  const names: string[] = []
  for (let node: SyntaxNode | null = syntaxTree(state).resolveInner(pos, -1); node; node = node.parent) names.push(node.name)
  return names
}

/**
 * Enter on a line holding nothing but markup (`- `, `1. `, `> `, `> - `),
 * with the cursor at its end and no more of the list or quote below: takes
 * the innermost level off (the list marker, else one quote mark) and ends
 * the block there. The markup line becomes the blank line that ends it
 * (unless the line above already is one), and the cursor goes on below,
 * inside what is left of the quote if anything is. Without that blank
 * line, text typed next would still belong to the list or quote (a lazy
 * continuation line in Markdown).
 */
export const leaveEmptyBlock: StateCommand = ({ state, dispatch }) => {
  if (state.readOnly || state.selection.ranges.length > 1) return false
  const { main } = state.selection
  if (!main.empty) return false
  const line = state.doc.lineAt(main.head)
  // Quote marks, then at most one list marker right after them (an indented one is a nested list: lang-markdown outdents it).
  const markup = /^((?:[ \t]{0,3}>[ \t]?)*)([-*+]|\d{1,9}[.)])?[ \t]*$/.exec(line.text)
  if (markup === null || line.text.trim() === '' || main.head !== line.to) return false
  // Only real list or quote markup: not a `-` under a heading's text, nor a `>` in a code block.
  const around = nodesAround(state, main.head)
  if (!around.includes('ListItem') && !around.includes('Blockquote')) return false
  if (around.includes('FencedCode') || around.includes('CodeBlock')) return false
  const quotes = markup[1]
  const outer = markup[2] !== undefined ? quotes : quotes.slice(0, quotes.lastIndexOf('>'))
  const outerMarks = outer.trimEnd()
  const blankAt = (number: number): boolean => state.doc.line(number).text.trim() === outerMarks.trim()
  if (line.number < state.doc.lines && !blankAt(line.number + 1)) return false
  const continued = outerMarks === '' ? '' : outerMarks + ' '
  const insert = line.number > 1 && blankAt(line.number - 1) ? continued : outerMarks + state.lineBreak + continued
  dispatch(state.update({
    changes: { from: line.from, to: line.to, insert },
    selection: EditorSelection.cursor(line.from + insert.length),
    scrollIntoView: true,
    userEvent: 'input'
  }))
  return true
}

/** lang-markdown's Enter, told to end a list on any empty item rather than make a tight list loose. */
const continueMarkup = insertNewlineContinueMarkupCommand({ nonTightLists: false })

/**
 * Enter in Markdown: on an empty list item or quote line, leaves the list
 * or quote (see `leaveEmptyBlock`; an empty item inside a list, or nested
 * by indentation, loses its marker or moves out a level, even the second
 * item of a tight list); otherwise continues the list or quote on a new
 * line, or just breaks the line.
 */
export const insertNewlineInMarkdown: StateCommand = (target) =>
  !target.state.readOnly && (leaveEmptyBlock(target) || continueMarkup(target))

/** Backspace right after list or quote markup takes one level of it off (lang-markdown's `deleteMarkupBackward`). */
export const deleteMarkupBefore: StateCommand = (target) => !target.state.readOnly && deleteMarkupBackward(target)

/**
 * The keys for writing Markdown: Enter and Backspace around list and quote
 * markup (above), Mod-b bold, Mod-i italic, Mod-k link. Give it a higher
 * precedence than the default keymap, which binds Mod-i and Enter itself.
 */
export const markdownEditingKeymap: readonly KeyBinding[] = [
  { key: 'Enter', run: insertNewlineInMarkdown },
  { key: 'Backspace', run: deleteMarkupBefore },
  { key: 'Mod-b', run: toggleBold, preventDefault: true },
  { key: 'Mod-i', run: toggleItalic, preventDefault: true },
  { key: 'Mod-k', run: insertLink, preventDefault: true }
]
