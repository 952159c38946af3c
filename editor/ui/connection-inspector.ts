/**
 * The connection inspector: a side panel, opened from the connection badge,
 * that shows the link to the relay as it is (state, round trip,
 * reconnections), the messages and bytes each way by kind with a line on
 * what each kind does, and who is in the room. It teaches a curious person
 * how a keystroke travels. It redraws a few times a second, and only while
 * open.
 */
import type { Awareness } from 'y-protocols/awareness'
import type { ConnectionState } from '../collab/status.js'
import type { Heartbeat } from '../collab/heartbeat.js'
import type { Traffic, Tally } from '../collab/traffic.js'
import type { FrameKind } from '../collab/outgoing.js'
import { isAway } from '../collab/away.js'
import { connectionWords } from './connection-badge.js'
import './connection-inspector.css'

/** Where the inspector reads what it shows. */
export interface InspectorSources {
  readonly traffic: Traffic
  readonly heartbeat: Heartbeat
  readonly awareness: Awareness
  /** The connection state the badge shows now. */
  readonly connection: () => ConnectionState
}

/** A row of the message table: the kind it counts each way (null where that way carries none), and what it does. */
interface Row {
  readonly name: string
  readonly kind: string
  readonly sent: FrameKind | null
  readonly received: FrameKind | null
  readonly what: string
}

const rows: readonly Row[] = [
  {
    name: 'Sync step 1',
    kind: 'sync-step-1',
    sent: 'sync-step-1',
    received: 'sync-step-1',
    what: 'On connecting, each side sends a short summary of what it has (a state vector): “this is what I know, send me the rest.”'
  },
  {
    name: 'Sync step 2',
    kind: 'sync-step-2',
    sent: 'sync-step-2',
    received: 'sync-step-2',
    what: 'The answer to a step 1: every change the other side lacks. Edits made while offline travel in this one.'
  },
  {
    name: 'Update',
    kind: 'update',
    sent: 'update',
    received: 'update',
    what: 'Each keystroke, paste or deletion, as a small binary change. The server stores it and passes it on to everyone else.'
  },
  {
    name: 'Loading progress',
    kind: 'sync-progress',
    sent: null,
    received: 'sync-progress',
    what: 'Before a large document arrives in pieces, the server says how many and how big, so the page can show how far loading has come.'
  },
  {
    name: 'Presence',
    kind: 'awareness',
    sent: 'awareness',
    received: 'awareness',
    what: 'Names, colours and cursors of everyone here, renewed every 15 s. Never stored.'
  },
  {
    name: 'Saved',
    kind: 'saved',
    sent: null,
    received: 'saved',
    what: 'The server’s receipt: the changes you sent are stored durably. Only then does the badge say “Saved”.'
  },
  {
    name: 'Ping / pong',
    kind: 'ping',
    sent: 'ping',
    received: 'pong',
    what: 'After a few seconds of silence the page asks “still there?” and the server answers: a dead connection shows within seconds.'
  }
]

/** How often the open panel redraws, in ms. */
const redrawEveryMs = 400

/** `bytes` for people: "812 B", "14.2 kB", "3.1 MB". */
function formatBytes (bytes: number): string {
  if (bytes < 1_000) return `${bytes} B`
  if (bytes < 1_000_000) return `${(bytes / 1_000).toFixed(1)} kB`
  return `${(bytes / 1_000_000).toFixed(1)} MB`
}

/** Creates an element with a class and text. */
function make<K extends keyof HTMLElementTagNameMap> (tag: K, className = '', text = ''): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag)
  if (className !== '') element.className = className
  if (text !== '') element.textContent = text
  return element
}

/** A table cell whose text the redraw sets, marked for tests with `data-testid`. */
function cell (testId: string): HTMLTableCellElement {
  const td = make('td', 'number')
  td.dataset.testid = testId
  return td
}

/**
 * Builds the inspector in `panel` and makes `opener` (the connection badge's
 * button) open and close it. Escape or the close button closes it and gives
 * the focus back to `opener`.
 */
