/**
 * The connection indicator in the header.
 */
import type { ConnectionState } from '../collab/status.js'

const labels: Record<Exclude<ConnectionState['kind'], 'closed'>, string> = {
  connecting: 'Connecting…',
  connected: 'Connected',
  offline: 'Offline — reconnecting'
}

/**
 * Shows `state` in `badge`: its words in the `.label` child, its kind in
 * `data-state` (which the stylesheet colours).
 */
export function showConnection (badge: HTMLElement, state: ConnectionState): void {
  const text = state.kind === 'closed' ? `Disconnected: ${state.reason}` : labels[state.kind]
  badge.dataset.state = state.kind
  badge.title = text
  const label = badge.querySelector('.label')
  if (label) label.textContent = text
}
