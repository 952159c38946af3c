/**
 * Delivers the webhook outbox: one worker per relay polls its store's
 * outbox for due events (each the oldest pending one of its document, so a
 * document's events go out one at a time and in order), POSTs each as JSON
 * to the webhook URL, and removes it on a 2xx answer. Anything else — a
 * status, a refused or dropped connection, no answer in time — is retried
 * with exponential backoff until the event is older than the retry period,
 * then it is marked failed and the document's next event goes out.
 */
import type { Logger } from '../log.js'
import type { OutboxEvent, WebhookOutbox } from '../storage/webhook-outbox.js'
import { webhookSignature } from './signature.js'

/** How a delivery attempt ended, as counted in metrics. */
export type DeliveryOutcome = 'delivered' | 'retried' | 'failed'

/** Where delivery outcomes go. */
export interface WebhookMetrics {
  webhookDelivery (outcome: DeliveryOutcome): void
}

/** What `startWebhookWorker` needs. */
export interface WebhookWorkerOptions {
  readonly outbox: WebhookOutbox
  /** Where events are POSTed. */
  readonly webhookUrl: string
  /** Key of the signature HMAC. */
  readonly webhookSecret: string
  /** The debounce of changed events; the outbox is polled at a quarter of it (between 50 ms and 1 s). */
  readonly webhookDebounceMs: number
  /** Wait before the second attempt; doubles with every further one… */
  readonly webhookRetryBaseMs: number
  /** …up to this. */
  readonly webhookRetryMaxMs: number
  /** How long after its first attempt an event is retried before it is marked failed. */
  readonly webhookRetryForSeconds: number
  /** How long one attempt waits for the answer. An event is leased for twice that. */
  readonly webhookTimeoutMs: number
  readonly logger: Logger
  readonly metrics: WebhookMetrics
}

/** A running worker. */
export interface WebhookWorker {
  /** Stops polling, aborts attempts in flight (their events are tried again at once by whoever polls next) and resolves once they settled. */
  stop (): Promise<void>
}

/** Attempts under way at once, across documents. */
const maxInFlight = 32

/** The JSON body of an event, as sent. */
export function webhookBody (event: OutboxEvent): string {
  return JSON.stringify({
    id: event.id,
    type: event.type,
    document: event.document,
    sequence: event.sequence,
    time: new Date(event.createdAtMs).toISOString(),
    data: event.data
  })
}

/** Starts polling `options.outbox`. */
export function startWebhookWorker (options: WebhookWorkerOptions): WebhookWorker {
  const { outbox, logger, metrics } = options
  const pollMs = Math.min(1000, Math.max(50, Math.floor(options.webhookDebounceMs / 4)))
  const aborter = new AbortController()
  /** Attempts under way. */
  const inFlight = new Set<Promise<void>>()
  /** The claim running now. */
  let polling: Promise<void> | null = null
  let timer: NodeJS.Timeout | null = null
  let stopped = false

  /** Sends one event; resolves to why it failed (null when delivered). */
  const send = async (event: OutboxEvent): Promise<{ error: string, status: number | null } | null> => {
    const body = webhookBody(event)
    const timestamp = String(Math.floor(Date.now() / 1000))
    try {
      const response = await fetch(options.webhookUrl, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'coedit-webhook-id': event.id,
          'coedit-webhook-timestamp': timestamp,
          'coedit-webhook-signature': webhookSignature(options.webhookSecret, timestamp, body)
        },
        body,
        redirect: 'manual',
        signal: AbortSignal.any([aborter.signal, AbortSignal.timeout(options.webhookTimeoutMs)])
      })
      await response.body?.cancel().catch(() => {})
      return response.status >= 200 && response.status < 300 ? null : { error: `HTTP ${response.status}`, status: response.status }
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code
      return { error: cause ?? (err as Error).name ?? 'error', status: null }
    }
  }

  const deliver = async (event: OutboxEvent): Promise<void> => {
    const failure = await send(event)
    if (failure === null) {
      await outbox.delivered(event.id)
      metrics.webhookDelivery('delivered')
      logger.debug('webhook.delivered', { id: event.id, type: event.type, document: event.document, sequence: event.sequence })
      return
    }
    const now = Date.now()
    if (stopped) {
      // Not the receiver's fault: leave the attempt uncounted and the event due now.
      await outbox.retry(event.id, event.attempts, event.firstAttemptAtMs ?? now, now, 'server stopped during the attempt')
      return
    }
    const attempts = event.attempts + 1
    const first = event.firstAttemptAtMs ?? now
    const giveUp = now - first >= options.webhookRetryForSeconds * 1000
    const fields = { id: event.id, type: event.type, document: event.document, sequence: event.sequence, status: failure.status, error: failure.error, attempts }
    if (giveUp) {
      await outbox.fail(event.id, attempts, first, failure.error)
      metrics.webhookDelivery('failed')
      logger.error('webhook.failed', { ...fields, final: true })
      return
    }
    const delay = Math.min(options.webhookRetryMaxMs, options.webhookRetryBaseMs * 2 ** (attempts - 1))
    await outbox.retry(event.id, attempts, first, now + delay, failure.error)
    metrics.webhookDelivery('retried')
    logger.warn('webhook.failed', { ...fields, retryInMs: delay })
  }

  /**
   * Takes what is due, up to the free attempt slots, and starts sending it
   * without waiting: a receiver that hangs on one document's event holds
   * back only that document (its event stays leased meanwhile).
   */
  const poll = async (): Promise<void> => {
    timer = null
    let claimed: OutboxEvent[] = []
    const free = maxInFlight - inFlight.size
    if (free > 0) {
      try {
        const now = Date.now()
        claimed = await outbox.claim(now, free, now + 2 * options.webhookTimeoutMs)
      } catch (err) {
        logger.warn('webhook.outbox-error', { error: err as Error })
      }
    }
    for (const event of claimed) {
      const attempt: Promise<void> = deliver(event).catch((err) => {
        logger.warn('webhook.outbox-error', { id: event.id, error: err as Error })
      }).finally(() => {
        inFlight.delete(attempt)
        // A settled attempt frees a slot and may make its document's next event due: look at once.
        if (!stopped && polling === null) schedule(0)
      })
      inFlight.add(attempt)
    }
    if (!stopped) schedule(claimed.length === free && free > 0 ? 0 : pollMs)
  }

  const schedule = (delayMs: number): void => {
    if (timer) clearTimeout(timer)
    timer = setTimeout(() => {
      timer = null
      polling = poll().finally(() => { polling = null })
    }, delayMs)
  }

  schedule(0)
  return {
    async stop () {
      stopped = true
      if (timer) clearTimeout(timer)
      aborter.abort()
      await polling
      await Promise.all(inFlight)
    }
  }
}
