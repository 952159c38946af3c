/**
 * Steady editing load, shared by the fan-out and many-rooms scenarios:
 * rooms of peers, some of which insert at a fixed rate; every other peer in
 * the room must receive each edit. Measures delivery, edit→receive latency,
 * server CPU per delivered message and server memory, then checks that
 * every peer's document and the server's converged.
 */
import { percentile } from '../stats.js'
import { speaksYjs, singleServerKinds, type ServerProcess } from '../servers.js'
import type { ClientPool, Digest, PeerSpec } from '../clients.js'
import { nowUs } from '../wire.js'
import { generatorCpuSeconds } from '../machine.js'
import { mib, pause, type Figures, type Metric, type RunContext } from './scenario.js'

/** The load of an edit-load scenario. */
export interface EditLoadSettings {
  readonly rooms: number
  readonly peersPerRoom: number
  /** Peers per room that edit; the rest only receive. */
  readonly sendersPerRoom: number
  /** Edits each sender makes per second. */
  readonly ratePerSecond: number
  readonly durationMs: number
  /** Rooms in which a fresh peer syncs from the server after the load, to compare the server's document. */
  readonly verifiedRooms: number
  /** Pause after connecting, before measuring (presence announcements settle). */
  readonly settleMs: number
  /**
   * With RSS per connection: how long after connecting to take it a second
   * time, once the runtime had time to give back what the burst of
   * connections took (V8 shrinks its young generation after some idle
   * seconds). 0 skips the second reading.
   */
  readonly idleMs: number
  /** How long delivery may stall after the last edit before the run ends without it. */
  readonly drainStallMs: number
  /** How long one peer may take to connect and sync. */
  readonly connectTimeoutMs: number
}

/** The figures of an edit-load run. */
const metrics: readonly Metric[] = [
  { key: 'deliveredRatio', label: 'delivered / expected', kind: 'number' },
  { key: 'latencyP50Ms', label: 'edit→receive p50 (ms)', kind: 'number' },
  { key: 'latencyP95Ms', label: 'edit→receive p95 (ms)', kind: 'number' },
  { key: 'latencyP99Ms', label: 'edit→receive p99 (ms)', kind: 'number' },
  { key: 'cpuMsPer1000', label: 'server CPU ms / 1000 delivered', kind: 'number' },
  { key: 'serverCpuPercent', label: 'server CPU (% of one core)', kind: 'number' },
  { key: 'rssMiB', label: 'server RSS at end (MiB)', kind: 'number' },
  { key: 'rssPerConnectionKiB', label: 'RSS per connection, 1 s after connecting (KiB)', kind: 'number' },
  { key: 'rssPerIdleConnectionKiB', label: 'RSS per connection, 30 s after connecting (KiB)', kind: 'number' },
  { key: 'echoesPerEdit', label: 'echoes to sender per edit', kind: 'number' },
  { key: 'generatorCpuPercent', label: 'load generator CPU (% of one core)', kind: 'context' },
  { key: 'otherCpuPercent', label: 'other processes\' CPU (% of one core)', kind: 'context' },
  { key: 'converged', label: 'converged (peers = server)', kind: 'check' }
]

/**
 * The figures an edit-load scenario shows. RSS per connection only makes
 * sense with many connections: with a few dozen, garbage collection moves
 * RSS by more than the connections take.
 */
export function editLoadMetrics (rssPerConnection: boolean): Metric[] {
  return metrics.filter((m) => rssPerConnection || (m.key !== 'rssPerConnectionKiB' && m.key !== 'rssPerIdleConnectionKiB'))
}

/** Every single-process server kind takes part. */
export const editLoadKinds = singleServerKinds

/**
 * Runs the load once against `server`. With a cluster, the peers of each
 * room are dealt to its processes in turn (senders too), latencies are also
 * sorted by whether sender and receiver talk to the same process, server
 * figures are sums over the processes, the CPU of Redis and PostgreSQL is
 * read as well, and every process's document is checked.
 */
