/**
 * The saved indicator in the header, and a polite live region that tells
 * screen-reader users when their changes stop or start reaching the server
 * (not on every keystroke).
 */
import type { SaveDisplay } from '../collab/save-display.js'
import './saved-badge.css'

/** "1 change", "3 changes". */
function changes (count: number): string {
  return count === 1 ? '1 change' : `${count} changes`
}

/** The words of each display, given the number of unconfirmed changes. */
const words: Record<SaveDisplay, (pending: number) => { readonly text: string, readonly title: string }> = {
  saved: () => ({ text: 'Saved', title: 'Every change you made is stored on the server' }),
  saving: () => ({ text: 'Saving…', title: 'Some of your changes are not stored on the server yet' }),
  'on-device': (pending) => ({
    text: `${changes(pending)} saved on this device · waiting for the server`,
    title: 'Your changes are kept in this browser, even if you close the tab, and will sync when you\'re back online'
  }),
  waiting: (pending) => ({
    text: `${changes(pending)} will sync when you're back`,
    title: 'Your changes are in this tab only: keep it open until they reach the server'
  }),
  unsaved: () => ({ text: 'Not saved', title: 'Some of your changes are not stored on the server, and will not be' }),
  loading: () => ({ text: 'Loading…', title: 'The document is still loading from the server' })
}

/**
 * What the live region says when the display becomes `display`, or null to
 * stay quiet: only when changes stop reaching the server, when they reach
 * it again after that, and when they will never reach it. The flicker
 * between saving and saved while someone types is never announced.
 */
function announcement (display: SaveDisplay, wasCutOff: boolean): string | null {
  switch (display) {
    case 'on-device': return 'Offline. Your changes are saved on this device and will sync when you\'re back.'
    case 'waiting': return 'Offline. Your changes will sync when you\'re back; keep this tab open.'
    case 'unsaved': return 'Your latest changes could not be saved.'
    case 'saved': return wasCutOff ? 'Back online. All your changes are saved.' : null
    default: return null
  }
}

/**
 * Shortest time "Saving…" stays up once shown. Confirmations arrive within
 * milliseconds of each keystroke; without a hold the badge would flicker
 * while someone types. Holding errs on the safe side: it may say "Saving…"
 * a moment longer than needed, never "Saved" too early.
 */
const minSavingMs = 600

/**
 * Returns a function that shows a display and the number of unconfirmed
 * changes in `badge` (its words, and the display in `data-state` and the
 * count in `data-pending`): anything but "Saved" at once, "Saved" once
 * "Saving…" has been up for `minSavingMs`. Adds a visually hidden polite
 * live region (`data-testid="save-announcer"`) after the badge, and says
 * there what `announcement` says.
 */
export function savedBadge (badge: HTMLElement): (display: SaveDisplay, pending: number) => void {
  const live = document.createElement('span')
  live.className = 'visually-hidden'
  live.setAttribute('aria-live', 'polite')
  live.dataset.testid = 'save-announcer'
  badge.after(live)
  let savingSince = 0
  let timer: ReturnType<typeof setTimeout> | undefined
  let cutOff = false
  const render = (display: SaveDisplay, pending: number): void => {
    const changed = badge.dataset.state !== display
    badge.dataset.state = display
    badge.dataset.pending = String(pending)
    const { text, title } = words[display](pending)
    badge.textContent = text
    badge.title = title
    if (!changed) return
    const said = announcement(display, cutOff)
    if (display === 'on-device' || display === 'waiting' || display === 'unsaved') cutOff = true
    else if (display === 'saved') cutOff = false
    if (said !== null) live.textContent = said
  }
  return (display, pending) => {
    clearTimeout(timer)
    if (display !== 'saved') {
      if (badge.dataset.state === 'saved') savingSince = Date.now()
      render(display, pending)
      return
    }
    const holdMs = savingSince + minSavingMs - Date.now()
    if (holdMs <= 0) render('saved', 0)
    else timer = setTimeout(() => render('saved', 0), holdMs)
  }
}
