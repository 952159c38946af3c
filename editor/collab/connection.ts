/**
 * One shared document and its link to the relay.
 */
import * as Y from 'yjs'
import type { Awareness } from 'y-protocols/awareness'
import { savedQueryParam } from './saved.js'
import { progressQueryParam } from './sync-progress.js'
import { tokenQueryParam } from './access.js'
import { OutgoingFrames } from './outgoing.js'
import { reconnectsAfter } from './refusal.js'
import { ReconnectingProvider } from './reconnect.js'

/** The name of the shared text in every document; the relay and its export use the same. */
export const textName = 'text'

/** A document, its text, and the provider that syncs it. */
export interface SharedDocument {
  readonly doc: Y.Doc
  readonly text: Y.Text
  readonly provider: ReconnectingProvider
  /** Presence (names, colours, cursors) of everyone in the document, this page included. */
  readonly awareness: Awareness
  /** Every frame the provider's sockets send. */
  readonly outgoing: OutgoingFrames
}

/**
 * The relay's WebSocket URL for a page at `location`: the same host, with
 * `wss:` on https pages and `ws:` otherwise.
 */
export function relayUrl (location: Pick<Location, 'protocol' | 'host'>): string {
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}`
}

/** How a page joins a document. */
export interface JoinOptions {
  /** The access token to connect with; null where the relay runs open. */
  readonly token: string | null
  /** Whether to ask for saved confirmations; pointless for a page that cannot edit. */
  readonly wantsSaved: boolean
}

/**
 * Creates the document `name` and a provider for it on the relay at
 * `serverUrl`. The provider does not connect until `provider.connect()`, so
 * that every listener can be in place before the first message arrives. It
 * does not reconnect after a refusal that connecting again cannot change
 * (see `reconnectsAfter`); after other closes it reconnects with jittered
 * backoff (see `ReconnectingProvider`).
 */
export function openDocument (name: string, serverUrl: string, options: JoinOptions): SharedDocument {
  const doc = new Y.Doc()
  const params: Record<string, string> = {}
  if (options.token !== null) params[tokenQueryParam] = options.token
  if (options.wantsSaved) params[savedQueryParam] = '1'
  params[progressQueryParam] = '1'
  // The provider puts the room into the URL path as it is; the relay decodes it.
  const outgoing = new OutgoingFrames()
  const provider = new ReconnectingProvider(serverUrl, encodeURIComponent(name), doc, {
    connect: false,
    params,
    WebSocketPolyfill: outgoing.socketClass(WebSocket),
    shouldReconnect: reconnectsAfter,
    // Each tab speaks only for itself. Over a BroadcastChannel, tabs of one browser would pass each
    // other's presence on to the relay, which gives an id to the first connection that presents it:
    // a closed tab would then linger for the others until its presence timed out, 30 s later.
    disableBc: true
  })
  return { doc, text: doc.getText(textName), provider, awareness: provider.awareness, outgoing }
}
