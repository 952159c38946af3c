/**
 * An editor that shows the document and follows others' edits but takes
 * no input of its own, while its reader can still select, copy and search.
 */
import { EditorState, Prec, type Extension } from '@codemirror/state'
import { EditorView, keymap } from '@codemirror/view'

/** Does nothing, and says the key is handled: nothing here is the reader's to undo. */
const ignore = (): boolean => true

/**
 * Makes the editor read-only: no typing, pasting or dropping
 * (`EditorState.readOnly`), and no caret or on-screen keyboard
 * (`EditorView.editable` off). Remote edits still arrive. The text stays
 * focusable (`tabindex`), so keys reach the editor: Mod-f opens the find
 * panel. Undo and redo keys do nothing: the undo manager does not look at
 * `readOnly`, and after access is lost it may still hold this page's own
 * earlier edits.
 */
export function viewOnly (): Extension {
  return [
    EditorState.readOnly.of(true),
    EditorView.editable.of(false),
    EditorView.contentAttributes.of({ tabindex: '0' }),
    Prec.highest(keymap.of([
      { key: 'Mod-z', run: ignore, preventDefault: true },
      { key: 'Mod-y', run: ignore, preventDefault: true },
      { key: 'Mod-Shift-z', run: ignore, preventDefault: true }
    ]))
  ]
}
