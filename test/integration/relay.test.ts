import { describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import * as Y from 'yjs'
import { connectClient, startTestRelay, synced, waitFor, captureLog, type TestClient } from '../helpers/relay.js'
import { seededRandom } from '../helpers/random.js'
import { encodeSyncStep1, encodeUpdate, messageAwareness } from '../../server/protocol/messages.js'
import { closeCodeOf, openWebSocket, recordMessages, sendThenProbe, syncUpdatesIn } from '../helpers/raw-socket.js'

describe('relay with the stock y-websocket client', () => {
  it('syncs text between two clients', async () => {
    const relay = await startTestRelay()
    const a = connectClient(relay, 'doc-1')
    const b = connectClient(relay, 'doc-1')
    await Promise.all([synced(a), synced(b)])
    a.text.insert(0, 'hello')
    await waitFor(() => b.text.toString() === 'hello')
    b.text.insert(5, ' world')
    await waitFor(() => a.text.toString() === 'hello world')
  })

  it('converges when five clients edit concurrently at random positions', async () => {
    const seed = 20261125
    const random = seededRandom(seed)
    const relay = await startTestRelay()
    const clients = Array.from({ length: 5 }, () => connectClient(relay, 'concurrent'))
    await Promise.all(clients.map((c) => synced(c)))
    for (let round = 0; round < 40; round++) {
      for (const client of clients) {
        const text = client.text
        if (text.length > 0 && random.next() < 0.3) {
          const at = random.int(text.length)
          text.delete(at, Math.min(1 + random.int(3), text.length - at))
        } else {
          text.insert(random.int(text.length + 1), random.word(1 + random.int(4)))
        }
      }
      if (round % 10 === 0) await new Promise((resolve) => setImmediate(resolve))
    }
    const same = (): boolean => clients.every((c) => c.text.toString() === clients[0].text.toString())
    await waitFor(() => same() && clients.every((c) => Y.encodeStateVector(c.doc).toString() === Y.encodeStateVector(clients[0].doc).toString()), 15_000, `convergence (seed ${seed})`)
    expect(clients[0].text.length).toBeGreaterThan(0)
    const room = relay.registry.get('concurrent')!
    expect(room.text).toBe(clients[0].text.toString())
  })

  it('gives a late joiner the full document', async () => {
    const relay = await startTestRelay()
    const first = connectClient(relay, 'late')
    await synced(first)
    first.text.insert(0, 'written before you came')
    await waitFor(() => relay.registry.get('late')?.text === 'written before you came')
    const late = connectClient(relay, 'late')
    await synced(late)
    await waitFor(() => late.text.toString() === 'written before you came')
  })

  it('gives each newcomer the document as it is when it joins, edits since the previous newcomer included', async () => {
    const relay = await startTestRelay()
    const writer = connectClient(relay, 'newcomers')
    await synced(writer)
    for (const text of ['one', ' two', ' three']) {
      writer.text.insert(writer.text.length, text)
      await waitFor(() => relay.registry.get('newcomers')?.text === writer.text.toString())
      const newcomer = connectClient(relay, 'newcomers')
      await synced(newcomer)
      expect(newcomer.text.toString()).toBe(writer.text.toString())
    }
  })

  it('sends offline edits of a reconnecting client to the others', async () => {
    const relay = await startTestRelay()
    const a = connectClient(relay, 'offline')
    const b = connectClient(relay, 'offline')
    await Promise.all([synced(a), synced(b)])
    a.provider.disconnect()
    a.text.insert(0, 'typed offline')
    a.provider.connect()
    await waitFor(() => b.text.toString() === 'typed offline')
  })

  it('removes the awareness of a closed client for the others', async () => {
    const relay = await startTestRelay()
    const a = connectClient(relay, 'presence')
    const b = connectClient(relay, 'presence')
    await Promise.all([synced(a), synced(b)])
    a.provider.awareness.setLocalStateField('user', { name: 'Ada' })
    await waitFor(() => b.provider.awareness.getStates().get(a.doc.clientID)?.user?.name === 'Ada', 10_000, 'presence of a')
    const late = connectClient(relay, 'presence')
    await waitFor(() => late.provider.awareness.getStates().get(a.doc.clientID)?.user?.name === 'Ada', 10_000, 'presence for a late joiner')
    a.provider.destroy()
    await waitFor(() => !b.provider.awareness.getStates().has(a.doc.clientID), 10_000, 'removal at b')
    await waitFor(() => !late.provider.awareness.getStates().has(a.doc.clientID), 10_000, 'removal at the late joiner')
  })

  it('keeps rooms of two relays in one process apart', async () => {
    const one = await startTestRelay()
    const two = await startTestRelay()
    const a = connectClient(one, 'same-name')
    const b = connectClient(two, 'same-name')
    await Promise.all([synced(a), synced(b)])
    a.text.insert(0, 'only on one')
    await waitFor(() => one.registry.get('same-name')?.text === 'only on one')
    const c = connectClient(two, 'same-name')
    await synced(c)
    expect(b.text.toString()).toBe('')
    expect(c.text.toString()).toBe('')
    expect(two.registry.get('same-name')?.text).toBe('')
  })

  it('sends an update once to every other connection in the room and never back to its sender', async () => {
    const relay = await startTestRelay()
    const author = await openWebSocket(relay, 'echo')
    const peer = await openWebSocket(relay, 'echo')
    const toAuthor = recordMessages(author)
    const toPeer = recordMessages(peer)
    // Each is in the room once its first sync step 1 is answered.
    expect(await sendThenProbe(author)).toBe('answered')
    expect(await sendThenProbe(peer)).toBe('answered')
    const edit = new Y.Doc()
    edit.getText('text').insert(0, 'x')
    const update = encodeUpdate(Y.encodeStateAsUpdate(edit))
    // An answer to a sync step 1 is queued behind the writes before it, as the copies of an
    // update are: once the author's and then the peer's probe is answered, every copy was sent.
    expect(await sendThenProbe(author, update)).toBe('answered')
    expect(await sendThenProbe(peer)).toBe('answered')
    expect(syncUpdatesIn(toAuthor)).toEqual([])
    expect(syncUpdatesIn(toPeer)).toEqual([Buffer.from(update)])
    expect(relay.registry.get('echo')?.text).toBe('x')
  })

  it('unloads a room after its last client leaves and the grace period passes', async () => {
    const relay = await startTestRelay({ unloadGraceMs: 50 })
    const a: TestClient = connectClient(relay, 'unload')
    await synced(a)
    a.text.insert(0, 'kept')
    await waitFor(() => relay.registry.get('unload')?.text === 'kept')
    a.provider.destroy()
    await waitFor(() => relay.registry.size === 0, 5_000, 'unload')
    const b = connectClient(relay, 'unload')
    await synced(b)
    await waitFor(() => b.text.toString() === 'kept')
  })
})

describe('relay rejects bad requests', () => {
  it('answers 400 to an upgrade with an invalid room name', async () => {
    const { logger, lines } = captureLog()
    const relay = await startTestRelay({ logger })
    for (const path of ['/', '/%E0%A4%A', '/a%00b', `/${'x'.repeat(201)}`, '/a<b>']) {
      const socket = new WebSocket(relay.url.replace(/^http/, 'ws') + path)
      socket.on('error', () => {})
      const status = await new Promise<number>((resolve) => {
        socket.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0))
        socket.once('open', () => resolve(101))
      })
      socket.terminate()
      expect(status, path).toBe(400)
    }
    expect(lines.filter((l) => l.includes('upgrade.rejected')).length).toBe(5)
  })

  it('closes a connection that sends a text frame with 1003 and one that sends garbage with 1002/1007, and the room carries on', async () => {
    const { logger, lines } = captureLog()
    const relay = await startTestRelay({ logger })
    const witness = connectClient(relay, 'bad-input')
    const writer = connectClient(relay, 'bad-input')
    await Promise.all([synced(witness), synced(writer)])
    writer.text.insert(0, 'safe')
    await waitFor(() => witness.text.toString() === 'safe')

    const text = await openWebSocket(relay, 'bad-input')
    const textClosed = closeCodeOf(text)
    text.send('hello')
    expect(await textClosed).toBe(1003)

    const unknown = await openWebSocket(relay, 'bad-input')
    const unknownClosed = closeCodeOf(unknown)
    unknown.send(Uint8Array.of(42))
    expect(await unknownClosed).toBe(1002)

    const corrupt = await openWebSocket(relay, 'bad-input')
    const corruptClosed = closeCodeOf(corrupt)
    corrupt.send(Uint8Array.of(0, 2, 5, 1, 2, 3, 4, 5))
    expect(await corruptClosed).toBe(1007)

    writer.text.insert(4, ' and sound')
    await waitFor(() => witness.text.toString() === 'safe and sound')
    expect(relay.registry.get('bad-input')!.text).toBe('safe and sound')
    expect(lines.filter((l) => l.includes('connection.rejected')).length).toBe(3)
  })

  it('terminates a socket that stops answering pings', async () => {
    const relay = await startTestRelay({ heartbeatIntervalMs: 50 })
    const silent = await openWebSocket(relay, 'heartbeat', {}, { autoPong: false })
    silent.send(encodeSyncStep1(Uint8Array.of(0)))
    const code = await closeCodeOf(silent)
    expect(code).toBe(1006)
    const answering = await openWebSocket(relay, 'heartbeat')
    let pings = 0
    answering.on('ping', () => { pings++ })
    // Each ping after the first comes from a round that found the pong to the one before.
    await waitFor(() => pings >= 3 || answering.readyState !== WebSocket.OPEN, 5_000, 'three pings')
    expect(answering.readyState).toBe(WebSocket.OPEN)
  })
})

