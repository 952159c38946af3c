/**
 * Who counts as away: by their own word (`user.away`), or because their
 * presence went unrenewed for longer than `staleAfterMs`.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import * as Y from 'yjs'
import { Awareness, applyAwarenessUpdate, encodeAwarenessUpdate } from 'y-protocols/awareness'
import { awayAfterMs, awayClients, isAway, publishAway, staleAfterMs, type PageSignals } from '../../editor/collab/away.js'

const now = 1_000_000

describe('isAway', () => {
  const ada = { user: { name: 'Ada', color: '#c2255c' } }

  it('trusts a person who says they are away, however fresh their presence', () => {
    expect(isAway({ user: { ...ada.user, away: true } }, { lastUpdated: now }, now)).toBe(true)
    expect(isAway({ user: { ...ada.user, away: 'yes' } }, { lastUpdated: now }, now)).toBe(false)
  })

  it('counts a presence unrenewed for longer than staleAfterMs as away, and not a moment before', () => {
    expect(isAway(ada, { lastUpdated: now - staleAfterMs }, now)).toBe(false)
    expect(isAway(ada, { lastUpdated: now - staleAfterMs - 1 }, now)).toBe(true)
    expect(staleAfterMs).toBeGreaterThan(15_000) // y-protocols renews every 15 s
  })

  it('judges a state without metadata, or without a user, by its own word only', () => {
    expect(isAway(ada, undefined, now)).toBe(false)
    expect(isAway({}, { lastUpdated: now }, now)).toBe(false)
    expect(isAway(undefined, undefined, now)).toBe(false)
  })
})

describe('awayClients', () => {
  it('lists the others whose presence is stale or who say so, never this page', () => {
    const mine = new Awareness(new Y.Doc())
    const fresh = new Awareness(new Y.Doc())
    const gone = new Awareness(new Y.Doc())
    const hidden = new Awareness(new Y.Doc())
    fresh.setLocalStateField('user', { name: 'Bob', color: '#1971c2' })
    gone.setLocalStateField('user', { name: 'Carol', color: '#2b8a3e' })
    hidden.setLocalStateField('user', { name: 'Dan', color: '#e8590c', away: true })
    mine.setLocalStateField('user', { name: 'Ada', color: '#c2255c', away: true })
    for (const other of [fresh, gone, hidden]) applyAwarenessUpdate(mine, encodeAwarenessUpdate(other, [other.clientID]), 'relay')
    const seen = Date.now()
    mine.meta.set(gone.clientID, { clock: 1, lastUpdated: seen - staleAfterMs - 1 })
    expect(awayClients(mine, seen)).toEqual(new Set([gone.clientID, hidden.clientID]))
    for (const a of [mine, fresh, gone, hidden]) a.destroy()
  })
})

describe('publishAway', () => {
  afterEach(() => { vi.useRealTimers() })

  it('publishes away once hidden for awayAfterMs, and back when shown, keeping the rest of `user`', () => {
    vi.useFakeTimers({ now })
    const awareness = new Awareness(new Y.Doc())
    awareness.setLocalStateField('user', { name: 'Ada', color: '#c2255c' })
    const page = fakePage()
    publishAway(awareness, page.window, () => false)
    page.setVisibility('hidden')
    vi.advanceTimersByTime(awayAfterMs - 5_000)
    expect(awareness.getLocalState()?.user).toEqual({ name: 'Ada', color: '#c2255c' })
    vi.advanceTimersByTime(5_000)
    expect(awareness.getLocalState()?.user).toEqual({ name: 'Ada', color: '#c2255c', away: true })
    page.setVisibility('visible')
    expect(awareness.getLocalState()?.user).toEqual({ name: 'Ada', color: '#c2255c' })
    awareness.destroy()
  })

  it('publishes away when offline without input, and back on the first key', () => {
    vi.useFakeTimers({ now })
    const awareness = new Awareness(new Y.Doc())
    awareness.setLocalStateField('user', { name: 'Ada', color: '#c2255c' })
    const page = fakePage()
    let offline = false
    publishAway(awareness, page.window, () => offline)
    vi.advanceTimersByTime(awayAfterMs)
    expect(awareness.getLocalState()?.user).toEqual({ name: 'Ada', color: '#c2255c' })
    offline = true
    vi.advanceTimersByTime(5_000)
    expect(awareness.getLocalState()?.user).toEqual({ name: 'Ada', color: '#c2255c', away: true })
    page.fire('keydown')
    expect(awareness.getLocalState()?.user).toEqual({ name: 'Ada', color: '#c2255c' })
    awareness.destroy()
  })
})

/** A window with just what `publishAway` uses. */
function fakePage (): { window: PageSignals, setVisibility: (state: 'visible' | 'hidden') => void, fire: (type: string) => void } {
  const listeners = new Map<string, () => void>()
  const document = {
    visibilityState: 'visible',
    addEventListener: (type: string, listener: () => void) => listeners.set(`document:${type}`, listener)
  }
  const window = { document, addEventListener: (type: string, listener: () => void) => listeners.set(type, listener) } as unknown as PageSignals
  return {
    window,
    setVisibility: (state) => { document.visibilityState = state; listeners.get('document:visibilitychange')?.() },
    fire: (type) => listeners.get(type)?.()
  }
}
