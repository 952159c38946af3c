/**
 * How the editor looks: a centred column of readable prose, Markdown styled
 * in place, dark when the system is, and remote cursors drawn in the shade
 * of their person's colour that suits the scheme, with label text picked by
 * luminance (each at least 4.5:1). Colours come from the page's CSS
 * variables, so light and dark schemes both work.
 */
import { Compartment, type Extension } from '@codemirror/state'
import { EditorView, ViewPlugin } from '@codemirror/view'
import { HighlightStyle, syntaxHighlighting } from '@codemirror/language'
import { tags } from '@lezer/highlight'
import { cssRgb, palette, readableTextOn } from '../collab/colours.js'

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
  // A remote cursor: a bar in its person's colour with a small flag on top; the name shows above the line
  // while they are active (see cursor-labels.ts) or under the pointer, then folds back into the flag.
  '.cm-ySelectionCaret': { borderLeftWidth: '2px', borderRightWidth: '0', marginLeft: '-1px', marginRight: '-1px' },
  '.cm-ySelectionCaretDot': {
    width: '7px',
    height: '7px',
    top: '-3px',
    left: '-2px',
    borderRadius: '1px 3px 3px 0',
    cursor: 'default'
  },
  '.cm-ySelectionInfo': {
    opacity: '0',
    top: '-1.55em',
    left: '-2px',
    padding: '0.1em 0.4em',
    borderRadius: '4px 4px 4px 0',
    fontFamily: 'var(--font-ui)',
    fontSize: '11px',
    fontWeight: '600',
    lineHeight: '1.4',
    pointerEvents: 'none',
    transition: 'opacity 0.2s ease-in-out'
  },
  // Names shown at once close together on a line are lifted one above the other (levels set by cursor-labels.ts).
  '.cm-ySelectionCaret[data-label-stack="1"] > .cm-ySelectionInfo': { transform: 'translateY(calc(-100% - 2px))' },
  '.cm-ySelectionCaret[data-label-stack="2"] > .cm-ySelectionInfo': { transform: 'translateY(calc(-200% - 4px))' },
  '.cm-ySelectionCaret[data-label-stack="3"] > .cm-ySelectionInfo': { transform: 'translateY(calc(-300% - 6px))' },
  // Where there is no room above (the first line), below the line instead.
  '.cm-ySelectionCaret[data-label-stack^="-"] > .cm-ySelectionInfo': { top: 'calc(100% + 2px)', borderRadius: '0 4px 4px 4px' },
  '.cm-ySelectionCaret[data-label-stack="-2"] > .cm-ySelectionInfo': { transform: 'translateY(calc(100% + 2px))' },
  '.cm-ySelectionCaret[data-label-stack="-3"] > .cm-ySelectionInfo': { transform: 'translateY(calc(200% + 4px))' },
  '.cm-ySelectionCaret[data-active] > .cm-ySelectionInfo, .cm-ySelectionCaret:hover > .cm-ySelectionInfo': { opacity: '1' },
  '@media (prefers-reduced-motion: reduce)': { '.cm-ySelectionInfo, .cm-ySelectionCaretDot': { transition: 'none' } }
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

/**
 * Each palette colour's remote cursors, labels and selections in the shade
 * of the page's scheme, with label text readable on it. The cursor widget
 * writes its person's colour (the light shade) into its style attribute,
 * which is what these rules match; a colour from outside the palette is
 * drawn as it is, with the widget's white label text.
 */
function personColours (): Extension {
  const scheme = (shade: 'light' | 'dark'): Record<string, Record<string, string>> => {
    const rules: Record<string, Record<string, string>> = {}
    for (const colour of palette) {
      // As the widget writes the colour, or as the browser writes it back once the style is touched.
      const matches = (selector: string, inside = ''): string => `${selector}[style*="${colour.light}" i]${inside}, ${selector}[style*="${cssRgb(colour.light)}"]${inside}`
      const background = colour[shade]
      rules[matches('.cm-ySelectionCaret')] = { backgroundColor: `${background} !important`, borderColor: `${background} !important` }
      rules[matches('.cm-ySelectionCaret', ' > .cm-ySelectionInfo')] = { color: readableTextOn(background) }
      if (shade === 'dark') rules[`${matches('.cm-ySelection')}, ${matches('.cm-yLineSelection')}`] = { backgroundColor: `${background}40 !important` }
    }
    return rules
  }
  return EditorView.theme({ ...scheme('light'), '@media (prefers-color-scheme: dark)': scheme('dark') })
}

const darkQuery = '(prefers-color-scheme: dark)'

/** Tells CodeMirror (its `darkTheme` facet, which its own panels and tooltips follow) whether the system is dark now, and again whenever that changes. */
function followSystemScheme (): Extension {
  const dark = new Compartment()
  const query = window.matchMedia(darkQuery)
  const follow = ViewPlugin.define((view) => {
    const change = (): void => view.dispatch({ effects: dark.reconfigure(EditorView.darkTheme.of(query.matches)) })
    query.addEventListener('change', change)
    return { destroy: () => query.removeEventListener('change', change) }
  })
  return [dark.of(EditorView.darkTheme.of(query.matches)), follow]
}

/** The editor's look; see the module comment. */
export function appearance (): Extension {
  return [theme, personColours(), followSystemScheme(), syntaxHighlighting(markdownStyle)]
}