describe('presence', () => {
  it('passes plain hex colours and drops anything else a style attribute would take', async () => {
    const relay = await startTestRelay()
    const a = connectClient(relay, 'colours')
    const b = connectClient(relay, 'colours')
    await Promise.all([synced(a), synced(b)])
    const seenByB = (): Record<string, unknown> | undefined => b.provider.awareness.getStates().get(a.doc.clientID)?.user
    a.provider.awareness.setLocalStateField('user', { name: 'Ada', color: '#30bced', colorLight: '#30bced33' })
    await waitFor(() => seenByB()?.name === 'Ada', 5_000, 'first state')
    expect(seenByB()).toEqual({ name: 'Ada', color: '#30bced', colorLight: '#30bced33' })
    a.provider.awareness.setLocalStateField('user', { name: 'Eve', color: 'red; position: fixed; inset: 0', colorLight: 'url(//x)' })
    await waitFor(() => seenByB()?.name === 'Eve', 5_000, 'second state')
    expect(seenByB()).toEqual({ name: 'Eve' })
  })

  it('is sent back to its sender, the stock client\'s sign of a live connection', async () => {
    const relay = await startTestRelay()
    const alone = connectClient(relay, 'alone')
    await synced(alone)
    const received = recordMessages(alone.provider.ws as unknown as WebSocket)
    alone.provider.awareness.setLocalStateField('user', { name: 'Solo' })
    await waitFor(() => received.some((data) => data[0] === messageAwareness), 5_000, 'own awareness echoed')
  })
})

