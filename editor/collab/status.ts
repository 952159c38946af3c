/**
 * The state of the link to the relay, as a person should read it.
 */
import { tokenExpiredCloseCode } from './access.js'
import type { ReconnectingProvider } from './reconnect.js'

/**
 * - `connecting`: no connection yet, or connected and still catching up;
 * - `connected`: the socket is open and the document is in sync;
 * - `offline`: the connection dropped or failed; the provider keeps retrying,
 *   next at `retryAt` (`Date.now()` time, in ms), or is trying right now
 *   (`retryAt` null);
 * - `closed`: the relay refused the document for good (`reason` says why); no retries.
 *
 * A connection the relay ends because its token expired (4401) is
 * `connecting`: `keepAccess` renews the token and connects again.
 */
export type ConnectionState =
  | { readonly kind: 'connecting' }
  | { readonly kind: 'connected' }
  | { readonly kind: 'offline', readonly retryAt: number | null }
  | { readonly kind: 'closed', readonly reason: string }

/**
 * Calls `onChange` with the connection state whenever it may have changed
 * (and once at once), deriving it from the socket itself
 * (`provider.wsconnected`, `provider.synced`, `provider.retryAt`) rather
 * than from the order of events.
 */
export function watchConnection (provider: ReconnectingProvider, onChange: (state: ConnectionState) => void): void {
  let dropped = false
  let refused: string | null = null
  const report = (): void => {
    if (refused !== null) onChange({ kind: 'closed', reason: refused })
    else if (provider.wsconnected) onChange({ kind: provider.synced ? 'connected' : 'connecting' })
    else onChange(dropped ? { kind: 'offline', retryAt: provider.retryAt } : { kind: 'connecting' })
  }
  const onStatus = ({ status }: { status: string }): void => {
    if (status === 'connected') {
      dropped = false
      refused = null
    }
    report()
  }
  const onClose = (event: CloseEvent | null): void => {
    dropped = event?.code !== tokenExpiredCloseCode
    report()
  }
  const onClosed = ({ code, reason }: { code: number, reason: string }): void => {
    if (code === tokenExpiredCloseCode) return
    refused = reason === '' ? 'The server closed this document.' : reason
    report()
  }
  provider.on('status', onStatus)
  provider.on('sync', report)
  provider.on('connection-close', onClose)
  provider.on('closed', onClosed)
  provider.onRetryChange(report)
  report()
}
