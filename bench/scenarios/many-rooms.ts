/**
 * Many rooms: many small rooms of two, every peer typing slowly. The cost per
 * delivered message is dominated by per-update work rather than by fan-out,
 * and memory by per-room and per-connection state.
 */
import { editLoadKinds, editLoadMetrics, runEditLoad, type EditLoadSettings } from './edit-load.js'
import type { Scenario } from './scenario.js'

/** The many-rooms scenario with its load. */
export function manyRooms (settings: EditLoadSettings): Scenario {
  const { rooms, peersPerRoom, sendersPerRoom, ratePerSecond, durationMs } = settings
  return {
    name: 'many-rooms',
    title: `Many rooms: ${rooms} rooms × ${peersPerRoom} peers, ${sendersPerRoom} per room inserting ${ratePerSecond}/s for ${durationMs / 1000} s`,
    kinds: editLoadKinds,
    metrics: editLoadMetrics(true),
    run: (server, context) => runEditLoad(server, context, settings)
  }
}
