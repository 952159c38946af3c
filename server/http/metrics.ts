/**
 * `GET /metrics`: the relay's metrics in the Prometheus text format. With
 * access control on it needs an operator token (`Authorization: Bearer`,
 * write access to every document): 401 without a valid token, 403 with
 * another one. Open when the server runs open, like the rest of the API.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { TokenAuthority } from '../auth/tokens.js'
import type { RelayMetrics } from '../metrics/relay-metrics.js'
import { ApiError, sendApiError } from './api-errors.js'
import { requireOperator } from './operator.js'

/** What the endpoint needs from the relay. */
export interface MetricsEndpointOptions {
  /** Null when the server runs open. */
  readonly authority: TokenAuthority | null
  readonly metrics: RelayMetrics
}

/** Answers one request for `/metrics` (GET or HEAD; the caller checked the method). */
export type MetricsEndpoint = (req: IncomingMessage, res: ServerResponse) => Promise<void>

/** The `/metrics` handler over `options.metrics`. */
export function metricsEndpoint ({ authority, metrics }: MetricsEndpointOptions): MetricsEndpoint {
  return async (req, res) => {
    try {
      await requireOperator(authority, req, () => metrics.authFailed('metrics'))
    } catch (err) {
      if (!(err instanceof ApiError)) throw err
      sendApiError(res, err)
      return
    }
    const text = await metrics.register.metrics()
    res.writeHead(200, {
      'content-type': metrics.register.contentType,
      'content-length': Buffer.byteLength(text),
      'cache-control': 'no-store'
    }).end(req.method === 'HEAD' ? undefined : text)
  }
}
