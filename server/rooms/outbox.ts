/**
 * The write-ahead outbox of a room: frames that reveal document state wait
 * until every store write issued before them is durable, then go out in
 * the order they were queued. No I/O: `deliver` does the sending.
 */

/** Who a queued frame is for. */
export type Recipient<Peer> =
  /** One peer. */
  | { readonly only: Peer }
  /** Every peer of the room but one (null: every peer). */
  | { readonly allBut: Peer | null }
  /** One peer, as the answer to its sync step 1 (may exceed its queued-bytes limit). */
  | { readonly syncAnswerTo: Peer }

interface Queued<Peer> {
  /** Send once writes up to this sequence number are durable. */
  readonly afterSeq: number
  readonly frame: Uint8Array
  readonly to: Recipient<Peer>
}

/** Orders frames behind store writes. */
export class Outbox<Peer> {
  private readonly queue: Array<Queued<Peer>> = []
  private issuedSeq = 0
  private durableSeq = 0

  constructor (private readonly deliver: (frame: Uint8Array, to: Recipient<Peer>) => void) {}

  /** Whether every write issued so far is durable and nothing waits. */
  get idle (): boolean {
    return this.durableSeq === this.issuedSeq && this.queue.length === 0
  }

  /** Records that a store write was issued; returns its sequence number, to pass to `durable`. */
  issued (): number {
    return ++this.issuedSeq
  }

  /** Sends `frame` now if nothing waits, else after every write issued so far is durable. */
  send (frame: Uint8Array, to: Recipient<Peer>): void {
    if (this.idle) this.deliver(frame, to)
    else this.queue.push({ afterSeq: this.issuedSeq, frame, to })
  }

  /** Records that writes up to `seq` are durable, and sends what waited for them. Writes settle in order. */
  durable (seq: number): void {
    this.durableSeq = seq
    let sent = 0
    while (sent < this.queue.length && this.queue[sent].afterSeq <= seq) {
      const item = this.queue[sent++]
      this.deliver(item.frame, item.to)
    }
    this.queue.splice(0, sent)
  }

  /** Drops every queued frame: their writes failed, or the room is gone. */
  clear (): void {
    this.queue.length = 0
  }
}
