import type { WebSocket } from 'ws'

/** One timer that pings every open socket. */
export interface Heartbeat {
  /** Starts listening for a socket's pongs; call once per socket in the set. */
  track (socket: WebSocket): void
  /** Stops the timer. */
  stop (): void
}

/**
 * Pings every socket of `sockets` each `intervalMs`; a socket that has not
 * answered the previous ping by then is terminated. A single timer serves
 * all sockets, and the set of open sockets is the caller's: the heartbeat
 * keeps only those that owe a pong, for one interval.
 */
export function startHeartbeat (sockets: ReadonlySet<WebSocket>, intervalMs: number): Heartbeat {
  let owing = new Set<WebSocket>()
  // Shared by every socket (`this` is the socket): no closure per connection.
  function onPong (this: WebSocket): void {
    owing.delete(this)
  }
  const timer = setInterval(() => {
    const unanswered = owing
    owing = new Set()
    for (const socket of sockets) {
      if (unanswered.has(socket)) {
        socket.terminate()
        continue
      }
      owing.add(socket)
      socket.ping()
    }
  }, intervalMs)
  timer.unref()
  return {
    track (socket) {
      socket.on('pong', onPong)
    },
    stop () {
      clearInterval(timer)
      owing.clear()
    }
  }
}
