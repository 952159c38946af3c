/**
 * Loading a large real document: the automerge-paper trace (259,778 edits,
 * 104,852 characters) is pushed to the server by one seeding peer as one
 * update, the way a client with offline edits pushes them (its sync step 2).
 * Then fresh peers connect one after another and are timed from opening the
 * socket to holding the whole text.
 *
 * One idle peer stays connected throughout: the reference server drops a
 * document from memory when its last client leaves (it has no persistence
 * here), and coedit would unload it after its grace period, so the idle peer
 * keeps the document in memory for both, and the figures are those of
 * syncing a large document that is loaded, not of reading it from storage.
 */
import { Peer, createTally } from '../peer.js'
import { replayTrace, type ReplayedTrace } from '../trace.js'
import { median } from '../stats.js'
import { singleServerKinds, speaksYjs, type ServerProcess } from '../servers.js'
import { mib, pause, type Figures, type Scenario } from './scenario.js'

/** The cold-load scenario's settings. */
export interface ColdLoadSettings {
  /** The gzipped editing trace. */
  readonly tracePath: string
  /** Fresh peers timed per run, one after another. */
  readonly freshPeers: number
  /** How long seeding or one fresh sync may take. */
  readonly timeoutMs: number
}

/** Largest message coedit accepts (its `maxMessageBytes`); the seed must fit in one. */
const maxMessageBytes = 16 * 1024 * 1024

/** The cold-load scenario. */
export function coldLoad (settings: ColdLoadSettings): Scenario {
  let trace: ReplayedTrace | null = null
  return {
    name: 'cold-load',
    title: `Large document: automerge-paper trace seeded as one update, then ${settings.freshPeers} fresh peers sync it one by one`,
    kinds: singleServerKinds.filter(speaksYjs),
    metrics: [
      { key: 'connectToSyncedMs', label: 'connect → synced, median (ms)', kind: 'number' },
      { key: 'clientApplyMs', label: 'client apply of sync step 2, median (ms)', kind: 'number' },
      { key: 'serverSideMs', label: 'server-side time = connect→synced − apply (ms)', kind: 'number' },
      { key: 'serverCpuMsPerSync', label: 'server CPU ms per fresh sync', kind: 'number' },
      { key: 'seedMs', label: 'seed: send → other peer received (ms)', kind: 'number' },
      { key: 'rssMiB', label: 'server RSS with the document (MiB)', kind: 'number' },
      { key: 'textEqual', label: 'every fresh peer text = endContent', kind: 'check' }
    ],
    prepare (log) {
      if (trace) return
      const started = Date.now()
      trace = replayTrace(settings.tracePath)
      log(`replayed ${trace.edits} edits in ${Date.now() - started} ms: update of ${trace.update.length} bytes, ${trace.endContent.length} characters`)
      if (trace.update.length + 16 > maxMessageBytes) throw new Error('the trace update does not fit in one message')
    },
    run: async (server) => {
      if (!trace) throw new Error('cold-load runs after prepare')
      return await measure(server, trace, settings)
    }
  }
}

async function measure (server: ServerProcess, trace: ReplayedTrace, settings: ColdLoadSettings): Promise<Figures> {
  const room = 'automerge-paper'
  let index = 0
  const newPeer = (keepUpdates: boolean): Peer =>
    new Peer({ url: server.url, room, index: index++, sync: true, awareness: true, keepUpdates, tally: createTally() })
  const keeper = newPeer(true)
  const opened: Peer[] = [keeper]
  try {
    await keeper.connect(settings.timeoutMs)
    const seeder = newPeer(false)
    opened.push(seeder)
    seeder.preload(trace.update)
    const seedStart = performance.now()
    await seeder.connect(settings.timeoutMs)
    await until(() => keeper.options.tally.updates > 0, settings.timeoutMs, 'the seeded document at the idle peer')
    const seedMs = performance.now() - seedStart
    keeper.applyReceived()
    if (keeper.text() !== trace.endContent) throw new Error('the idle peer received a different document')
    await seeder.close(5000)
    await pause(200)
    const rss = server.rssBytes()

    const totals: number[] = []
    const applies: number[] = []
    const serverSide: number[] = []
    let textEqual = 1
    const cpuStart = server.cpuMs()
    for (let i = 0; i < settings.freshPeers; i++) {
      const fresh = newPeer(false)
      opened.push(fresh)
      await fresh.connect(settings.timeoutMs)
      serverSide.push(fresh.connectUs / 1000)
      applies.push(fresh.applySyncUs / 1000)
      totals.push((fresh.connectUs + fresh.applySyncUs) / 1000)
      if (fresh.text() !== trace.endContent) textEqual = 0
      await fresh.close(5000)
    }
    const cpuMs = server.cpuMs() - cpuStart
    return {
      connectToSyncedMs: median(totals),
      clientApplyMs: median(applies),
      serverSideMs: median(serverSide),
      serverCpuMsPerSync: cpuMs / settings.freshPeers,
      seedMs,
      rssMiB: mib(rss),
      textEqual
    }
  } finally {
    await Promise.all(opened.map((peer) => peer.close(1000)))
  }
}

async function until (predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await pause(5)
  }
}
