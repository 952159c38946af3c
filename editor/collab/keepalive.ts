/**
 * Keeps a quiet connection open. The provider drops any connection on which
 * nothing arrived for 30 s; a relay need not echo a person's own presence
 * back, so someone alone in a document could hear nothing. When the socket
 * has been silent for `idleMs`, this asks for everyone's presence
 * (query-awareness), which the relay always answers.
 */
import type { WebsocketProvider } from 'y-websocket'

/** Outer message type of a query-awareness request (y-protocols numbering). */
const messageQueryAwareness = 3

/**
 * Starts checking `provider`'s socket every `idleMs / 2` (default idle time
 * 10 s, well below the provider's 30 s limit), for the life of the page.
 */
export function keepAlive (provider: WebsocketProvider, idleMs = 10_000): void {
  setInterval(() => {
    const ws = provider.ws
    if (!provider.wsconnected || ws === null || ws.readyState !== ws.OPEN) return
    if (Date.now() - provider.wsLastMessageReceived < idleMs) return
    ws.send(Uint8Array.of(messageQueryAwareness))
  }, idleMs / 2)
}
