/**
 * Who is away: a person says so themselves (`away: true` in the `user`
 * field of their presence state, published by `publishAway`), or their
 * presence has gone unrenewed for longer than `staleAfterMs`. y-protocols
 * renews every page's presence every 15 s and drops a state 30 s after its
 * last renewal; a state between 20 and 30 s old belongs to a page that is
 * most likely gone or cut off.
 */
import type { Awareness } from 'y-protocols/awareness'

/** A presence state unrenewed for longer than this, in ms, counts as away (renewals come every 15 s). */
export const staleAfterMs = 20_000

/** Hidden (or offline without input) for this long, in ms, a page publishes itself as away. */
export const awayAfterMs = 60_000

/** How often `publishAway` and `watchAway` look at the clock, in ms. */
const checkEveryMs = 5_000

/** What `isAway` reads of a presence entry's metadata: when it was last renewed (`Date.now()` time, in ms). */
export interface PresenceMeta {
  readonly lastUpdated: number
}

/**
 * Whether the person behind presence `state` is away at `now` (ms, as
 * `Date.now()`): they published `user.away === true`, or `meta` (their
 * entry in `awareness.meta`) was last renewed more than `staleAfterMs` ago.
 * A state without metadata is judged by its own word only.
 */
export function isAway (state: Readonly<Record<string, unknown>> | undefined, meta: PresenceMeta | undefined, now: number): boolean {
  const user = state?.user
  if (typeof user === 'object' && user !== null && (user as Record<string, unknown>).away === true) return true
  return meta !== undefined && now - meta.lastUpdated > staleAfterMs
}

/** The client ids of everyone in `awareness` who is away at `now` (see `isAway`); never this page. */
export function awayClients (awareness: Awareness, now: number): Set<number> {
  const away = new Set<number>()
  for (const [clientId, state] of awareness.getStates()) {
    if (clientId !== awareness.clientID && isAway(state, awareness.meta.get(clientId), now)) away.add(clientId)
  }
  return away
}

/**
 * Calls `onChange` with the away client ids (see `awayClients`) now and
 * whenever the set changes: on presence changes, and as states go stale
 * (checked every few seconds, since staleness fires no event).
 */
export function watchAway (awareness: Awareness, onChange: (away: ReadonlySet<number>) => void): void {
  let last = ''
  const check = (): void => {
    const away = awayClients(awareness, Date.now())
    const key = [...away].sort((a, b) => a - b).join(',')
    if (key === last) return
    last = key
    onChange(away)
  }
  awareness.on('change', check)
  setInterval(check, checkEveryMs)
  check()
}

/** What `publishAway` needs of the page's window (the browser's `window` is one). */
export interface PageSignals {
  readonly document: {
    readonly visibilityState: string
    addEventListener (type: 'visibilitychange', listener: () => void): void
  }
  addEventListener (type: 'keydown' | 'pointerdown', listener: () => void, options: { capture: boolean, passive: boolean }): void
}

/**
 * Publishes this page as away (`away: true` inside its `user` presence
 * field) once it has been hidden for `awayAfterMs`, or offline
 * (`isOffline()`) with no key or pointer input for that long; and as back
 * (the field removed) on the first input or when shown again. Writes the
 * field only when it flips, and keeps it across a `user` field rewritten
 * meanwhile (a new name, say).
 */
export function publishAway (awareness: Awareness, page: PageSignals, isOffline: () => boolean): void {
  let hiddenSince: number | null = page.document.visibilityState === 'hidden' ? Date.now() : null
  let lastInput = Date.now()
  const update = (): void => {
    const now = Date.now()
    const away = (hiddenSince !== null && now - hiddenSince >= awayAfterMs) || (isOffline() && now - lastInput >= awayAfterMs)
    const user = awareness.getLocalState()?.user
    if (typeof user !== 'object' || user === null) return
    const published = (user as Record<string, unknown>).away === true
    if (away === published) return
    const { away: _was, ...rest } = user as Record<string, unknown>
    awareness.setLocalStateField('user', away ? { ...rest, away: true } : rest)
  }
  const onInput = (): void => {
    lastInput = Date.now()
    update()
  }
  page.addEventListener('keydown', onInput, { capture: true, passive: true })
  page.addEventListener('pointerdown', onInput, { capture: true, passive: true })
  page.document.addEventListener('visibilitychange', () => {
    hiddenSince = page.document.visibilityState === 'hidden' ? Date.now() : null
    update()
  })
  awareness.on('change', update)
  setInterval(update, checkEveryMs)
}
