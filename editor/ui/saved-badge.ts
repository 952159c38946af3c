/**
 * The saved indicator in the header.
 */
import type { SaveState } from '../collab/saved.js'

/** Shows `state` in `badge` as "Saved" or "Saving…", and in its `data-state`. */
export function showSaveState (badge: HTMLElement, state: SaveState): void {
  badge.dataset.state = state
  badge.textContent = state === 'saved' ? 'Saved' : 'Saving…'
  badge.title = state === 'saved' ? 'Every change you made is stored on the server' : 'Some of your changes are not stored on the server yet'
}
