/**
 * Large documents over real sockets with the stock y-websocket client: the
 * first sync arrives as several bounded messages ending with a sync step 2,
 * the progress notice reaches only clients that asked for it, an edit made
 * while a newcomer loads reaches it, and a newcomer that does not read makes
 * the relay queue about one piece, not the whole document.
 */
import { describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import { connectClient, onTeardown, startTestRelay, synced, waitFor } from '../helpers/relay.js'
import { seededRandom } from '../helpers/random.js'
import { closeCodeOf, openWebSocket, recordMessages } from '../helpers/raw-socket.js'
import { createMemoryStore } from '../../server/storage/memory.js'
import {
  decodeSyncProgress, encodeSyncStep1, encodeUpdate, messageSync, messageSyncProgress, progressQueryParam, syncStep2, syncUpdate
} from '../../server/protocol/messages.js'
import type { Relay, RelayOptions } from '../../server/relay.js'

/** Bytes a sync message adds around its update: outer type, sub-type and the update's varUint length. */
const messageOverhead = 7

/** A document of about `bytes` bytes of text, written in chunks at random places with some deletions. */
function largeDocument (bytes: number, seed: number): { update: Uint8Array, text: string } {
  const random = seededRandom(seed)
  const doc = new Y.Doc()
  const text = doc.getText('text')
  while (text.length < bytes) {
    if (random.int(10) === 0 && text.length > 100) {
      text.delete(random.int(text.length - 100), 1 + random.int(80))
    } else {
      text.insert(random.int(text.length + 1), `${random.word(8)} `.repeat(200 + random.int(400)))
    }
  }
  return { update: Y.encodeStateAsUpdate(doc), text: text.toString() }
}

/** A relay whose memory store holds `update` as the document `name`. */
async function relayWith (name: string, update: Uint8Array, options: RelayOptions = {}): Promise<Relay> {
  const store = createMemoryStore()
  await store.append(name, update)
  return await startTestRelay({ store, ...options })
}

/** What a stock client saw: every message in arrival order, and its socket. */
interface Watched {
  readonly messages: Buffer[]
  socket: WebSocket | null
}

/**
 * A stock `WebsocketProvider` in `room` whose socket records what it
 * receives; with `pauseAfter`, its socket stops reading once that many
 * messages arrived (`socket.resume()` goes on).
 */
function watchedClient (relay: Relay, room: string, pauseAfter: number | null = null): { client: { doc: Y.Doc, provider: WebsocketProvider, text: Y.Text }, watched: Watched } {
  const watched: Watched = { messages: [], socket: null }
  class RecordingSocket extends WebSocket {
    constructor (url: string, protocols?: string | string[]) {
      super(url, protocols)
      watched.socket = this
      this.on('message', (data: ArrayBuffer | Buffer) => {
        watched.messages.push(Buffer.isBuffer(data) ? data : Buffer.from(data))
        if (watched.messages.length === pauseAfter) this.pause()
      })
    }
  }
  const doc = new Y.Doc()
  const provider = new WebsocketProvider(relay.url.replace(/^http/, 'ws'), room, doc, { WebSocketPolyfill: RecordingSocket as never, disableBc: true })
  onTeardown(() => { provider.destroy(); doc.destroy() })
  return { client: { doc, provider, text: doc.getText('text') }, watched }
}

function isSync (message: Buffer, subtype: number): boolean {
  return message[0] === messageSync && message[1] === subtype
}

/** Bytes of sync answers the relay has handed to its sockets, from its metrics. */
async function syncBytesSent (relay: Relay): Promise<number> {
  const body = await (await fetch(`${relay.url}/metrics`)).text()
  let total = 0
  for (const kind of ['update', 'sync-step-2']) {
    const match = new RegExp(`^coedit_message_bytes_sent_total\\{type="${kind}"\\} (\\d+)`, 'm').exec(body)
    total += match ? Number(match[1]) : 0
  }
  return total
}

describe('a large document and the stock client', () => {
  it('arrives in several messages within the bound, the last a sync step 2, with the exact text', async () => {
    const { update, text } = largeDocument(3_000_000, 1)
    const relay = await relayWith('big', update)
    const bound = relay.config.maxSyncPieceBytes
    const { client, watched } = watchedClient(relay, 'big')
    await synced(client, 30_000)
    expect(client.text.toString()).toBe(text)
    const answer = watched.messages.filter((m) => isSync(m, syncUpdate) || isSync(m, syncStep2))
    expect(answer.length).toBeGreaterThanOrEqual(Math.ceil(update.length / bound))
    for (const message of answer) expect(message.length).toBeLessThanOrEqual(bound + messageOverhead)
    expect(isSync(answer[answer.length - 1], syncStep2)).toBe(true)
    expect(answer.filter((m) => isSync(m, syncStep2))).toHaveLength(1)
    // The stock client is never sent coedit's progress notice.
    expect(watched.messages.filter((m) => m[0] === messageSyncProgress)).toEqual([])
    const reference = new Y.Doc()
    Y.applyUpdate(reference, update)
    expect(Y.encodeStateVector(client.doc)).toEqual(Y.encodeStateVector(reference))
  })

  it('tells a client that asked how many messages and bytes the answer takes, right before them', async () => {
    const { update, text } = largeDocument(1_000_000, 2)
    const relay = await relayWith('told', update, { maxSyncPieceBytes: 64 * 1024 })
    const socket = await openWebSocket(relay, 'told', { [progressQueryParam]: '1' })
    const messages = recordMessages(socket)
    socket.send(encodeSyncStep1(Y.encodeStateVector(new Y.Doc())))
    await waitFor(() => messages.some((m) => isSync(m, syncStep2)), 30_000, 'the sync step 2')
    const at = messages.findIndex((m) => m[0] === messageSyncProgress)
    expect(at).toBeGreaterThanOrEqual(0)
    const progress = decodeSyncProgress(messages[at])
    const answer = messages.slice(at + 1).filter((m) => isSync(m, syncUpdate) || isSync(m, syncStep2))
    expect(progress.messages).toBe(answer.length)
    expect(progress.bytes).toBe(answer.reduce((sum, m) => sum + m.length, 0))
    const doc = new Y.Doc()
    for (const message of answer) Y.applyUpdate(doc, message.subarray(varUintEnd(message, 2)))
    expect(doc.getText('text').toString()).toBe(text)
    socket.close()
  })

  it('brings an edit made while the newcomer loads, and ends with both edits and the document', async () => {
    const { update, text } = largeDocument(12_000_000, 3)
    const relay = await relayWith('live', update)
    const writer = connectClient(relay, 'live')
    await synced(writer, 30_000)
    // The newcomer stops reading after the first piece: the rest of the answer waits on the relay.
    const { client, watched } = watchedClient(relay, 'live', 2)
    await waitFor(() => watched.messages.length >= 2, 30_000, 'the first piece')
    const sent: Uint8Array[] = []
    writer.doc.on('update', (change: Uint8Array) => sent.push(encodeUpdate(change)))
    writer.text.insert(writer.text.length, ' written while you loaded')
    await waitFor(() => relay.registry.get('live')?.text.endsWith(' written while you loaded') === true, 10_000, 'the edit at the relay')
    watched.socket!.resume()
    await synced(client, 60_000)
    await waitFor(() => client.text.toString() === `${text} written while you loaded`, 30_000, 'the edit at the newcomer')
    const live = watched.messages.findIndex((m) => Buffer.from(sent[0]).equals(m))
    const final = watched.messages.findIndex((m) => isSync(m, syncStep2))
    // It came between the pieces, not after them: Yjs held it until the piece it builds on arrived.
    expect(live).toBeGreaterThan(0)
    expect(live).toBeLessThan(final)
    // And the newcomer's own edit goes the other way.
    client.text.insert(0, 'Newcomer: ')
    await waitFor(() => writer.text.toString().startsWith('Newcomer: '), 10_000, 'the newcomer\'s edit')
  })

  it('queues about a piece for each newcomer that does not read, not the whole document', async () => {
    const { update, text } = largeDocument(12_000_000, 4)
    const relay = await relayWith('slow', update)
    const newcomers = Array.from({ length: 4 }, () => watchedClient(relay, 'slow', 1))
    await waitFor(() => newcomers.every(({ watched }) => watched.messages.length >= 1), 30_000, 'a message to every newcomer')
    // The relay sends the next piece once the kernel took the last: wait until the kernel's buffers are full.
    let queued = -1
    let previous = -2
    while (queued !== previous) {
      previous = queued
      await new Promise((resolve) => setTimeout(resolve, 100))
      queued = await syncBytesSent(relay)
    }
    // Kernel buffers take a few MB per socket; the whole answer would be 4 × 12 MB.
    expect(queued).toBeLessThan(newcomers.length * update.length / 2)
    for (const { watched } of newcomers) watched.socket!.resume()
    for (const { client } of newcomers) await synced(client, 60_000)
    for (const { client } of newcomers) expect(client.text.toString()).toBe(text)
  })

  it('closes with 1008 a client that asks again and again without reading the answers', async () => {
    const { update } = largeDocument(12_000_000, 5)
    const relay = await relayWith('greedy', update, { maxBufferedBytes: 16 * 1024 * 1024 })
    const socket = await openWebSocket(relay, 'greedy')
    socket.pause()
    const ask = encodeSyncStep1(Y.encodeStateVector(new Y.Doc()))
    socket.send(ask)
    socket.send(ask)
    const closed = closeCodeOf(socket, 30_000)
    socket.resume()
    expect(await closed).toBe(1008)
  })
})

/** Where the varUint at `offset` of `bytes` ends. */
function varUintEnd (bytes: Uint8Array, offset: number): number {
  let at = offset
  while (bytes[at] >= 0x80) at++
  return at + 1
}
