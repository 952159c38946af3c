/**
 * The page's provider, reconnecting on its own schedule: after a
 * connection ends unplanned, it waits a jittered, growing time (see
 * `backoff.ts`) instead of the stock client's fixed `2^n * 100` ms, tells
 * the page when it will try next, and can be told to try at once.
 */
import type * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import { defaultBackoff, jitteredDelayMs, longHiddenMs, type Backoff } from './backoff.js'

/** The options of the stock provider. */
type ProviderOptions = NonNullable<ConstructorParameters<typeof WebsocketProvider>[3]>

/** The stock provider's options, plus how to wait between attempts. */
export interface ReconnectingOptions extends ProviderOptions {
  /** Bounds of the wait between attempts; defaults to `defaultBackoff` (0.5 s, doubling, up to 30 s). */
  readonly backoff?: Backoff
  /** Source of floats in [0, 1) for the jitter; defaults to `Math.random`. */
  readonly random?: () => number
}

/**
 * A `WebsocketProvider` whose reconnection is its own. The stock client
 * still decides when a close is final (its `shouldReconnect` option, after
 * which it emits `closed` and stops); every other close that the page did
 * not ask for (`disconnect()`) is retried after `jitteredDelayMs(n)`, where
 * `n` counts the attempts since the last connection that synced.
 * `connect()` and `disconnect()` keep their stock meaning and cancel a
 * pending retry.
 */
export class ReconnectingProvider extends WebsocketProvider {
  private pendingAt: number | null = null
  private readonly backoff: Backoff
  private readonly random: () => number
  /** Attempts since the last connection that synced. */
  private attempts = 0
  private timer: ReturnType<typeof setTimeout> | undefined
  private readonly retryListeners = new Set<() => void>()

  /** As the stock constructor; connects at once unless `options.connect` is false. */
  constructor (serverUrl: string, roomname: string, doc: Y.Doc, options: ReconnectingOptions = {}) {
    const { backoff = defaultBackoff, random = Math.random, connect = true, ...stock } = options
    // The stock constructor would call `connect()` before this class's fields exist.
    super(serverUrl, roomname, doc, { ...stock, connect: false })
    this.backoff = backoff
    this.random = random
    this.on('sync', (synced: boolean) => {
      if (synced) this.attempts = 0
    })
    this.on('connection-close', (event: CloseEvent | null) => {
      // `disconnect()` cleared `shouldConnect` first: a planned close, not retried.
      if (!this.shouldConnect) return
      // The stock client stops after this close and emits `closed`.
      if (event !== null && !this.shouldReconnect(event, this)) return
      // The stock client's own retry, set up right after this event, finds nothing to do.
      this.shouldConnect = false
      this.scheduleRetry()
    })
    if (connect) this.connect()
  }

  /** When the next attempt is due (`Date.now()` time, in ms); null unless a retry is pending. */
  get retryAt (): number | null {
    return this.pendingAt
  }

  /** Calls `listener` whenever `retryAt` changes. */
  onRetryChange (listener: () => void): void {
    this.retryListeners.add(listener)
  }

  /** Connects now if a retry is pending; does nothing otherwise (connected, connecting, or stopped for good). */
  retryNow (): void {
    if (this.retryAt !== null) this.connect()
  }

  /**
   * Gives up on the current socket at once, as the stock client does after
   * 30 s without a message: the provider handles it as closed by this side
   * (`connection-close` with a null event) and retries after the backoff. For
   * a socket that went silent without closing (see `heartbeat.ts`), whose
   * close handshake could take a minute to fail. Does nothing without a socket.
   */
  dropSocket (): void {
    const socket = this.ws
    // The stock client's close handler, called as for its own watchdog: it detaches and closes the socket.
    socket?.onclose?.call(socket, null as unknown as CloseEvent)
  }

  /** Connects, at once; cancels a pending retry. */
  override connect (): void {
    this.cancelRetry()
    super.connect()
  }

  /** Disconnects and stays so until `connect()`; cancels a pending retry. */
  override disconnect (): void {
    this.cancelRetry()
    super.disconnect()
  }

  private scheduleRetry (): void {
    const delayMs = jitteredDelayMs(this.attempts, this.random, this.backoff)
    this.attempts++
    clearTimeout(this.timer)
    this.timer = setTimeout(() => this.connect(), delayMs)
    this.setRetryAt(Date.now() + delayMs)
  }

  private cancelRetry (): void {
    clearTimeout(this.timer)
    this.timer = undefined
    this.setRetryAt(null)
  }

  private setRetryAt (at: number | null): void {
    if (at === this.pendingAt) return
    this.pendingAt = at
    for (const listener of this.retryListeners) listener()
  }
}

/**
 * Makes `provider` try at once, rather than when its wait ends, when the
 * browser says it is back online, and when the page is shown again after
 * having been hidden for `longHiddenMs` or more (a laptop lid, a phone in
 * a pocket: the network likely changed meanwhile).
 */
export function retryOnReturn (provider: ReconnectingProvider, page: Window): void {
  page.addEventListener('online', () => provider.retryNow())
  let hiddenSince: number | null = null
  page.document.addEventListener('visibilitychange', () => {
    if (page.document.visibilityState === 'hidden') {
      hiddenSince = Date.now()
      return
    }
    if (hiddenSince !== null && Date.now() - hiddenSince >= longHiddenMs) provider.retryNow()
    hiddenSince = null
  })
}
