/**
 * A worker thread holding benchmark peers. It answers the requests of
 * `ClientPool` (see `clients.ts`), each with `{id, result}` or `{id, error}`.
 */
import { parentPort } from 'node:worker_threads'
import { createHash } from 'node:crypto'
import { Peer, createTally } from './peer.js'
import { nowUs } from './wire.js'
import type { Collected, ConnectRequest, ConnectResult, Digest, EditRequest, EditResult, Request, Tallied } from './clients.js'

/** The peers of this thread and what they received. */
class PeerHost {
  private tally = createTally()
  private peers: Peer[] = []
  private senders: Array<{ peer: Peer, phase: number }> = []

  async handle (request: Request): Promise<unknown> {
    switch (request.op) {
      case 'connect': return await this.connect(request)
      case 'edit': return await this.edit(request)
      case 'tally': return { delivered: this.tally.delivered, echoed: this.tally.echoed, duplicates: this.tally.duplicates } satisfies Tallied
      case 'collect': return this.collect()
      case 'converge': return this.converge()
      case 'close': return await this.close(request.timeoutMs)
    }
  }

  /** Connects the given peers, at most `concurrency` at a time. */
  private async connect (request: ConnectRequest): Promise<ConnectResult> {
    const startUs = nowUs()
    const queue = request.peers.slice().reverse()
    const connectUs: number[] = []
    const errors: string[] = []
    let connected = 0
    for (const [index, serverIndex] of request.serverOf) this.tally.serverOf.set(index, serverIndex)
    const lane = async (): Promise<void> => {
      for (let spec = queue.pop(); spec; spec = queue.pop()) {
        const { room, index, phase, localAddress, url, serverIndex } = spec
        const peer = new Peer({
          url, room, index, localAddress, sync: request.sync, awareness: request.awareness, keepUpdates: request.keepUpdates, tally: this.tally, serverIndex: serverIndex ?? undefined
        })
        try {
          await peer.connect(request.timeoutMs)
        } catch (err) {
          if (errors.length < 5) errors.push((err as Error).message)
          await peer.close(0)
          continue
        }
        connected++
        connectUs.push(peer.connectUs)
        this.peers.push(peer)
        if (phase !== null) this.senders.push({ peer, phase })
      }
    }
    await Promise.all(Array.from({ length: Math.max(1, request.concurrency) }, lane))
    return { connected, failed: request.peers.length - connected, errors, connectUs, startUs, endUs: nowUs() }
  }

  /**
   * Makes every sender edit `rounds` times, once per period, each at its own
   * phase within the period, starting at `startUs`. A generator that falls
   * behind catches up rather than dropping edits; it gives up at `deadlineUs`.
   */
  private edit (request: EditRequest): Promise<EditResult> {
    const order = this.senders.slice().sort((a, b) => a.phase - b.phase)
    const { startUs, periodUs, rounds, deadlineUs } = request
    let round = 0
    let next = 0
    let sent = 0
    const due = (): number => startUs + (round + order[next].phase) * periodUs
    return new Promise((resolve) => {
      const finish = (): void => resolve({ sent })
      if (order.length === 0 || rounds === 0) {
        finish()
        return
      }
      const tick = (): void => {
        const now = nowUs()
        while (round < rounds && due() <= now) {
          order[next].peer.edit(round)
          sent++
          if (++next === order.length) {
            next = 0
            round++
          }
        }
        if (round >= rounds || now > deadlineUs) {
          finish()
          return
        }
        setTimeout(tick, Math.max(0, (due() - nowUs()) / 1000))
      }
      setTimeout(tick, Math.max(0, (startUs - nowUs()) / 1000))
    })
  }

  private collect (): Collected {
    const { delivered, echoed, duplicates, latenciesUs, sameServerLatenciesUs, crossServerLatenciesUs } = this.tally
    return {
      tallied: { delivered, echoed, duplicates },
      latenciesUs: Float64Array.from(latenciesUs),
      sameServerLatenciesUs: Float64Array.from(sameServerLatenciesUs),
      crossServerLatenciesUs: Float64Array.from(crossServerLatenciesUs)
    }
  }

  /** Applies every kept update and digests each peer's text. */
  private converge (): Digest[] {
    return this.peers.map((peer) => {
      peer.applyReceived()
      const text = peer.text()
      return { room: peer.options.room, index: peer.options.index, length: text.length, sha1: createHash('sha1').update(text).digest('hex') }
    })
  }

  /** Closes every peer and forgets them and the tally. */
  private async close (timeoutMs: number): Promise<null> {
    const closing = this.peers
    this.peers = []
    this.senders = []
    this.tally = createTally()
    await Promise.all(closing.map((peer) => peer.close(timeoutMs)))
    return null
  }
}

const port = parentPort
if (!port) throw new Error('client-worker.js runs as a worker thread')
const host = new PeerHost()
port.on('message', ({ id, request }: { id: number, request: Request }) => {
  host.handle(request).then(
    (result) => port.postMessage({ id, result }),
    (err: unknown) => port.postMessage({ id, error: (err as Error).stack ?? String(err) })
  )
})
