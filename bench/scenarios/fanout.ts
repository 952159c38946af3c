/**
 * Fan-out: many peers in one room, a few of them typing. Run against coedit
 * in memory and with SQLite, the cost of the write-ahead rule (nothing is
 * forwarded before the store committed it) shows as the difference.
 */
import { editLoadKinds, editLoadMetrics, runEditLoad, type EditLoadSettings } from './edit-load.js'
import type { Scenario } from './scenario.js'

/** The fan-out scenario with its load. */
export function fanout (settings: EditLoadSettings): Scenario {
  const { peersPerRoom, sendersPerRoom, ratePerSecond, durationMs } = settings
  return {
    name: 'fanout',
    title: `Fan-out: ${peersPerRoom} peers in one room, ${sendersPerRoom} inserting ${ratePerSecond}/s each for ${durationMs / 1000} s`,
    kinds: editLoadKinds,
    metrics: editLoadMetrics(false),
    run: (server, context) => runEditLoad(server, context, settings)
  }
}
