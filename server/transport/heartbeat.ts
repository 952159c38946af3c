import type { WebSocket } from 'ws'

/** One timer that pings every tracked socket. */
export interface Heartbeat {
  /** Starts watching a socket; it is dropped once it misses a pong. */
  track (socket: WebSocket): void
  /** Stops the timer. */
  stop (): void
}

/**
 * Pings every tracked socket each `intervalMs`; a socket that has not
 * answered the previous ping by then is terminated. A single timer serves
 * all sockets.
 */
export function startHeartbeat (intervalMs: number): Heartbeat {
  const alive = new Map<WebSocket, boolean>()
  // Listeners shared by every socket (`this` is the socket): no closure per connection.
  function onPong (this: WebSocket): void {
    if (alive.has(this)) alive.set(this, true)
  }
  function onClose (this: WebSocket): void {
    alive.delete(this)
  }
  const timer = setInterval(() => {
    for (const [socket, answered] of alive) {
      if (!answered) {
        alive.delete(socket)
        socket.terminate()
        continue
      }
      alive.set(socket, false)
      socket.ping()
    }
  }, intervalMs)
  timer.unref()
  return {
    track (socket) {
      alive.set(socket, true)
      socket.on('pong', onPong)
      socket.on('close', onClose)
    },
    stop () {
      clearInterval(timer)
      alive.clear()
    }
  }
}
