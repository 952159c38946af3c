/**
 * A token bucket: `ratePerSecond` tokens refill continuously up to `burst`;
 * each use spends some. Used per connection for messages and for bytes.
 */
export class TokenBucket {
  private tokens: number
  private updatedMs: number

  constructor (private readonly ratePerSecond: number, private readonly burst: number, nowMs = performance.now()) {
    this.tokens = burst
    this.updatedMs = nowMs
  }

  /** Spends `amount` tokens if the bucket holds them and answers whether it did. */
  take (amount: number, nowMs = performance.now()): boolean {
    this.tokens = Math.min(this.burst, this.tokens + (nowMs - this.updatedMs) * this.ratePerSecond / 1000)
    this.updatedMs = nowMs
    if (this.tokens < amount) return false
    this.tokens -= amount
    return true
  }
}
