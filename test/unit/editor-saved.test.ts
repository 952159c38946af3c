/**
 * The editor's saved indicator without a browser: the ledger on its own,
 * then the stock `WebsocketProvider` over fake sockets to a fake relay that
 * keeps the saved-confirmation contract (one confirmation per document
 * frame, with the count of frames handled, delivered only when the test
 * says the writes are durable).
 */
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import * as syncProtocol from 'y-protocols/sync'
import { WebsocketProvider } from 'y-websocket'
import { SaveLedger, trackSaved, type SaveState } from '../../editor/collab/saved.js'
import { OutgoingFrames, frameKind } from '../../editor/collab/outgoing.js'
import { encodeSaved, encodeSyncStep1, encodeSyncStep2 } from '../../server/protocol/messages.js'

describe('frameKind', () => {
  it('names y-websocket frames by outer type and sync sub-type', () => {
    const sync = (subtype: number): Uint8Array => Uint8Array.of(0, subtype, 0)
    expect(frameKind(sync(0))).toBe('sync-step-1')
    expect(frameKind(sync(1))).toBe('sync-step-2')
    expect(frameKind(sync(2).buffer)).toBe('update')
    expect(frameKind(Uint8Array.of(1, 0))).toBe('awareness')
    expect(frameKind(Uint8Array.of(3))).toBe('query-awareness')
    expect(frameKind(Uint8Array.of(0, 9))).toBe('other')
    expect(frameKind(new Uint8Array())).toBe('other')
    expect(frameKind('text')).toBe('other')
  })
})

describe('SaveLedger', () => {
  const first = {}
  const second = {}

  it('is saved once the update frame carrying the last change is confirmed on its socket', () => {
    const ledger = new SaveLedger()
    expect(ledger.state).toBe('saved')
    ledger.frameSent(first, 'sync-step-1')
    ledger.frameSent(first, 'sync-step-2') // frame 1: nothing of ours yet
    ledger.frameSent(first, 'update') // frame 2
    ledger.changed()
    ledger.frameSent(first, 'awareness')
    ledger.frameSent(first, 'update') // frame 3
    ledger.changed()
    expect(ledger.state).toBe('saving')
    ledger.confirmed(first, 2)
    expect(ledger.state).toBe('saving')
    ledger.confirmed(second, 3)
    expect(ledger.state).toBe('saving')
    ledger.confirmed(first, 3)
    expect(ledger.state).toBe('saved')
  })

  it('waits for the next sync step 2 after a change no frame carried', () => {
    const ledger = new SaveLedger()
    ledger.changed() // made while offline
    expect(ledger.state).toBe('saving')
    ledger.frameSent(first, 'sync-step-1')
    // Sent on the new socket before the relay asked for our state: it carries only its own change.
    ledger.frameSent(first, 'update')
    ledger.changed()
    ledger.confirmed(first, 1)
    expect(ledger.state).toBe('saving')
    ledger.frameSent(first, 'sync-step-2')
    ledger.confirmed(first, 2)
    expect(ledger.state).toBe('saved')
  })

  it('sends what a socket left unconfirmed in the next socket’s sync step 2', () => {
    const ledger = new SaveLedger()
    ledger.frameSent(first, 'update')
    ledger.changed()
    ledger.closed(first)
    ledger.confirmed(first, 1) // too late: the socket is gone
    expect(ledger.state).toBe('saving')
    ledger.frameSent(second, 'sync-step-2')
    expect(ledger.state).toBe('saving')
    ledger.confirmed(second, 1)
    expect(ledger.state).toBe('saved')
    // A socket that closes with nothing awaited changes nothing.
    ledger.closed(second)
    expect(ledger.state).toBe('saved')
  })
})

/** A socket the test drives: it records what the page sends and delivers what the fake relay answers. */
class FakeSocket {
  static readonly made: FakeSocket[] = []
  readonly CONNECTING = 0
  readonly OPEN = 1
  readonly CLOSING = 2
  readonly CLOSED = 3
  readyState = 0
  binaryType = 'blob'
  readonly sent: Uint8Array[] = []
  onopen: (() => void) | null = null
  onmessage: ((event: { data: ArrayBuffer }) => void) | null = null
  onclose: ((event: { code: number, reason: string }) => void) | null = null
  onerror: (() => void) | null = null

  constructor (readonly url: string) {
    FakeSocket.made.push(this)
  }

  send (data: never): void {
    if (this.readyState !== this.OPEN) throw new Error('not open')
    this.sent.push(new Uint8Array(data as Uint8Array))
  }

  close (): void {
    this.readyState = this.CLOSED
  }

  open (): void {
    this.readyState = this.OPEN
    this.onopen?.()
  }

  deliver (bytes: Uint8Array): void {
    this.onmessage?.({ data: bytes.slice().buffer })
  }

  closeFromRelay (code: number): void {
    this.readyState = this.CLOSED
    this.onclose?.({ code, reason: '' })
  }
}

/**
 * The relay's side of one document, as the saved contract asks: it applies
 * every document frame at once, and holds the confirmation of each until
 * `flush()` (the writes are durable then).
 */
class FakeRelay {
  readonly doc = new Y.Doc()
  private readonly handled = new Map<FakeSocket, number>()
  private readonly read = new Map<FakeSocket, number>()
  private held: Array<() => void> = []

  /** Opens `socket`, sends sync step 1 and the join confirmation. */
  accept (socket: FakeSocket): void {
    socket.open()
    this.handled.set(socket, 0)
    this.read.set(socket, 0)
    socket.deliver(encodeSyncStep1(Y.encodeStateVector(this.doc)))
    socket.deliver(encodeSaved(Y.encodeStateVector(this.doc), 0))
  }