export function connectionInspector (panel: HTMLElement, opener: HTMLButtonElement, sources: InspectorSources): void {
  const { traffic, heartbeat, awareness } = sources
  panel.setAttribute('role', 'dialog')
  panel.setAttribute('aria-labelledby', 'inspector-title')
  opener.setAttribute('aria-controls', panel.id)
  opener.setAttribute('aria-expanded', 'false')

  const top = make('div', 'inspector-top')
  const title = make('h2', '', 'Connection')
  title.id = 'inspector-title'
  const close = make('button', 'inspector-close', 'Close')
  close.type = 'button'
  close.dataset.testid = 'inspector-close'
  top.append(title, close)

  const facts = make('dl', 'inspector-facts')
  const fact = (label: string, testId: string): HTMLElement => {
    const value = make('dd')
    value.dataset.testid = testId
    facts.append(make('dt', '', label), value)
    return value
  }
  const stateValue = fact('State', 'inspector-state')
  const rttValue = fact('Round trip', 'inspector-rtt')
  const reconnectsValue = fact('Reconnections', 'inspector-reconnects')

  const table = make('table', 'inspector-traffic')
  table.createCaption().textContent = 'Messages (and bytes) since this page opened'
  const head = table.createTHead().insertRow()
  for (const label of ['Kind', 'Sent', 'Received']) {
    const th = make('th', '', label)
    th.scope = 'col'
    head.append(th)
  }
  const body = table.createTBody()
  const cells = rows.map((row) => {
    const tr = body.insertRow()
    tr.dataset.kind = row.kind
    const th = make('th')
    th.scope = 'row'
    th.append(make('span', 'inspector-kind', row.name), make('span', 'inspector-what', row.what))
    const sent = cell('sent')
    const received = cell('received')
    tr.append(th, sent, received)
    return { row, sent, received }
  })

  const peopleTitle = make('h3', '', 'In the room')
  const people = make('ul', 'inspector-people')
  people.dataset.testid = 'inspector-people'
  const lesson = make('p', 'inspector-lesson',
    'A keystroke becomes an update of a few dozen bytes, sent at once; the server stores it, passes it to everyone in the room, ' +
    'and sends back a receipt. Offline, changes wait in this browser and travel in the next sync step 2.')
  panel.replaceChildren(top, facts, table, peopleTitle, people, lesson)

  const count = (tally: Tally | null): string => tally === null ? '—' : `${tally.messages} (${formatBytes(tally.bytes)})`
  let drawn = ''
  const redraw = (): void => {
    const now = Date.now()
    const state = connectionWords(sources.connection(), now)
    const rtt = heartbeat.roundTripMs
    const everyone = [...awareness.getStates()].map(([clientId, presence]) => {
      const user = presence.user as { name?: unknown } | undefined
      const name = typeof user?.name === 'string' ? user.name : 'Someone'
      const self = clientId === awareness.clientID
      const away = !self && isAway(presence, awareness.meta.get(clientId), now)
      return `${name}${self ? ' (you)' : ''}${away ? ' (away)' : ''}`
    })
    // Nothing changed since the last redraw: leave the DOM alone.
    const key = `${traffic.version}|${state}|${rtt}|${everyone.join('\n')}`
    if (key === drawn) return
    drawn = key
    stateValue.textContent = state
    rttValue.textContent = rtt === null ? 'not measured yet' : `${Math.round(rtt)} ms`
    reconnectsValue.textContent = String(traffic.reconnects)
    for (const { row, sent, received } of cells) {
      sent.textContent = count(row.sent === null ? null : traffic.sent[row.sent])
      received.textContent = count(row.received === null ? null : traffic.received[row.received])
    }
    people.replaceChildren(...everyone.map((line) => make('li', '', line)))
  }

  let ticker: ReturnType<typeof setInterval> | undefined
  const hide = (): void => {
    if (panel.hidden) return
    panel.hidden = true
    opener.setAttribute('aria-expanded', 'false')
    clearInterval(ticker)
    opener.focus()
  }
  const show = (): void => {
    panel.hidden = false
    opener.setAttribute('aria-expanded', 'true')
    drawn = ''
    redraw()
    ticker = setInterval(redraw, redrawEveryMs)
    close.focus()
  }
  opener.addEventListener('click', () => {
    if (panel.hidden) show()
    else hide()
  })
  close.addEventListener('click', hide)
  panel.addEventListener('keydown', (event) => {
    if (event.key !== 'Escape') return
    event.preventDefault()
    hide()
  })
}