describe('presence after people leave', () => {
  it('does not let echoes of departed people claim their ids or count against the echoing connection', async () => {
    const relay = await startTestRelay()
    const watcher = connectClient(relay, 'departures')
    await synced(watcher)
    const leaving = Array.from({ length: 5 }, () => connectClient(relay, 'departures'))
    await Promise.all(leaving.map((c) => synced(c)))
    leaving.forEach((c, i) => c.provider.awareness.setLocalStateField('user', { name: `guest ${i}` }))
    await waitFor(() => watcher.provider.awareness.getStates().size === 6, 10_000, 'everyone present')
    // Drop them without a goodbye: the watcher hears the removals and, like every stock client, echoes them.
    for (const c of leaving) (c.provider.ws as unknown as WebSocket | null)?.terminate()
    for (const c of leaving) c.provider.disconnect()
    await waitFor(() => watcher.provider.awareness.getStates().size === 1, 10_000, 'removals')
    // The watcher's own presence still reaches a newcomer, so its connection was not closed for "too many ids".
    watcher.provider.awareness.setLocalStateField('user', { name: 'watcher' })
    const newcomer = connectClient(relay, 'departures')
    await waitFor(() => newcomer.provider.awareness.getStates().get(watcher.doc.clientID)?.user?.name === 'watcher', 10_000, 'watcher seen')
    expect(watcher.provider.wsconnected).toBe(true)
    // A departed person who comes back with a newer clock is seen again, whoever echoed before.
    const back = leaving[0]
    back.provider.connect()
    await synced(back)
    back.provider.awareness.setLocalStateField('user', { name: 'back again' })
    await waitFor(() => newcomer.provider.awareness.getStates().get(back.doc.clientID)?.user?.name === 'back again', 10_000, 'return seen')
  })
})