  /** Handles what `socket` sent since the last call. */
  handle (socket: FakeSocket): void {
    const start = this.read.get(socket) ?? 0
    for (const frame of socket.sent.slice(start)) {
      const decoder = decoding.createDecoder(frame)
      if (decoding.readVarUint(decoder) !== 0) continue
      const subtype = decoding.readVarUint(decoder)
      const payload = decoding.readVarUint8Array(decoder)
      if (subtype === syncProtocol.messageYjsSyncStep1) {
        socket.deliver(encodeSyncStep2(Y.encodeStateAsUpdate(this.doc, payload)))
        continue
      }
      Y.applyUpdate(this.doc, payload)
      const handled = this.handled.get(socket)! + 1
      this.handled.set(socket, handled)
      const confirmation = encodeSaved(Y.encodeStateVector(this.doc), handled)
      this.held.push(() => { if (socket.readyState === socket.OPEN) socket.deliver(confirmation) })
    }
    this.read.set(socket, socket.sent.length)
  }

  /** The writes are durable: sends the held confirmations. */
  flush (): void {
    const held = this.held
    this.held = []
    for (const send of held) send()
  }

  get text (): string {
    return this.doc.getText('text').toString()
  }
}

const cleanups: Array<() => void> = []
afterEach(() => {
  while (cleanups.length > 0) cleanups.pop()!()
  FakeSocket.made.length = 0
})

/** A page's document and provider on fake sockets, with `trackSaved` installed; `states` lists every flip. */
function page (): { doc: Y.Doc, text: Y.Text, provider: WebsocketProvider, states: SaveState[], socket: () => FakeSocket } {
  const doc = new Y.Doc()
  const outgoing = new OutgoingFrames()
  const provider = new WebsocketProvider('ws://relay.test', 'doc', doc, {
    connect: false,
    disableBc: true,
    params: { saved: '1' },
    WebSocketPolyfill: outgoing.socketClass(FakeSocket) as never
  })
  const states: SaveState[] = []
  trackSaved(doc, provider, outgoing, (state) => states.push(state))
  cleanups.push(() => { provider.destroy(); doc.destroy() })
  return { doc, text: doc.getText('text'), provider, states, socket: () => FakeSocket.made.at(-1)! }
}

/** Whether the last state reported is saved (a page starts saved). */
function isSaved (states: readonly SaveState[]): boolean {
  return (states.at(-1) ?? 'saved') === 'saved'
}

describe('trackSaved with the stock provider', () => {
  it('calls a deletion saved only once the relay confirms the frame that carried it', () => {
    const relay = new FakeRelay()
    const { text, provider, states, socket } = page()
    provider.connect()
    relay.accept(socket())
    relay.handle(socket())
    relay.flush()

    text.insert(0, 'a secret')
    expect(isSaved(states)).toBe(false)
    relay.handle(socket())
    relay.flush()
    expect(isSaved(states)).toBe(true)
    expect(relay.text).toBe('a secret')

    text.delete(0, 8)
    // The deletion does not advance this page's clock: the relay's state vector already covers it.
    expect(isSaved(states)).toBe(false)
    relay.handle(socket())
    expect(relay.text).toBe('')
    expect(isSaved(states)).toBe(false)
    relay.flush()
    expect(isSaved(states)).toBe(true)
  })

  it('carries a deletion made offline, or left unconfirmed by a socket that closed, in the next sync step 2', () => {
    const relay = new FakeRelay()
    const { text, provider, states, socket } = page()
    provider.connect()
    const firstSocket = socket()
    relay.accept(firstSocket)
    text.insert(0, 'keep drop')
    relay.handle(firstSocket)
    relay.flush()
    expect(isSaved(states)).toBe(true)

    text.delete(4, 5) // sent on the first socket, handled, but its confirmation never comes
    relay.handle(firstSocket)
    firstSocket.closeFromRelay(1012)
    relay.flush()
    expect(isSaved(states)).toBe(false)
    text.delete(0, 1) // offline
    expect(isSaved(states)).toBe(false)

    provider.connect() // as the provider's own retry would
    const secondSocket = socket()
    expect(secondSocket).not.toBe(firstSocket)
    relay.accept(secondSocket)
    relay.handle(secondSocket)
    expect(relay.text).toBe('eep')
    expect(isSaved(states)).toBe(false)
    relay.flush()
    expect(isSaved(states)).toBe(true)
    expect(text.toString()).toBe('eep')
  })

  it('ignores confirmations that arrive after their socket was replaced', () => {
    const relay = new FakeRelay()
    const { text, provider, states, socket } = page()
    provider.connect()
    const firstSocket = socket()
    relay.accept(firstSocket)
    text.insert(0, 'x')
    relay.handle(firstSocket)
    firstSocket.closeFromRelay(1006)
    relay.flush() // dropped: the socket is closed
    provider.connect()
    const secondSocket = socket()
    secondSocket.open()
    // A confirmation whose count would cover the first socket's frame, but on a socket that sent nothing.
    const encoder = encoding.createEncoder()
    encoding.writeVarUint(encoder, 100)
    encoding.writeVarUint8Array(encoder, Y.encodeStateVector(relay.doc))
    encoding.writeVarUint(encoder, 1)
    secondSocket.deliver(encoding.toUint8Array(encoder))
    expect(isSaved(states)).toBe(false)
  })
})
