/**
 * What the save badge should say, from what the page knows: a pure choice,
 * kept apart from the badge that draws it.
 */
import type { SaveState } from './saved.js'

/**
 * What the badge shows:
 * - `saved`: the server has stored every change made here;
 * - `saving`: connected, some changes not confirmed yet;
 * - `on-device`: not connected; unconfirmed changes are kept in this
 *   browser (they survive a closed tab) and will reach the server;
 * - `waiting`: not connected; unconfirmed changes live in this tab only;
 * - `unsaved`: changes that are not stored never will be (the page stopped connecting);
 * - `loading`: before the first sync, when nothing can be called saved yet.
 */
export type SaveDisplay = SaveState | 'on-device' | 'waiting' | 'unsaved' | 'loading'

/** What the page knows that decides the display. */
export interface SaveFacts {
  /** Changes the server has not confirmed. */
  readonly pending: number
  /** The page has synced with the server at least once. */
  readonly loaded: boolean
  /** The page stopped connecting for good. */
  readonly stopped: boolean
  /** The connection is up and in sync. */
  readonly connected: boolean
  /** Changes are kept in the browser's storage too. */
  readonly keptOnDevice: boolean
}

/** The display for `facts` (see `SaveDisplay`). */
export function saveDisplay (facts: SaveFacts): SaveDisplay {
  if (facts.pending === 0) return facts.loaded ? 'saved' : 'loading'
  if (facts.stopped) return 'unsaved'
  if (facts.connected) return 'saving'
  return facts.keptOnDevice ? 'on-device' : 'waiting'
}
