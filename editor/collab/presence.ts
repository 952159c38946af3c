/**
 * Who is in the document now, from the shared presence (awareness) states.
 * The `user` field of each state holds `{ name, color }`, which is also what
 * the editor's remote cursors read.
 */
import type { Awareness } from 'y-protocols/awareness'
import type { WebsocketProvider } from 'y-websocket'
import type { Identity } from './identity.js'

/** One person in the document. Two tabs of the same person are two entries. */
export interface Person {
  readonly clientId: number
  readonly name: string
  readonly color: string
  /** This page. */
  readonly self: boolean
}

/** Announces `identity` as this page's name and colour to everyone in the document. */
export function publishIdentity (awareness: Awareness, identity: Identity): void {
  awareness.setLocalStateField('user', { name: identity.name, color: identity.color })
}

/** Everyone with a name in `awareness`: this page first, then the others by name. */
export function peopleIn (awareness: Awareness): Person[] {
  const people: Person[] = []
  for (const [clientId, state] of awareness.getStates()) {
    const user: unknown = state.user
    if (typeof user !== 'object' || user === null) continue
    const { name, color } = user as Record<string, unknown>
    if (typeof name !== 'string' || typeof color !== 'string') continue
    people.push({ clientId, name, color, self: clientId === awareness.clientID })
  }
  return people.sort((a, b) => Number(b.self) - Number(a.self) || a.name.localeCompare(b.name) || a.clientId - b.clientId)
}

/**
 * Calls `onChange` with the people list now and whenever someone arrives,
 * leaves or changes name or colour. Cursor moves alone do not count.
 */
export function watchPeople (awareness: Awareness, onChange: (people: Person[]) => void): void {
  let last = ''
  const report = (): void => {
    const people = peopleIn(awareness)
    const key = JSON.stringify(people)
    if (key === last) return
    last = key
    onChange(people)
  }
  awareness.on('change', report)
  report()
}

/**
 * Makes everyone see this page again as soon as its provider reconnects,
 * and this page see everyone. When a connection ends, the relay announces
 * the departure at the leaver's last presence clock, and y-protocols ignores
 * a state at a clock it has already seen. So on each connect this page
 * republishes its own state under the next clock, and forgets the clocks of
 * the people it no longer sees (the provider dropped them when the socket
 * closed), so that their states in the relay's greeting count again.
 * Without this, either side reappears only with the other's next presence
 * renewal, up to 15 s later.
 */
export function reappearOnReconnect (provider: WebsocketProvider): void {
  const { awareness } = provider
  provider.on('status', ({ status }) => {
    if (status !== 'connected') return
    for (const clientId of [...awareness.meta.keys()]) {
      if (clientId !== awareness.clientID && !awareness.getStates().has(clientId)) awareness.meta.delete(clientId)
    }
    const state = awareness.getLocalState()
    if (state !== null) awareness.setLocalState({ ...state })
  })
}
