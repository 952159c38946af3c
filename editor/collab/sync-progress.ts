/**
 * How far the first sync of a large document has come. A provider that
 * connects with `?progress=1` receives message type 101 right before a sync
 * answer that takes several messages: how many, and how many bytes they
 * take together. The page counts the bytes of the sync messages that follow
 * until the provider is synced.
 */
import * as decoding from 'lib0/decoding'
import type { WebsocketProvider } from 'y-websocket'
import { messageSync, messageSyncProgress, progressQueryParam } from '../../server/protocol/messages.js'

export { progressQueryParam }

/**
 * Calls `onProgress` with the share of the document loaded so far (0 to 1,
 * below 1 until synced) while a large document loads, and with null once
 * it has loaded, or when the connection closes before. A small document
 * (one message) reports nothing. Install it before the provider connects.
 */
export function trackSyncProgress (provider: WebsocketProvider, onProgress: (loaded: number | null) => void): void {
  let expected = 0
  let received = 0
  const finish = (): void => {
    if (expected === 0) return
    expected = 0
    onProgress(null)
  }
  provider.messageHandlers[messageSyncProgress] = (_encoder, decoder, _provider, fromRelay) => {
    // Other tabs of this browser relay their messages too (`fromRelay` false): only the relay's count.
    if (!fromRelay || provider.synced) return
    decoding.readVarUint(decoder)
    expected = Math.max(1, decoding.readVarUint(decoder))
    received = 0
    onProgress(0)
  }
  const handleSync = provider.messageHandlers[messageSync]
  provider.messageHandlers[messageSync] = (encoder, decoder, handler, fromRelay, messageType) => {
    if (expected > 0 && fromRelay) {
      // Edits others make meanwhile count too: the share stays below 1 until synced.
      received += decoder.arr.length
      onProgress(Math.min(received / expected, 0.99))
    }
    handleSync(encoder, decoder, handler, fromRelay, messageType)
  }
  provider.on('sync', (synced: boolean) => { if (synced) finish() })
  provider.on('connection-close', finish)
}
