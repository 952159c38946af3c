/**
 * Shared editing: the editor shows and changes a `Y.Text`, draws everyone
 * else's cursor and selection with their name and colour, and undoes only
 * this page's own changes.
 */
import * as Y from 'yjs'
import type { Extension } from '@codemirror/state'
import { keymap } from '@codemirror/view'
import type { Awareness } from 'y-protocols/awareness'
import { yCollab, yUndoManagerKeymap } from 'y-codemirror.next'

/**
 * Binds the editor to `text` and publishes this page's cursor in
 * `awareness` (whose `user` field holds `{ name, color }`). Undo and redo
 * (Mod-z, Mod-y, Mod-Shift-z) go through `undoManager` (a `Y.UndoManager`
 * of `text`), which tracks only changes made in this editor, so they never
 * touch what others wrote.
 */
export function collaboration (text: Y.Text, awareness: Awareness, undoManager: Y.UndoManager = new Y.UndoManager(text)): Extension {
  return [
    keymap.of(yUndoManagerKeymap),
    yCollab(text, awareness, { undoManager })
  ]
}
