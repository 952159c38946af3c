/**
 * How webhook requests are signed: `Coedit-Webhook-Signature: v1=<hex>`,
 * the HMAC-SHA256 with the webhook secret over `<timestamp>.<body>`, where
 * the timestamp is the `Coedit-Webhook-Timestamp` header (seconds since the
 * epoch) and the body the exact bytes sent. The README shows how a receiver
 * checks it.
 */
import { createHmac } from 'node:crypto'

/** The `Coedit-Webhook-Signature` value of `body` sent at `timestamp` (seconds since the epoch). */
export function webhookSignature (secret: string, timestamp: string, body: string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`
}
