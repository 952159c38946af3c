/**
 * Cluster: the fan-out load with its peers dealt over 1, 2 and 3 coedit
 * processes that share one PostgreSQL database and one Redis. An edit
 * reaches a peer on another process through PostgreSQL (committed first)
 * and Redis (published after the commit); the figures compare pairs of
 * peers across processes with pairs on one process, and the CPU of every
 * process involved with that of the one-process run.
 */
import { clusterKinds } from '../servers.js'
import { editLoadMetrics, runEditLoad, type EditLoadSettings } from './edit-load.js'
import type { Metric, Scenario } from './scenario.js'

/** Figures only a cluster run has, shown after the edit-load ones they extend. */
const clusterMetrics: readonly Metric[] = [
  { key: 'duplicatesPerEdit', label: 'edits received again by a peer that had them, per edit', kind: 'number' },
  { key: 'sameServerP50Ms', label: 'edit→receive p50, sender and receiver on one process (ms)', kind: 'number' },
  { key: 'sameServerP99Ms', label: 'edit→receive p99, sender and receiver on one process (ms)', kind: 'number' },
  { key: 'crossServerP50Ms', label: 'edit→receive p50, across processes (ms)', kind: 'number' },
  { key: 'crossServerP99Ms', label: 'edit→receive p99, across processes (ms)', kind: 'number' },
  { key: 'redisCpuMsPer1000', label: 'Redis CPU ms / 1000 delivered', kind: 'number' },
  { key: 'postgresCpuMsPer1000', label: 'PostgreSQL backends of the run, CPU ms / 1000 delivered', kind: 'number' },
  { key: 'allCpuMsPer1000', label: 'coedit + Redis + PostgreSQL backends, CPU ms / 1000 delivered', kind: 'number' },
  { key: 'postgresSharedCpuMsPer1000', label: 'PostgreSQL\'s shared processes (WAL writer, checkpointer…; serve every client of the server), CPU ms / 1000 delivered', kind: 'context' }
]

/** The cluster scenario with the fan-out load. */
export function cluster (settings: EditLoadSettings): Scenario {
  const { peersPerRoom, sendersPerRoom, ratePerSecond, durationMs } = settings
  const metrics = editLoadMetrics(false).map((m) => m.key === 'cpuMsPer1000'
    ? { ...m, label: 'coedit CPU ms / 1000 delivered (all processes)' }
    : m.key === 'serverCpuPercent' ? { ...m, label: 'coedit CPU (% of one core, all processes)' }
      : m.key === 'rssMiB' ? { ...m, label: 'coedit RSS at end (MiB, all processes)' }
        : m.key === 'converged' ? { ...m, label: 'converged (peers = every process)' } : m)
  return {
    name: 'cluster',
    title: `Cluster: fan-out (${peersPerRoom} peers in one room, ${sendersPerRoom} inserting ${ratePerSecond}/s each for ${durationMs / 1000} s), peers dealt over 1, 2, 3 coedit processes on PostgreSQL + Redis`,
    kinds: clusterKinds,
    ratioTo: 'coedit-cluster-1',
    metrics: [...metrics.filter((m) => m.kind === 'number'), ...clusterMetrics, ...metrics.filter((m) => m.kind !== 'number')],
    run: (server, context) => runEditLoad(server, context, settings)
  }
}
