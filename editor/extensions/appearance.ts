/**
 * How the editor looks: a centred column of readable prose, Markdown styled
 * in place, and remote cursors whose name labels are always visible. Colours
 * come from the page's CSS variables, so light and dark schemes both work.
 */
import type { Extension } from '@codemirror/state'
import { EditorView } from '@codemirror/view'
import { HighlightStyle, syntaxHighlighting } from '@codemirror/language'
import { tags } from '@lezer/highlight'

const theme = EditorView.theme({
  '&': {
    height: '100%',
    color: 'var(--text)',
    backgroundColor: 'var(--paper)',
    fontSize: '17px'
  },
  '&.cm-focused': { outline: 'none' },
  '.cm-scroller': {
    fontFamily: 'var(--font-text)',
    lineHeight: '1.65',
    overflow: 'auto'
  },
  '.cm-content': {
    maxWidth: '46rem',
    margin: '0 auto',
    padding: '2rem 1.25rem 40vh',
    caretColor: 'var(--text)'
  },
  '.cm-line': { padding: '0' },
  '.cm-activeLine': { backgroundColor: 'var(--active-line)' },
  '.cm-placeholder': { color: 'var(--faint)' },
  '&.cm-focused > .cm-scroller > .cm-selectionLayer .cm-selectionBackground, .cm-selectionBackground': {
    backgroundColor: 'var(--selection)'
  },
  '.cm-cursor, .cm-dropCursor': { borderLeftColor: 'var(--text)', borderLeftWidth: '2px' },
  '.cm-panels': { backgroundColor: 'var(--chrome)', color: 'var(--text)' },
  '.cm-panels.cm-panels-top': { borderBottom: '1px solid var(--line)' },
  '.cm-searchMatch': { backgroundColor: 'var(--match)' },
  '.cm-ySelectionCaret': { borderLeftWidth: '2px', borderRightWidth: '0', marginLeft: '-1px', marginRight: '-1px' },
  '.cm-ySelectionInfo': {
    opacity: '1',
    top: '-1.45em',
    left: '-2px',
    padding: '0.1em 0.4em',
    borderRadius: '4px 4px 4px 0',
    fontFamily: 'var(--font-ui)',
    fontSize: '11px',
    fontWeight: '600',
    lineHeight: '1.4',
    pointerEvents: 'none'
  },
  '.cm-ySelectionCaret:hover > .cm-ySelectionInfo': { opacity: '0.25' }
})

const markdownStyle = HighlightStyle.define([
  { tag: tags.heading1, fontSize: '1.6em', fontWeight: '700', lineHeight: '1.3' },
  { tag: tags.heading2, fontSize: '1.35em', fontWeight: '700', lineHeight: '1.3' },
  { tag: tags.heading3, fontSize: '1.15em', fontWeight: '700' },
  { tag: [tags.heading4, tags.heading5, tags.heading6], fontWeight: '700' },
  { tag: tags.strong, fontWeight: '700' },
  { tag: tags.emphasis, fontStyle: 'italic' },
  { tag: tags.strikethrough, textDecoration: 'line-through' },
  { tag: tags.link, color: 'var(--link)', textDecoration: 'underline' },
  { tag: tags.url, color: 'var(--link)' },
  { tag: tags.monospace, fontFamily: 'var(--font-code)', fontSize: '0.9em', color: 'var(--code)' },
  { tag: tags.quote, color: 'var(--muted)', fontStyle: 'italic' },
  { tag: [tags.processingInstruction, tags.contentSeparator, tags.labelName], color: 'var(--faint)' },
  { tag: tags.list, color: 'var(--text)' }
])

/** The editor's look; see the module comment. */
export function appearance (): Extension {
  return [theme, syntaxHighlighting(markdownStyle)]
}
