/**
 * An editor that shows the document and follows others' edits but takes
 * no input of its own.
 */
import { EditorState, type Extension } from '@codemirror/state'
import { EditorView } from '@codemirror/view'

/**
 * Makes the editor read-only: no typing, pasting or dropping
 * (`EditorState.readOnly`), and no caret or on-screen keyboard
 * (`EditorView.editable` off). Remote edits still arrive.
 */
export function viewOnly (): Extension {
  return [EditorState.readOnly.of(true), EditorView.editable.of(false)]
}
