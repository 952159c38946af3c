/**
 * Writes to many sockets, coalesced per event-loop turn: the first write to
 * a socket in a turn corks it, and every corked socket is uncorked once, in
 * the check phase after the turn's I/O. Messages that one turn sends to the
 * same socket (several updates released by one group commit, an update and
 * presence) leave in one system call instead of one each.
 */
import type { Duplex } from 'node:stream'

/** A per-relay write path shared by every connection. */
export class CorkedWrites {
  private corked: Duplex[] = []
  private scheduled = false
  private readonly uncorkAll = (): void => {
    this.scheduled = false
    const corked = this.corked
    this.corked = []
    for (const wire of corked) wire.uncork()
  }

  /** Queues `frame` on `wire`; it is written out before the next turn's timers run. */
  write (wire: Duplex, frame: Buffer): void {
    if (wire.writableCorked === 0) {
      wire.cork()
      this.corked.push(wire)
      if (!this.scheduled) {
        this.scheduled = true
        setImmediate(this.uncorkAll)
      }
    }
    wire.write(frame)
  }
}
