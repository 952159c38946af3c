/**
 * Plain editing behaviour for Markdown prose: no history of its own (undo
 * belongs to the collaboration extension), wrapped lines, search.
 */
import type { Extension } from '@codemirror/state'
import { EditorState, Prec } from '@codemirror/state'
import {
  EditorView, crosshairCursor, drawSelection, dropCursor, highlightActiveLine, highlightSpecialChars,
  keymap, placeholder, rectangularSelection
} from '@codemirror/view'
import { defaultKeymap, indentWithTab } from '@codemirror/commands'
import { LanguageSupport, bracketMatching, indentOnInput } from '@codemirror/language'
import { highlightSelectionMatches } from '@codemirror/search'
import { markdownLanguage, pasteURLAsLink } from '@codemirror/lang-markdown'
import { markdownEditingKeymap } from './markdown-commands.js'
import { findPanel } from './find-panel.js'

/**
 * GitHub-flavoured Markdown (Enter continues lists and quotes and leaves
 * them on an empty line, Mod-b bold, Mod-i italic, Mod-k link, a pasted
 * URL over a selection makes a link), line wrapping, multiple selections,
 * find and replace (Mod-f, Ctrl-h; see `findPanel`), Tab to indent (Escape
 * then Tab leaves the editor), and `emptyText` shown while the document is
 * empty.
 */
export function editing (emptyText: string): Extension {
  return [
    // Not `markdown()`: it always bundles HTML, CSS and JavaScript support for embedded tags, tripling the page's size.
    new LanguageSupport(markdownLanguage),
    Prec.high(keymap.of(markdownEditingKeymap)),
    pasteURLAsLink,
    EditorView.lineWrapping,
    EditorState.allowMultipleSelections.of(true),
    highlightSpecialChars(),
    drawSelection(),
    dropCursor(),
    rectangularSelection(),
    crosshairCursor(),
    highlightActiveLine(),
    indentOnInput(),
    bracketMatching(),
    findPanel(),
    highlightSelectionMatches(),
    placeholder(emptyText),
    EditorView.contentAttributes.of({ 'aria-label': 'Document text', spellcheck: 'true' }),
    keymap.of([...defaultKeymap, indentWithTab])
  ]
}
