/**
 * How far a room has integrated its document's stored updates, by their
 * per-document sequence numbers. Updates arrive out of order (this
 * process's own appends, other processes' through the bus, catch-ups from
 * the store); the position is the highest number below which every update
 * is integrated, and the numbers integrated above it say whether a gap
 * waits to be filled from the store. No I/O.
 */
export class SequencePosition {
  private contiguous: number
  /** Numbers integrated above `contiguous`. */
  private readonly above = new Set<number>()

  /** Starts at `seq`: everything up to it is integrated (what a load read). */
  constructor (seq: number) {
    this.contiguous = seq
  }

  /** Every update up to this number is integrated. */
  get seq (): number {
    return this.contiguous
  }

  /** Whether updates above the position are integrated while one below them is missing. */
  get hasGap (): boolean {
    return this.above.size > 0
  }

  /** Whether the update numbered `seq` is integrated. */
  has (seq: number): boolean {
    return seq <= this.contiguous || this.above.has(seq)
  }

  /** Records the update numbered `seq` as integrated. */
  integrated (seq: number): void {
    if (seq <= this.contiguous) return
    if (seq !== this.contiguous + 1) {
      this.above.add(seq)
      return
    }
    this.contiguous = seq
    while (this.above.delete(this.contiguous + 1)) this.contiguous++
  }

  /** Records that everything up to `seq` is integrated (a catch-up from the store). */
  caughtUp (seq: number): void {
    if (seq <= this.contiguous) return
    this.contiguous = seq
    for (const above of this.above) if (above <= seq) this.above.delete(above)
    while (this.above.delete(this.contiguous + 1)) this.contiguous++
  }
}
