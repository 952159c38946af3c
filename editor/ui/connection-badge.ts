/**
 * The connection indicator in the header, and its "Retry now" button.
 */
import type { ConnectionState } from '../collab/status.js'

const labels: Record<Exclude<ConnectionState['kind'], 'closed'>, string> = {
  connecting: 'Connecting…',
  connected: 'Connected',
  offline: 'Offline'
}

/** How often the countdown to the next attempt is redrawn. */
const countdownTickMs = 1_000

/** Whole seconds (at least 1) from `now` until `at`, both in ms. */
function secondsUntil (at: number, now: number): number {
  return Math.max(1, Math.ceil((at - now) / 1_000))
}

/**
 * A connection state in words, as the badge shows it at `now` (ms, as
 * `Date.now()`): "Connected", "Offline — retrying in 7 s", "Disconnected:
 * document deleted"…
 */
export function connectionWords (state: ConnectionState, now: number): string {
  if (state.kind === 'closed') return `Disconnected: ${state.reason}`
  if (state.kind !== 'offline') return labels[state.kind]
  return labels.offline + (state.retryAt === null ? ' — reconnecting' : ` — retrying in ${secondsUntil(state.retryAt, now)} s`)
}

/**
 * Returns a function that shows a connection state in `badge`: its words
 * in the `.label` child, while offline when the next attempt comes in the
 * `.countdown` child ("— retrying in 7 s", redrawn every second, or "—
 * reconnecting" while an attempt is under way), its kind in `data-state`
 * (which the stylesheet colours) and the time of the next attempt in
 * `data-retry-at`. `retry` (a button) is shown while offline and calls
 * `onRetry` when pressed.
 */
export function connectionBadge (badge: HTMLElement, retry: HTMLButtonElement, onRetry: () => void): (state: ConnectionState) => void {
  const label = badge.querySelector('.label')
  const countdown = badge.querySelector('.countdown')
  let ticker: ReturnType<typeof setInterval> | undefined
  let shown: ConnectionState = { kind: 'connecting' }
  retry.addEventListener('click', () => onRetry())

  const render = (): void => {
    const state = shown
    const words = state.kind === 'closed' ? `Disconnected: ${state.reason}` : labels[state.kind]
    let after = ''
    if (state.kind === 'offline') after = state.retryAt === null ? ' — reconnecting' : ` — retrying in ${secondsUntil(state.retryAt, Date.now())} s`
    if (label) label.textContent = words
    if (countdown) countdown.textContent = after
    badge.title = words + after
  }

  return (state) => {
    shown = state
    badge.dataset.state = state.kind
    const retryAt = state.kind === 'offline' ? state.retryAt : null
    if (retryAt === null) delete badge.dataset.retryAt
    else badge.dataset.retryAt = String(retryAt)
    retry.hidden = state.kind !== 'offline'
    clearInterval(ticker)
    ticker = retryAt === null ? undefined : setInterval(render, countdownTickMs)
    render()
  }
}
