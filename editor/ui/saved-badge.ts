/**
 * The saved indicator in the header.
 */
import type { SaveState } from '../collab/saved.js'

/**
 * Shortest time "Saving…" stays up once shown. Confirmations arrive within
 * milliseconds of each keystroke; without a hold the badge would flicker
 * while someone types. Holding errs on the safe side: it may say "Saving…"
 * a moment longer than needed, never "Saved" too early.
 */
const minSavingMs = 600

/**
 * Returns a function that shows a save state in `badge` as "Saved" or
 * "Saving…" (and in its `data-state`): "Saving…" at once, "Saved" once the
 * state is saved and "Saving…" has been up for `minSavingMs`.
 */
export function savedBadge (badge: HTMLElement): (state: SaveState) => void {
  let savingSince = 0
  let timer: ReturnType<typeof setTimeout> | undefined
  const render = (state: SaveState): void => {
    badge.dataset.state = state
    badge.textContent = state === 'saved' ? 'Saved' : 'Saving…'
    badge.title = state === 'saved' ? 'Every change you made is stored on the server' : 'Some of your changes are not stored on the server yet'
  }
  return (state) => {
    clearTimeout(timer)
    if (state === 'saving') {
      if (badge.dataset.state !== 'saving') savingSince = Date.now()
      render('saving')
      return
    }
    const holdMs = savingSince + minSavingMs - Date.now()
    if (holdMs <= 0) render('saved')
    else timer = setTimeout(() => render('saved'), holdMs)
  }
}
