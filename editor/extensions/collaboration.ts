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
 * (Mod-z, Mod-y, Mod-Shift-z) go through a `Y.UndoManager` that tracks only
 * changes typed here, so they never touch what others wrote.
 */
export function collaboration (text: Y.Text, awareness: Awareness): Extension {
  return [
    keymap.of(yUndoManagerKeymap),
    yCollab(text, awareness, { undoManager: new Y.UndoManager(text) })
  ]
}
