import { describe, expect, it } from 'vitest'
import { EditorSelection, EditorState, type StateCommand, type Transaction } from '@codemirror/state'
import { LanguageSupport, ensureSyntaxTree } from '@codemirror/language'
import { markdownLanguage } from '@codemirror/lang-markdown'
import {
  cycleHeading, deleteMarkupBefore, insertLink, insertNewlineInMarkdown, toggleBold, toggleBulletList, toggleCode,
  toggleItalic, toggleNumberedList, toggleQuote
} from '../../editor/extensions/markdown-commands.js'

/**
 * A Markdown state from `marked`, where `|` is the cursor and `[`…`]` (or
 * `<`…`>` when the text holds brackets) a selection from anchor to head.
 */
function stateOf (marked: string, readOnly = false): EditorState {
  const [open, close] = marked.includes('<') ? ['<', '>'] : ['[', ']']
  const cursor = marked.indexOf('|')
  let doc: string
  let selection: EditorSelection
  if (cursor >= 0) {
    doc = marked.slice(0, cursor) + marked.slice(cursor + 1)
    selection = EditorSelection.single(cursor)
  } else {
    const from = marked.indexOf(open)
    const to = marked.indexOf(close) - 1
    doc = marked.slice(0, from) + marked.slice(from + 1, to + 1) + marked.slice(to + 2)
    selection = EditorSelection.single(from, to)
  }
  const state = EditorState.create({ doc, selection, extensions: [new LanguageSupport(markdownLanguage), EditorState.readOnly.of(readOnly)] })
  ensureSyntaxTree(state, state.doc.length, 5000)
  return state
}

/** `state` written back in the notation of `stateOf` (`<`…`>` when the text holds brackets). */
function marked (state: EditorState): string {
  const { from, to, empty } = state.selection.main
  const text = state.doc.toString()
  if (empty) return text.slice(0, from) + '|' + text.slice(from)
  const [open, close] = /[[\]]/.test(text) ? ['<', '>'] : ['[', ']']
  return text.slice(0, from) + open + text.slice(from, to) + close + text.slice(to)
}

/** Runs `command` on the state `before` describes; returns the state after, in the same notation, and how many transactions it made. */
function run (command: StateCommand, before: string, readOnly = false): { after: string, transactions: number } {
  let state = stateOf(before, readOnly)
  let transactions = 0
  const handled = command({ state, dispatch: (tr: Transaction) => { state = tr.state; transactions++ } })
  if (!handled) return { after: marked(state), transactions: 0 }
  return { after: marked(state), transactions }
}

/** The state after `command`, in `stateOf`'s notation. */
function after (command: StateCommand, before: string): string {
  return run(command, before).after
}

describe('bold and italic', () => {
  it('wrap a selection in one transaction, keeping the words selected', () => {
    expect(run(toggleBold, 'say [hello] there')).toEqual({ after: 'say **[hello]** there', transactions: 1 })
    expect(after(toggleItalic, 'say [hello] there')).toBe('say *[hello]* there')
    // Spaces at the ends of a selection stay outside: `** hello **` is not bold.
    expect(after(toggleBold, 'say[ hello ]there')).toBe('say **[hello]** there')
  })

  it('unwrap a selection that is already wrapped, from inside or outside', () => {
    expect(after(toggleBold, 'say **[hello]** there')).toBe('say [hello] there')
    expect(after(toggleBold, 'say [**hello**] there')).toBe('say [hello] there')
    expect(after(toggleItalic, 'say *[hello]* there')).toBe('say [hello] there')
  })

  it('tell bold from italic', () => {
    expect(after(toggleItalic, 'say **[hello]** there')).toBe('say ***[hello]*** there')
    expect(after(toggleBold, 'say *[hello]* there')).toBe('say ***[hello]*** there')
    expect(after(toggleItalic, 'say ***[hello]*** there')).toBe('say **[hello]** there')
    expect(after(toggleBold, 'say ***[hello]*** there')).toBe('say *[hello]* there')
  })

  it('wrap or unwrap the word the cursor is in', () => {
    expect(after(toggleBold, 'say hel|lo there')).toBe('say **hel|lo** there')
    expect(after(toggleBold, 'say **hel|lo** there')).toBe('say hel|lo there')
    expect(after(toggleItalic, 'say hel|lo there')).toBe('say *hel|lo* there')
  })

  it('put the cursor between new markers outside a word, and take them out when pressed again', () => {
    expect(after(toggleBold, 'say |')).toBe('say **|**')
    expect(after(toggleBold, 'say **|**')).toBe('say |')
    expect(after(toggleItalic, '|')).toBe('*|*')
    // At the end of a word, typing goes on after it.
    expect(after(toggleBold, 'say hello|')).toBe('say hello**|**')
  })

  it('change nothing in a read-only state', () => {
    expect(run(toggleBold, 'say [hello]', true)).toEqual({ after: 'say [hello]', transactions: 0 })
  })
})

