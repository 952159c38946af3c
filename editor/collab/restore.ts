/**
 * Restoring a version from the page: the text becomes the version's through
 * one edit of the editor, which y-codemirror applies to the shared Y.Text in
 * a transaction of its own origin. That is the origin the page's
 * `Y.UndoManager` tracks, so the person who restored takes it back with
 * their undo (Ctrl+Z), like anything they typed, and everyone else sees it
 * arrive as a normal edit. (Restoring through the API instead would be an
 * edit of the server's, which no page's undo can take back.)
 */
import type * as Y from 'yjs'
import type { EditorView } from '@codemirror/view'
import { minimalTextEdit } from '../../server/rooms/text-edit.js'

/**
 * Makes `view`'s document `text` as one undo step of `undoManager`: the
 * common start and end stay, so others' cursors there keep their place.
 */
export function restoreText (view: EditorView, undoManager: Y.UndoManager, text: string): void {
  const edit = minimalTextEdit(view.state.doc.toString(), text)
  if (!edit) return
  // Its own step: not merged with what was typed just before or after.
  undoManager.stopCapturing()
  view.dispatch({ changes: { from: edit.index, to: edit.index + edit.deleteCount, insert: edit.insert }, userEvent: 'input.restore' })
  undoManager.stopCapturing()
}
