/**
 * The heartbeat over real sockets: a ping gets a pong at once, a socket
 * that never pings never receives one (so the stock client sees nothing
 * new), and pings are budgeted like any other message.
 */
import { describe, expect, it, vi } from 'vitest'
import { connectClient, startTestRelay, synced, waitFor } from '../helpers/relay.js'
import { closeCodeOf, openWebSocket, recordMessages } from '../helpers/raw-socket.js'
import { encodeUpdate, messagePing, messagePong } from '../../server/protocol/messages.js'
import { CloseCode } from '../../server/protocol/errors.js'
import * as Y from 'yjs'

const ping = Uint8Array.of(messagePing)

/** The pongs among `messages`. */
function pongsIn (messages: readonly Buffer[]): Buffer[] {
  return messages.filter((data) => data[0] === messagePong)
}

describe('heartbeat', () => {
  it('answers each ping with a one-byte pong, and sends none to sockets that never ping', async () => {
    const relay = await startTestRelay()
    const pinger = await openWebSocket(relay, 'beat')
    const quiet = await openWebSocket(relay, 'beat')
    const heardByPinger = recordMessages(pinger)
    const heardByQuiet = recordMessages(quiet)
    const errors = vi.spyOn(console, 'error')
    const stock = connectClient(relay, 'beat')
    await synced(stock)

    for (let sent = 1; sent <= 3; sent++) {
      pinger.send(ping)
      await waitFor(() => pongsIn(heardByPinger).length === sent, 10_000, `pong ${sent}`)
    }
    expect(pongsIn(heardByPinger).every((pong) => pong.length === 1)).toBe(true)

    // Something every socket in the room hears, sent after the pings: once it arrived, any pong would have too.
    const writer = new Y.Doc()
    writer.getText('text').insert(0, 'after the pings')
    pinger.send(encodeUpdate(Y.encodeStateAsUpdate(writer)))
    await waitFor(() => stock.text.toString() === 'after the pings', 10_000, 'the update at the stock client')
    await waitFor(() => heardByQuiet.some((data) => data[0] === 0 && data[1] === 2), 10_000, 'the update at the quiet socket')
    expect(pongsIn(heardByQuiet)).toEqual([])
    expect(errors.mock.calls.filter((call) => String(call[0]).includes('Unable to compute message'))).toEqual([])
    errors.mockRestore()
  })

  it('answers a ping while the socket is still open, then closes a ping flood with the rate-limit code', async () => {
    const relay = await startTestRelay({ maxMessagesPerSecond: 1, maxMessageBurst: 20 })
    const pinger = await openWebSocket(relay, 'flood')
    const heard = recordMessages(pinger)
    const closed = closeCodeOf(pinger)
    pinger.send(ping)
    await waitFor(() => pongsIn(heard).length === 1, 10_000, 'the first pong')
    for (let i = 0; i < 100; i++) pinger.send(ping)
    expect(await closed).toBe(CloseCode.policyViolation)
    // Pongs for the pings the budget allowed, none past it.
    expect(pongsIn(heard).length).toBeLessThan(25)
  })

  it('still refuses a ping with trailing bytes as an unknown message', async () => {
    const relay = await startTestRelay()
    const socket = await openWebSocket(relay, 'odd-ping')
    const closed = closeCodeOf(socket)
    socket.send(Uint8Array.of(messagePing, 0))
    expect(await closed).not.toBe(1000)
  })
})
