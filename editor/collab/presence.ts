/**
 * Who is in the document now, from the shared presence (awareness) states.
 * The `user` field of each state holds `{ name, color }`, which is also what
 * the editor's remote cursors read, and from this editor also `id` (the
 * person's per-browser id), `chosenColor` (the colour they chose), `since`
 * (when the page opened, ms) and `away`. A person counts as away when
 * every page of theirs says so or has gone silent (`isAway`).
 * `color` is the colour shown: the chosen one unless someone present
 * earlier has it (see `assignColours`).
 */
import type { Awareness } from 'y-protocols/awareness'
import type { WebsocketProvider } from 'y-websocket'
import type { Identity } from './identity.js'
import { assignColours, type ColourClaim } from './colours.js'
import { isAway, watchAway } from './away.js'

/** One person in the document; their pages (tabs) count once. */
export interface Person {
  /** Their per-browser id; `page:<clientId>` for an editor that publishes none. */
  readonly id: string
  /** The presence id of one of their pages: this page's, if it is theirs. */
  readonly clientId: number
  readonly name: string
  readonly color: string
  /** This page is one of theirs. */
  readonly self: boolean
  /** Every page of theirs says `user.away === true`. */
  readonly away: boolean
  /** How many pages (tabs) of theirs are present. */
  readonly pages: number
}

type UserFields = Record<string, unknown>

/** The `user` field of a presence state, or null when it has no name and colour. */
function userOf (state: Record<string, unknown> | null | undefined): UserFields | null {
  const user: unknown = state?.user
  if (typeof user !== 'object' || user === null) return null
  const fields = user as UserFields
  return typeof fields.name === 'string' && typeof fields.color === 'string' ? fields : null
}

/** The person id of the page `clientId` publishing `user`. */
function personIdOf (clientId: number, user: UserFields): string {
  return typeof user.id === 'string' && user.id !== '' ? user.id : `page:${clientId}`
}

/** What the distinct colour rule takes from the page `clientId` publishing `user`. */
function claimOf (clientId: number, user: UserFields): ColourClaim {
  const follows = typeof user.chosenColor === 'string' && typeof user.id === 'string' && typeof user.since === 'number'
  return {
    clientId,
    personId: personIdOf(clientId, user),
    chosen: follows ? user.chosenColor as string : user.color as string,
    since: follows ? user.since as number : 0,
    fixed: !follows
  }
}

/** The colour this page should show with `own` as its `user` field, given everyone else present. */
function distinctColour (awareness: Awareness, own: UserFields): string {
  const claims: ColourClaim[] = []
  for (const [clientId, state] of awareness.getStates()) {
    const user = clientId === awareness.clientID ? own : userOf(state)
    if (user) claims.push(claimOf(clientId, user))
  }
  if (!awareness.getStates().has(awareness.clientID)) claims.push(claimOf(awareness.clientID, own))
  return assignColours(claims).get(personIdOf(awareness.clientID, own)) ?? own.chosenColor as string
}

/**
 * Announces `identity` as this page's name and chosen colour to everyone in
 * the document, as the person `personId`, shown in the colour the distinct
 * rule gives them. Other fields of `user` (such as `away`) are kept.
 */
export function publishIdentity (awareness: Awareness, identity: Identity, personId: string): void {
  const before = userOf(awareness.getLocalState()) ?? {}
  const user: UserFields = {
    ...before,
    name: identity.name,
    chosenColor: identity.color,
    id: personId,
    since: typeof before.since === 'number' ? before.since : Date.now()
  }
  awareness.setLocalStateField('user', { ...user, color: distinctColour(awareness, user) })
}

/**
 * Keeps the colour this page shows distinct from everyone present: when
 * someone who was there first has this page's chosen colour, it shows the
 * first palette colour nobody before it has, and goes back to the chosen
 * one when it is free. The chosen colour stays what it is.
 */
export function keepColourDistinct (awareness: Awareness): void {
  awareness.on('change', () => {
    const own = userOf(awareness.getLocalState())
    if (!own || typeof own.chosenColor !== 'string') return
    const color = distinctColour(awareness, own)
    if (color !== own.color) awareness.setLocalStateField('user', { ...own, color })
  })
}

/** Everyone with a name in `awareness`, each person once: this page's person first, then the others by name. */
export function peopleIn (awareness: Awareness): Person[] {
  const pages = new Map<string, Array<{ clientId: number, user: UserFields, away: boolean }>>()
  const now = Date.now()
  for (const [clientId, state] of awareness.getStates()) {
    const user = userOf(state)
    if (!user) continue
    const id = personIdOf(clientId, user)
    // This page is never stale to itself; others are away by their word or by silence.
    const away = clientId === awareness.clientID ? user.away === true : isAway(state, awareness.meta.get(clientId), now)
    pages.set(id, [...pages.get(id) ?? [], { clientId, user, away }])
  }
  const people = [...pages].map(([id, theirs]): Person => {
    // This page speaks for its person; otherwise their earliest page does.
    const own = theirs.find((page) => page.clientId === awareness.clientID)
    const shown = own ?? theirs.reduce((a, b) => claimOf(a.clientId, a.user).since <= claimOf(b.clientId, b.user).since ? a : b)
    return {
      id,
      clientId: shown.clientId,
      name: shown.user.name as string,
      color: shown.user.color as string,
      self: own !== undefined,
      away: theirs.every((page) => page.away),
      pages: theirs.length
    }
  })
  return people.sort((a, b) => Number(b.self) - Number(a.self) || a.name.localeCompare(b.name) || a.clientId - b.clientId)
}

/**
 * Calls `onChange` with the people list now and whenever someone arrives,
 * leaves, goes away or comes back, or changes name or colour. Cursor moves
 * alone do not count.
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
  // Presence that goes unrenewed fires no event: the away rule is checked on a clock too.
  watchAway(awareness, report)
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
