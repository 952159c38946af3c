/**
 * A TCP proxy on 127.0.0.1 (port 0) in front of a relay, that can go silent
 * without closing anything: the network vanishing under an open socket (a
 * Wi-Fi switch, a suspended laptop's NAT entry) as the browser sees it.
 *
 * - Pass-through (the initial state, and after `resume`): bytes flow both
 *   ways; closing one side closes the other.
 * - `stall()`: nothing is forwarded either way, on open connections and new
 *   ones alike, and nothing is closed; bytes that arrive meanwhile are held
 *   and go out, in order, on `resume`.
 * - `close()`: destroys every connection and stops listening.
 */
import { createServer, connect, type Socket } from 'node:net'

/** A proxy in front of one relay. */
export interface StallProxy {
  /** The port it listens on, on 127.0.0.1. */
  readonly port: number
  /** `http://127.0.0.1:<port>`: the relay's address through the proxy. */
  readonly url: string
  /** Stops forwarding in both directions without closing anything. */
  stall (): void
  /** Forwards again, held bytes first. */
  resume (): void
  /** Destroys every connection and stops listening. */
  close (): Promise<void>
}

/** Starts a proxy to the relay on 127.0.0.1:`targetPort`. */
export async function startStallProxy (targetPort: number): Promise<StallProxy> {
  let stalled = false
  const sockets = new Set<Socket>()
  const held: Array<() => void> = []
  /** Copies `from` into `to`, holding what arrives while stalled. */
  const pipe = (from: Socket, to: Socket): void => {
    from.on('data', (chunk) => {
      if (stalled) held.push(() => to.write(chunk))
      else to.write(chunk)
    })
    from.on('close', () => to.destroy())
    from.on('error', () => to.destroy())
  }
  const server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1')
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.on('close', () => sockets.delete(socket))
    }
    pipe(client, upstream)
    pipe(upstream, client)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('the proxy has no port')
  return {
    port: address.port,
    url: `http://127.0.0.1:${address.port}`,
    stall () { stalled = true },
    resume () {
      stalled = false
      for (const send of held.splice(0)) send()
    },
    async close () {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}
