/**
 * The load generator: benchmark peers (see `peer.ts`) spread over worker
 * threads, driven from the main thread. Peers are dealt to workers in turn,
 * so the peers of a room usually live in different threads.
 *
 * Peers connect from several loopback source addresses (127.0.0.1, then
 * 127.1.1.2, 127.1.1.3, …; all of 127.0.0.0/8 is loopback on Linux), a few
 * dozen peers per address, as users on their own machines would: coedit
 * limits connections per remote address (200 by default).
 */
import { Worker } from 'node:worker_threads'
import { nowUs } from './wire.js'

/** A peer to connect. */
export interface PeerSpec {
  readonly room: string
  /** True for a peer that edits during `edit`. */
  readonly sender: boolean
  /** `ws://host:port` of the server process this peer talks to; `ConnectOptions.url` when absent. */
  readonly url?: string
  /**
   * With several server processes: which one `url` is. Receivers then sort
   * each latency by whether sender and receiver talk to the same process.
   */
  readonly serverIndex?: number
}

/** How `ClientPool.connect` connects peers. */
export interface ConnectOptions {
  /** `ws://host:port` of the server. */
  readonly url: string
  /** Run the y-websocket sync handshake (false against the bare relay). */
  readonly sync: boolean
  /** Announce a presence state once connected. */
  readonly awareness: boolean
  /** Keep received updates for `converge`. */
  readonly keepUpdates: boolean
  /** Connections each worker opens at the same time. */
  readonly concurrencyPerWorker: number
  /** How long one peer may take to sync. */
  readonly timeoutMs: number
}

/** What `connect` reports. */
export interface ConnectResult {
  readonly connected: number
  readonly failed: number
  /** The first few failure messages. */
  readonly errors: string[]
  /** Per connected peer: time from opening the socket to synced, in µs. */
  readonly connectUs: number[]
  /** When connecting began and when the last peer synced or failed (monotonic µs, see `nowUs`). */
  readonly startUs: number
  readonly endUs: number
}

/** Edits received so far by all peers. */
export interface Tallied {
  readonly delivered: number
  readonly echoed: number
  /** Edits received again by a peer that had them (counted only for peers with a `serverIndex`). */
  readonly duplicates: number
}

/** What `collect` reports: the tally and every latency sample. */
export interface Collected {
  readonly tallied: Tallied
  readonly latenciesUs: Float64Array
  /** The samples of pairs of peers on the same server process (peers with a `serverIndex` only). */
  readonly sameServerLatenciesUs: Float64Array
  /** The samples of pairs of peers on different server processes. */
  readonly crossServerLatenciesUs: Float64Array
}

/** One peer's text, digested. */
export interface Digest {
  readonly room: string
  readonly index: number
  readonly length: number
  readonly sha1: string
}

/** What `edit` reports: the number of edits sent. */
export interface EditResult {
  readonly sent: number
}

/** Requests to a worker; internal to the pool and `client-worker.ts`. */
export type Request =
  | ConnectRequest
  | EditRequest
  | { readonly op: 'tally' }
  | { readonly op: 'collect' }
  | { readonly op: 'converge' }
  | { readonly op: 'close', readonly timeoutMs: number }

/**
 * Connect these peers; `phase` (0 ≤ phase < 1, the offset in the edit period) is null for non-senders.
 * `serverOf` lists the server process of every peer of the call, in every worker's request.
 */
export interface ConnectRequest extends Omit<ConnectOptions, 'concurrencyPerWorker'> {
  readonly op: 'connect'
  readonly peers: Array<{ room: string, index: number, phase: number | null, localAddress: string, url: string, serverIndex: number | null }>
  readonly serverOf: Array<[index: number, serverIndex: number]>
  readonly concurrency: number
}

/** Every sender edits `rounds` times, one period apart, from `startUs`. */
export interface EditRequest {
  readonly op: 'edit'
  readonly startUs: number
  readonly periodUs: number
  readonly rounds: number
  readonly deadlineUs: number
}

interface Pending {
  resolve (value: unknown): void
  reject (err: Error): void
}

/** Worker threads of benchmark peers. Create with `ClientPool.start`; end with `terminate`. */
export class ClientPool {
  private nextIndex = 0
  private nextRequest = 0
  private readonly pending = new Map<number, Pending>()

  private constructor (private readonly workers: Worker[], private readonly peersPerAddress: number) {
    for (const worker of workers) {
      worker.on('message', ({ id, result, error }: { id: number, result?: unknown, error?: string }) => {
        const waiting = this.pending.get(id)
        if (!waiting) return
        this.pending.delete(id)
        if (error !== undefined) waiting.reject(new Error(`client worker: ${error}`))
        else waiting.resolve(result)
      })
      worker.on('error', (err) => this.failAll(err))
    }
  }

  /** Starts `count` worker threads whose peers share each source address `peersPerAddress` at a time. */
  static start (count: number, peersPerAddress: number): ClientPool {
    const workers = Array.from({ length: Math.max(1, count) }, () => new Worker(new URL('./client-worker.js', import.meta.url)))
    return new ClientPool(workers, peersPerAddress)
  }

