/**
 * Undo steps for deliberate edits: a formatting command or a replacement
 * is undone on its own, never together with the typing just before or
 * after it, which `Y.UndoManager` merges when it comes within its capture
 * timeout (half a second).
 */
import type * as Y from 'yjs'
import { EditorState, type Extension, type Transaction } from '@codemirror/state'
import { EditorView } from '@codemirror/view'

/** Whether `tr` is a formatting command (`input.format`) or a find-panel replacement (`input.replace`). */
function deliberate (tr: Transaction): boolean {
  return tr.isUserEvent('input.format') || tr.isUserEvent('input.replace')
}

/**
 * Makes each formatting or replacing transaction one step of its own in
 * `undoManager` (the editor's `Y.UndoManager`): capturing stops when the
 * transaction is made, before it reaches the shared text, and again once
 * it has.
 */
export function separateUndoSteps (undoManager: Y.UndoManager): Extension {
  return [
    EditorState.transactionExtender.of((tr) => {
      if (deliberate(tr)) undoManager.stopCapturing()
      return null
    }),
    EditorView.updateListener.of((update) => {
      if (update.transactions.some(deliberate)) undoManager.stopCapturing()
    })
  ]
}
