/**
 * `GET /api/webhooks/deliveries`: the webhook events not delivered yet —
 * pending ones with their attempts so far and the last error, and failed
 * ones (given up on) — oldest first, at most 1000. Needs an operator token
 * (write access to every document) when access control is on. Each entry
 * is the event as it is (or was last) sent, plus its delivery state.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { TokenAuthority } from '../auth/tokens.js'
import type { WebhookOutbox } from '../storage/webhook-outbox.js'
import { ApiError, sendApiError, sendJson } from './api-errors.js'
import { requireOperator } from './operator.js'

/** What the endpoint needs from the relay. */
export interface WebhooksApiOptions {
  /** Null when the server runs open. */
  readonly authority: TokenAuthority | null
  /** Null when webhooks are off: the list is empty. */
  readonly outbox: WebhookOutbox | null
}

/** The path served. */
export const webhookDeliveriesPath = '/api/webhooks/deliveries'

/** Most events listed. */
const listLimit = 1000

/** Answers one request for `webhookDeliveriesPath`. */
export function webhooksApi ({ authority, outbox }: WebhooksApiOptions): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  return async (req, res) => {
    try {
      if (req.method !== 'GET') throw new ApiError('method-not-allowed', 'use GET', { allow: 'GET' })
      await requireOperator(authority, req)
      let events
      try {
        events = outbox ? await outbox.list(listLimit) : []
      } catch (err) {
        throw new ApiError('unavailable', `storage failed: ${(err as Error).message}`)
      }
      sendJson(res, 200, {
        deliveries: events.map((event) => ({
          id: event.id,
          type: event.type,
          document: event.document,
          sequence: event.sequence,
          data: event.data,
          time: new Date(event.createdAtMs).toISOString(),
          state: event.state,
          attempts: event.attempts,
          lastError: event.lastError,
          nextAttempt: event.state === 'pending' ? new Date(event.dueAtMs).toISOString() : null
        }))
      })
    } catch (err) {
      if (!(err instanceof ApiError)) throw err
      sendApiError(res, err)
    }
  }
}