  /**
   * Connects peers, dealt to workers in turn. Senders get evenly spread
   * phases, so that edits are spread over each period rather than sent in bursts.
   */
  async connect (specs: readonly PeerSpec[], options: ConnectOptions): Promise<ConnectResult> {
    const senderCount = specs.filter((s) => s.sender).length
    const batches = this.workers.map(() => [] as ConnectRequest['peers'])
    const serverOf: ConnectRequest['serverOf'] = []
    let senderRank = 0
    specs.forEach((spec, i) => {
      const phase = spec.sender ? senderRank++ / senderCount : null
      const index = this.nextIndex++
      const serverIndex = spec.serverIndex ?? null
      if (serverIndex !== null) serverOf.push([index, serverIndex])
      batches[i % batches.length].push({
        room: spec.room, index, phase, localAddress: loopbackAddress(Math.floor(index / this.peersPerAddress)), url: spec.url ?? options.url, serverIndex
      })
    })
    const { concurrencyPerWorker, ...rest } = options
    const results = await Promise.all(this.workers.map((worker, i) => this.call<ConnectResult>(worker, { op: 'connect', ...rest, peers: batches[i], serverOf, concurrency: concurrencyPerWorker })))
    return {
      connected: sum(results.map((r) => r.connected)),
      failed: sum(results.map((r) => r.failed)),
      errors: results.flatMap((r) => r.errors).slice(0, 5),
      connectUs: results.flatMap((r) => r.connectUs),
      startUs: Math.min(...results.map((r) => r.startUs)),
      endUs: Math.max(...results.map((r) => r.endUs))
    }
  }

  /**
   * Makes every sender edit `ratePerSecond` times a second for `durationMs`
   * (starting 50 ms from now in every worker at once). Resolves when all edits
   * are sent, or after `durationMs + graceMs` at the latest.
   */
  async edit (ratePerSecond: number, durationMs: number, graceMs: number): Promise<EditResult> {
    const startUs = nowUs() + 50_000
    const rounds = Math.round(ratePerSecond * durationMs / 1000)
    const request: EditRequest = { op: 'edit', startUs, periodUs: 1e6 / ratePerSecond, rounds, deadlineUs: startUs + (durationMs + graceMs) * 1000 }
    const results = await this.all<EditResult>(request)
    return { sent: sum(results.map((r) => r.sent)) }
  }

  /** Edits received so far. */
  async tally (): Promise<Tallied> {
    const results = await this.all<Tallied>({ op: 'tally' })
    return { delivered: sum(results.map((r) => r.delivered)), echoed: sum(results.map((r) => r.echoed)), duplicates: sum(results.map((r) => r.duplicates)) }
  }

  /** Counts and latency samples from every worker. */
  async collect (): Promise<Collected> {
    const results = await this.all<Collected>({ op: 'collect' })
    return {
      tallied: { delivered: sum(results.map((r) => r.tallied.delivered)), echoed: sum(results.map((r) => r.tallied.echoed)), duplicates: sum(results.map((r) => r.tallied.duplicates)) },
      latenciesUs: concat(results.map((r) => r.latenciesUs)),
      sameServerLatenciesUs: concat(results.map((r) => r.sameServerLatenciesUs)),
      crossServerLatenciesUs: concat(results.map((r) => r.crossServerLatenciesUs))
    }
  }

  /** Applies every kept update in every peer and returns a digest of each peer's text. */
  async converge (): Promise<Digest[]> {
    return (await this.all<Digest[]>({ op: 'converge' })).flat()
  }

  /** Closes every peer (terminating sockets still open after `timeoutMs`) and resets the tally. */
  async closePeers (timeoutMs = 5000): Promise<void> {
    await this.all({ op: 'close', timeoutMs })
  }

  /** Ends the worker threads. */
  async terminate (): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()))
  }

  private all<T> (request: Request): Promise<T[]> {
    return Promise.all(this.workers.map((worker) => this.call<T>(worker, request)))
  }

  private call<T> (worker: Worker, request: Request): Promise<T> {
    const id = ++this.nextRequest
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject })
      worker.postMessage({ id, request })
    })
  }

  private failAll (err: Error): void {
    for (const waiting of this.pending.values()) waiting.reject(err)
    this.pending.clear()
  }
}

/** The n-th loopback source address: 127.0.0.1 first, then 127.1.1.2 onwards (250 per octet). */
function loopbackAddress (n: number): string {
  if (n === 0) return '127.0.0.1'
  return `127.${1 + Math.floor(n / 62_500) % 250}.${1 + Math.floor(n / 250) % 250}.${1 + n % 250}`
}

function concat (parts: readonly Float64Array[]): Float64Array {
  const all = new Float64Array(sum(parts.map((p) => p.length)))
  let at = 0
  for (const part of parts) {
    all.set(part, at)
    at += part.length
  }
  return all
}

function sum (values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0)
}
