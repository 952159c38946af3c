/**
 * Scale: first a connection storm (many peers arriving at once, timed until
 * every one is synced), then idle peers added in batches until the server's
 * RSS reaches the memory limit, the connection cap or the time budget. When
 * the run stops before the memory limit, the number of idle connections
 * that fit is extrapolated with the marginal RSS per idle connection: the
 * RSS growth over the batches after the storm, divided by the connections
 * they added (the first connections of a fresh process also grow its heap
 * baseline, which would overstate the per-connection cost).
 *
 * The storm's time is that of the whole machine: the load generator opens
 * every socket and runs every handshake on the same two cores, so its CPU
 * time is reported beside the server's.
 */
import { percentile } from '../stats.js'
import { singleServerKinds, speaksYjs, type ServerProcess } from '../servers.js'
import type { PeerSpec } from '../clients.js'
import { generatorCpuSeconds } from '../machine.js'
import { mib, pause, type Figures, type RunContext, type Scenario } from './scenario.js'

/** The scale scenario's settings. */
export interface ScaleSettings {
  /** Peers that connect at once in the storm. */
  readonly stormPeers: number
  /** Peers per room (each peer announces its presence to its room). */
  readonly peersPerRoom: number
  /** Most connections attempted in all (bounded by the open-file limit of each process). */
  readonly maxPeers: number
  /** Peers added per batch after the storm. */
  readonly batchPeers: number
  /** Stop adding peers after this long. */
  readonly timeBudgetMs: number
  /** Server RSS at which adding peers stops. */
  readonly memoryLimitBytes: number
  /** How long one peer may take to connect and sync. */
  readonly connectTimeoutMs: number
}

/** The scale scenario. */
export function scale (settings: ScaleSettings): Scenario {
  const limitMiB = Math.round(mib(settings.memoryLimitBytes))
  return {
    name: 'scale',
    title: `Scale: ${settings.stormPeers} peers arriving at once, then idle peers (rooms of ${settings.peersPerRoom}) up to ${limitMiB} MiB RSS, ${settings.maxPeers} connections or ${settings.timeBudgetMs / 1000} s`,
    kinds: singleServerKinds,
    metrics: [
      { key: 'stormAllSyncedMs', label: `storm: all ${settings.stormPeers} synced (ms)`, kind: 'number' },
      { key: 'stormP50Ms', label: 'storm: connect→synced p50 (ms)', kind: 'number' },
      { key: 'stormP99Ms', label: 'storm: connect→synced p99 (ms)', kind: 'number' },
      { key: 'stormServerCpuMs', label: 'storm: server CPU (ms)', kind: 'number' },
      { key: 'stormGeneratorCpuMs', label: 'storm: load generator CPU (ms)', kind: 'context' },
      { key: 'heldConnections', label: 'idle connections held (measured)', kind: 'number' },
      { key: 'rssPerIdleKiB', label: 'RSS per added idle connection (KiB)', kind: 'number' },
      { key: 'rssMiB', label: 'server RSS at the end (MiB)', kind: 'number' },
      { key: 'connectionsIn1GiB', label: `idle connections within ${limitMiB} MiB (extrapolated unless reached)`, kind: 'number' },
      { key: 'reachedMemoryLimit', label: 'memory limit reached (no extrapolation)', kind: 'check' }
    ],
    run: (server, context) => measure(server, context, settings)
  }
}

async function measure (server: ServerProcess, { pool, log }: RunContext, settings: ScaleSettings): Promise<Figures> {
  const yjs = speaksYjs(server.kind)
  let made = 0
  const nextPeers = (count: number): PeerSpec[] => Array.from({ length: count }, () => ({ room: `idle-${Math.floor(made++ / settings.peersPerRoom)}`, sender: false }))
  const options = { url: server.url, sync: yjs, awareness: true, keepUpdates: false, timeoutMs: settings.connectTimeoutMs }
  const rssBefore = server.rssBytes()

  const cpuStart = server.cpuMs()
  const generatorStart = generatorCpuSeconds()
  const storm = await pool.connect(nextPeers(settings.stormPeers), { ...options, concurrencyPerWorker: settings.stormPeers })
  const stormCpuMs = server.cpuMs() - cpuStart
  const stormGeneratorCpuMs = (generatorCpuSeconds() - generatorStart) * 1000
  if (storm.failed > 0) log(`  ${server.kind}: ${storm.failed} storm peers failed: ${storm.errors.join('; ')}`)

  await pause(500)
  const afterStorm = { held: storm.connected, rss: server.rssBytes() }
  let held = afterStorm.held
  let rss = afterStorm.rss
  let stopped = 'the connection cap'
  const started = Date.now()
  while (held < settings.maxPeers) {
    if (rss >= settings.memoryLimitBytes) {
      stopped = 'the memory limit'
      break
    }
    if (Date.now() - started > settings.timeBudgetMs) {
      stopped = 'the time budget'
      break
    }
    const batch = await pool.connect(nextPeers(Math.min(settings.batchPeers, settings.maxPeers - held)), { ...options, concurrencyPerWorker: 100 })
    held += batch.connected
    if (batch.failed > 0) {
      stopped = `failures (${batch.errors[0]})`
      break
    }
    rss = server.rssBytes()
  }
  await pause(500)
  rss = server.rssBytes()
  const reached = rss >= settings.memoryLimitBytes
  const perIdle = held > afterStorm.held ? (rss - afterStorm.rss) / (held - afterStorm.held) : (rss - rssBefore) / held
  log(`  ${server.kind}: ${held} idle connections, ${mib(rss).toFixed(0)} MiB, stopped at ${stopped}`)
  await pool.closePeers(10_000)
  return {
    stormAllSyncedMs: storm.failed > 0 ? NaN : (storm.endUs - storm.startUs) / 1000,
    stormP50Ms: percentile(storm.connectUs, 50) / 1000,
    stormP99Ms: percentile(storm.connectUs, 99) / 1000,
    stormServerCpuMs: stormCpuMs,
    stormGeneratorCpuMs,
    heldConnections: held,
    rssPerIdleKiB: perIdle / 1024,
    rssMiB: mib(rss),
    connectionsIn1GiB: reached ? held : held + Math.floor((settings.memoryLimitBytes - rss) / perIdle),
    reachedMemoryLimit: reached ? 1 : 0
  }
}