export async function runEditLoad (server: ServerProcess, { pool, meter, log, markWindow }: RunContext, settings: EditLoadSettings): Promise<Figures> {
  const yjs = speaksYjs(server.kind)
  const urls = server.cluster?.urls ?? [server.url]
  const at = (p: number): Pick<PeerSpec, 'url' | 'serverIndex'> => server.cluster ? { url: urls[p % urls.length], serverIndex: p % urls.length } : {}
  const specs: PeerSpec[] = []
  for (let r = 0; r < settings.rooms; r++) {
    for (let p = 0; p < settings.peersPerRoom; p++) specs.push({ room: `load-${r}`, sender: p < settings.sendersPerRoom, ...at(p) })
  }
  const rssBefore = server.rssBytes()
  const connected = await pool.connect(specs, {
    url: server.url, sync: yjs, awareness: true, keepUpdates: yjs, concurrencyPerWorker: 100, timeoutMs: settings.connectTimeoutMs
  })
  if (connected.failed > 0) throw new Error(`${connected.failed} of ${specs.length} peers did not connect: ${connected.errors.join('; ')}`)
  const connectedAt = Date.now()
  await pause(settings.settleMs)
  const rssConnected = server.rssBytes()
  let rssIdle = NaN
  if (settings.idleMs > 0) {
    await pause(Math.max(0, connectedAt + settings.idleMs - Date.now()))
    rssIdle = server.rssBytes()
  }

  const windowStartUs = nowUs()
  const cpuStart = server.cpuMs()
  const generatorStart = generatorCpuSeconds()
  const machineStart = meter.machineBusyMs()
  const redisStart = server.cluster?.redisCpuMs() ?? NaN
  const postgresWindow = await server.cluster?.postgresWindow()
  const edited = await pool.edit(settings.ratePerSecond, settings.durationMs, settings.drainStallMs)
  const expected = edited.sent * (settings.peersPerRoom - 1)
  const delivered = await drain(pool, expected, settings.drainStallMs)
  const windowEndUs = nowUs()
  const windowMs = (windowEndUs - windowStartUs) / 1000
  markWindow(windowStartUs, windowEndUs)
  const cpuMs = server.cpuMs() - cpuStart
  const generatorSeconds = generatorCpuSeconds() - generatorStart
  const redisMs = (server.cluster?.redisCpuMs() ?? NaN) - redisStart
  const postgres = await postgresWindow?.end() ?? { backendsMs: NaN, sharedMs: NaN }
  const known = (ms: number): number => Number.isNaN(ms) ? 0 : ms
  const servicesMs = known(redisMs) + known(postgres.backendsMs) + known(postgres.sharedMs)
  const otherMs = meter.machineBusyMs() - machineStart - cpuMs - generatorSeconds * 1000 - servicesMs
  const rssEnd = server.rssBytes()
  const collected = await pool.collect()
  if (delivered < expected) log(`  ${server.kind}: ${expected - delivered} of ${expected} edits not delivered`)

  let converged = NaN
  if (yjs) {
    const verifiers: PeerSpec[] = Array.from({ length: Math.min(settings.rooms, settings.verifiedRooms) }, (_, r) => urls.map((url) => ({ room: `load-${r}`, sender: false, url }))).flat()
    const checked = await pool.connect(verifiers, { url: server.url, sync: true, awareness: false, keepUpdates: false, concurrencyPerWorker: 100, timeoutMs: settings.connectTimeoutMs })
    if (checked.failed > 0) throw new Error(`${checked.failed} verifying peers did not connect: ${checked.errors.join('; ')}`)
    converged = allRoomsAgree(await pool.converge(), specs.length + verifiers.length) ? 1 : 0
  }
  await pool.closePeers()

  const latencies = collected.latenciesUs
  const received = collected.tallied.delivered
  const perThousand = (ms: number): number => received > 0 ? ms / received * 1000 : NaN
  return {
    deliveredRatio: expected > 0 ? received / expected : NaN,
    latencyP50Ms: percentile(latencies, 50) / 1000,
    latencyP95Ms: percentile(latencies, 95) / 1000,
    latencyP99Ms: percentile(latencies, 99) / 1000,
    cpuMsPer1000: perThousand(cpuMs),
    serverCpuPercent: cpuMs / windowMs * 100,
    rssMiB: mib(rssEnd),
    rssPerConnectionKiB: (rssConnected - rssBefore) / specs.length / 1024,
    rssPerIdleConnectionKiB: (rssIdle - rssBefore) / specs.length / 1024,
    echoesPerEdit: edited.sent > 0 ? collected.tallied.echoed / edited.sent : NaN,
    generatorCpuPercent: generatorSeconds * 1000 / windowMs * 100,
    otherCpuPercent: Math.max(0, otherMs) / windowMs * 100,
    converged,
    duplicatesPerEdit: edited.sent > 0 ? collected.tallied.duplicates / edited.sent : NaN,
    sameServerP50Ms: percentile(collected.sameServerLatenciesUs, 50) / 1000,
    sameServerP99Ms: percentile(collected.sameServerLatenciesUs, 99) / 1000,
    crossServerP50Ms: percentile(collected.crossServerLatenciesUs, 50) / 1000,
    crossServerP99Ms: percentile(collected.crossServerLatenciesUs, 99) / 1000,
    redisCpuMsPer1000: perThousand(redisMs),
    postgresCpuMsPer1000: perThousand(postgres.backendsMs),
    postgresSharedCpuMsPer1000: perThousand(postgres.sharedMs),
    allCpuMsPer1000: perThousand(cpuMs + redisMs + postgres.backendsMs)
  }
}

/**
 * Waits until `expected` edits were delivered, or until no edit arrived for
 * `stallMs`. Returns the number delivered.
 */
async function drain (pool: ClientPool, expected: number, stallMs: number): Promise<number> {
  let last = -1
  let lastProgress = Date.now()
  for (;;) {
    const { delivered } = await pool.tally()
    if (delivered >= expected) return delivered
    if (delivered !== last) {
      last = delivered
      lastProgress = Date.now()
    } else if (Date.now() - lastProgress > stallMs) {
      return delivered
    }
    await pause(50)
  }
}

/** True when there are `count` digests, every text is non-empty, and all peers of a room hold the same text. */
function allRoomsAgree (digests: readonly Digest[], count: number): boolean {
  if (digests.length !== count) return false
  const byRoom = new Map<string, string>()
  for (const { room, sha1, length } of digests) {
    if (length === 0) return false
    const first = byRoom.get(room)
    if (first === undefined) byRoom.set(room, sha1)
    else if (first !== sha1) return false
  }
  return true
}