describe('links', () => {
  it('make `[text](url)` from the selection with `url` selected', () => {
    expect(run(insertLink, 'see [the docs] now')).toEqual({ after: 'see [the docs](<url>) now', transactions: 1 })
  })

  it('use the word under the cursor, or leave the cursor between empty brackets', () => {
    expect(after(insertLink, 'see do|cs')).toBe('see [docs](<url>)')
    expect(after(insertLink, 'see |')).toBe('see [|](url)')
  })

  it('make a selected address the target', () => {
    expect(after(insertLink, 'see <https://example.com/a>')).toBe('see [|](https://example.com/a)')
  })
})

describe('code, headings, lists and quotes', () => {
  it('toggle inline code on a selection and fence several lines', () => {
    expect(after(toggleCode, 'run [npm test] now')).toBe('run `[npm test]` now')
    expect(after(toggleCode, 'run `[npm test]` now')).toBe('run [npm test] now')
    expect(run(toggleCode, '[a\nb]').after).toBe('```\n[a\nb]\n```')
  })

  it('cycle a line through heading levels', () => {
    expect(after(cycleHeading, 'Ti|tle')).toBe('# Ti|tle')
    expect(after(cycleHeading, '# Ti|tle')).toBe('## Ti|tle')
    expect(after(cycleHeading, '### Ti|tle')).toBe('Ti|tle')
  })

  it('make selected lines a list, switch its kind and take it off', () => {
    expect(after(toggleBulletList, '[one\ntwo]')).toBe('- [one\n- two]')
    expect(after(toggleNumberedList, '[- one\n- two]')).toBe('[1. one\n2. two]')
    expect(after(toggleBulletList, '[- one\n- two]')).toBe('[one\ntwo]')
    expect(after(toggleQuote, 'wise |words')).toBe('> wise |words')
    expect(after(toggleQuote, '> wise |words')).toBe('wise |words')
  })
})

describe('Enter and Backspace around list and quote markup', () => {
  it('continue a list or quote on a line with text', () => {
    expect(after(insertNewlineInMarkdown, '- apples|')).toBe('- apples\n- |')
    expect(after(insertNewlineInMarkdown, '1. apples|')).toBe('1. apples\n2. |')
    expect(after(insertNewlineInMarkdown, '> wise words|')).toBe('> wise words\n> |')
  })

  it('end a list on an empty item with a blank line, so what follows is not part of it', () => {
    expect(run(insertNewlineInMarkdown, '- apples\n- |')).toEqual({ after: '- apples\n\n|', transactions: 1 })
    expect(after(insertNewlineInMarkdown, '- apples\n- pears\n- |')).toBe('- apples\n- pears\n\n|')
    expect(after(insertNewlineInMarkdown, '1. apples\n2. |')).toBe('1. apples\n\n|')
    // A loose list already has its blank line.
    expect(after(insertNewlineInMarkdown, '- apples\n\n- |')).toBe('- apples\n\n|')
  })

  it('take the marker off an empty item inside a list, or move a nested one out a level', () => {
    expect(after(insertNewlineInMarkdown, '- apples\n- |\n- pears')).toBe('- apples\n|\n- pears')
    expect(after(insertNewlineInMarkdown, '- fruit\n  - apples\n  - |')).toBe('- fruit\n  - apples\n- |')
  })

  it('leave a quote on an empty quote line, one level at a time', () => {
    expect(run(insertNewlineInMarkdown, '> wise words\n> |')).toEqual({ after: '> wise words\n\n|', transactions: 1 })
    expect(after(insertNewlineInMarkdown, '> > deep\n> > |')).toBe('> > deep\n>\n> |')
    // A list inside a quote ends first, the quote stays.
    expect(after(insertNewlineInMarkdown, '> - item\n> - |')).toBe('> - item\n>\n> |')
  })

  it('leaves a `>` inside a code block and a heading underline alone', () => {
    expect(run(insertNewlineInMarkdown, '```\n> |').transactions).toBe(0)
    // Left to the plain Enter of the default keymap.
    expect(run(insertNewlineInMarkdown, 'Title\n-|').transactions).toBe(0)
  })

  it('take list markup off with Backspace right after it', () => {
    expect(after(deleteMarkupBefore, '- apples\n- |')).toBe('- apples\n  |')
    expect(after(deleteMarkupBefore, '> |')).toBe('|')
    expect(run(deleteMarkupBefore, 'plain|').transactions).toBe(0)
  })

  it('change nothing in a read-only state', () => {
    expect(run(insertNewlineInMarkdown, '- apples\n- |', true).transactions).toBe(0)
  })
})
