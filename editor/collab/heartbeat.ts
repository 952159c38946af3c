/**
 * Notices within seconds that the link to the relay is gone, where the stock
 * client waits 30 s of silence: a socket whose network vanished (a Wi-Fi
 * switch, a stalled proxy) often stays "open" while edits go nowhere.
 *
 * While connected, the page sends the relay a one-byte ping whenever it has
 * heard nothing for `pingAfterQuietMs`, and the relay answers with a
 * one-byte pong (sending pings is the opt-in; the stock client sends none and
 * is never sent a pong). Anything heard from the relay counts as an answer.
 * After `missedPingsForLoss` pings in a row go unanswered for
 * `pingAfterQuietMs` each, or at once when the browser says it went offline,
 * the socket is dropped (`ReconnectingProvider.dropSocket`): the page shows
 * Offline and the provider retries with its backoff. The time from a ping to
 * its pong is the round trip shown in the connection inspector.
 */
import { messagePing, messagePong, type OutgoingFrames } from './outgoing.js'
import type { ReconnectingProvider } from './reconnect.js'

/** When the heartbeat pings and gives up. */
export interface HeartbeatTiming {
  /** Silence after which a ping is sent, and between unanswered pings, in ms. */
  readonly pingAfterQuietMs: number
  /** Unanswered pings after which the socket is dropped. */
  readonly missedPingsForLoss: number
}

/** Ping after 2.5 s of silence; drop the socket after two unanswered pings (about 7.5 s of silence). */
export const defaultHeartbeat: HeartbeatTiming = { pingAfterQuietMs: 2_500, missedPingsForLoss: 2 }

/** How often the heartbeat looks at the clock, in ms. */
const tickMs = 500

/** The single-byte ping frame. */
const pingFrame = Uint8Array.of(messagePing)

/** The heartbeat of one provider; see the module comment. */
export class Heartbeat {
  private heardAt = 0
  private pingedAt = 0
  private unanswered = 0
  /** Send times of pings not yet answered by a pong, oldest first. */
  private readonly inFlight: number[] = []
  private rtt: number | null = null
  private readonly listeners = new Set<() => void>()

  /**
   * Starts the heartbeat of `provider`, whose sockets `frames` watches (its
   * `socketClass` is the provider's `WebSocketPolyfill`), listening to
   * `page`'s offline event.
   */
  constructor (
    private readonly provider: ReconnectingProvider,
    frames: OutgoingFrames,
    page: Window,
    private readonly timing: HeartbeatTiming = defaultHeartbeat
  ) {
    // Without a handler the stock client logs an error for every pong.
    provider.messageHandlers[messagePong] = () => {}
    frames.listenIncoming((socket, kind) => {
      if (socket !== provider.ws) return
      const now = performance.now()
      this.heardAt = now
      this.unanswered = 0
      if (kind === 'pong' && this.inFlight.length > 0) {
        this.rtt = now - (this.inFlight.shift() as number)
        for (const listener of this.listeners) listener()
      }
    })
    provider.on('status', ({ status }) => {
      if (status !== 'connected') return
      this.heardAt = performance.now()
      this.unanswered = 0
      this.inFlight.length = 0
    })
    page.addEventListener('offline', () => provider.dropSocket())
    setInterval(() => this.tick(), tickMs)
  }

  /** The last measured time from a ping to its pong, in ms; null before the first pong. */
  get roundTripMs (): number | null {
    return this.rtt
  }

  /** Calls `listener` after each new round-trip measurement. */
  onRoundTrip (listener: () => void): void {
    this.listeners.add(listener)
  }

  private tick (): void {
    const socket = this.provider.ws
    if (!this.provider.wsconnected || socket === null || socket.readyState !== socket.OPEN) return
    const now = performance.now()
    const { pingAfterQuietMs, missedPingsForLoss } = this.timing
    if (now - this.heardAt < pingAfterQuietMs || now - this.pingedAt < pingAfterQuietMs) return
    if (this.unanswered >= missedPingsForLoss) {
      this.provider.dropSocket()
      return
    }
    socket.send(pingFrame)
    this.pingedAt = now
    this.unanswered++
    this.inFlight.push(now)
  }
}
