/**
 * Refusals after which connecting again cannot help: the relay ends the
 * connection with a close code that says what it will not take, and the
 * page stops and tells the person instead of trying again.
 */
import type { WebsocketProvider } from 'y-websocket'

/**
 * - `too-large`: the change would take the document past its size budget,
 *   or a message was larger than the relay reads;
 * - `content-refused`: the change holds content this relay does not accept;
 * - `unavailable`: the document's stored data cannot be read;
 * - `deleted`: the document was deleted (an operator can restore it for a while).
 */
export type Refusal = 'too-large' | 'content-refused' | 'unavailable' | 'deleted'

/** The close codes that mean a refusal, and which. */
const refusalCloseCodes: Readonly<Record<number, Refusal>> = {
  /** The edit would take the document past a size budget, or a presence state is too large. */
  4413: 'too-large',
  /** A message exceeded the relay's largest message: sent again, it would be again. */
  1009: 'too-large',
  /** Content the relay's content policy does not accept. */
  4422: 'content-refused',
  /** The document's stored data is damaged. */
  4410: 'unavailable',
  /** The document was deleted. */
  4404: 'deleted'
}

/** The refusal close code `code` means, or null for any other close. */
export function refusalOf (code: number): Refusal | null {
  return refusalCloseCodes[code] ?? null
}

/**
 * Whether the provider should connect again after the relay closed with
 * `event.code`: the stock rule (never after 4400–4499, where the relay
 * decided for good), and never after 1009 either, since the page would send
 * the same too-large state again, about five times a second, forever.
 */
export function reconnectsAfter (event: { readonly code: number }): boolean {
  return !(event.code >= 4400 && event.code < 4500) && event.code !== 1009
}

/**
 * Calls `onRefused` once, when the relay closes `provider`'s connection
 * with a refusal; the provider has stopped connecting by then.
 */
export function watchRefusal (provider: WebsocketProvider, onRefused: (refusal: Refusal) => void): void {
  let refused = false
  provider.on('closed', ({ code }) => {
    const refusal = refusalOf(code)
    if (refusal === null || refused) return
    refused = true
    onRefused(refusal)
  })
}
