/**
 * The saved indicator in the header.
 */
import type { SaveState } from '../collab/saved.js'

/**
 * What the badge shows: a save state, `unsaved` once changes that are not
 * stored never will be (the page stopped connecting), or `loading` before
 * the first sync, when nothing can be called saved yet.
 */
export type SaveDisplay = SaveState | 'unsaved' | 'loading'

const words: Record<SaveDisplay, { readonly text: string, readonly title: string }> = {
  saved: { text: 'Saved', title: 'Every change you made is stored on the server' },
  saving: { text: 'Saving…', title: 'Some of your changes are not stored on the server yet' },
  unsaved: { text: 'Not saved', title: 'Some of your changes are not stored on the server, and will not be' },
  loading: { text: 'Loading…', title: 'The document is still loading from the server' }
}

/**
 * Shortest time "Saving…" stays up once shown. Confirmations arrive within
 * milliseconds of each keystroke; without a hold the badge would flicker
 * while someone types. Holding errs on the safe side: it may say "Saving…"
 * a moment longer than needed, never "Saved" too early.
 */
const minSavingMs = 600

/**
 * Returns a function that shows what to say in `badge` as "Saved",
 * "Saving…" or "Not saved" (and in its `data-state`): "Saving…" and "Not
 * saved" at once, "Saved" once the state is saved and "Saving…" has been up
 * for `minSavingMs`.
 */
export function savedBadge (badge: HTMLElement): (state: SaveDisplay) => void {
  let savingSince = 0
  let timer: ReturnType<typeof setTimeout> | undefined
  const render = (state: SaveDisplay): void => {
    badge.dataset.state = state
    badge.textContent = words[state].text
    badge.title = words[state].title
  }
  return (state) => {
    clearTimeout(timer)
    if (state !== 'saved') {
      if (badge.dataset.state === 'saved') savingSince = Date.now()
      render(state)
      return
    }
    const holdMs = savingSince + minSavingMs - Date.now()
    if (holdMs <= 0) render('saved')
    else timer = setTimeout(() => render('saved'), holdMs)
  }
}
