/**
 * Hostile messages: one scenario per class of crafted message, each run on
 * a fresh server. An attacker connects to a room and sends the message(s)
 * (built in `hostile-updates.ts`); the scenario measures what that cost the
 * server and what it costs everyone afterwards:
 *
 * - the server's answer: the attacker's close code, or accepted;
 * - the server's CPU time until it is idle again (less what the witness
 *   costs at rest), its peak and settled RSS growth, and the longest stall
 *   of its event loop as a witness sees it: two peers in another room, one
 *   inserting every `witnessPeriodMs`, the other timing each receipt;
 * - whether the process survived (it is killed past `rssLimitBytes` or
 *   `attackTimeoutMs`, and the figure says so);
 * - afterwards, in the same room: CPU per one-character edit, typed by an
 *   honest peer one at a time (each waits for another peer's receipt), and
 *   a newcomer's join (time to its sync step 2, bytes received, CPU, RSS).
 *
 * Everything runs in this thread: peers here only count and keep what they
 * receive while the witness is timing, and apply it afterwards.
 */
import WebSocket from 'ws'
import * as encoding from 'lib0/encoding'
import { Peer, createTally } from '../peer.js'
import { encodeAwareness, encodeSync, decodeSync, nowUs, syncStep1, syncStep2, syncUpdate } from '../wire.js'
import { median } from '../stats.js'
import * as hostileUpdates from '../hostile-updates.js'
import type { ServerKind, ServerProcess } from '../servers.js'
import { mib, pause, type Figures, type Metric, type Scenario } from './scenario.js'

/** The classes of hostile message, in the order they run. */
export const hostileClasses = ['deep-json', 'split', 'subdocs', 'pending-deletes', 'pending-structs', 'sync-flood', 'presence'] as const
export type HostileClass = typeof hostileClasses[number]

/** Sizes of the hostile messages and the bounds of each run. */
export interface HostileSettings {
  readonly classes: readonly HostileClass[]
  /** deep-json: nesting depth of the embed's JSON array. */
  readonly embedDepth: number
  /** split: characters inserted, then every other one deleted. */
  readonly splitCharacters: number
  /** subdocs: subdocuments in one update. */
  readonly subdocuments: number
  /** pending-deletes: one-character delete ranges of a client nobody has. */
  readonly absentDeleteRanges: number
  /** pending-structs: updates whose dependency never arrives, and the characters each carries. */
  readonly pendingUpdates: number
  readonly pendingUpdateCharacters: number
  /** sync-flood: items of the document loaded first; sync step 1 messages a second, and for how long. */
  readonly largeDocumentItems: number
  readonly syncFloodPerSecond: number
  readonly syncFloodMs: number
  /** presence: bytes of the attacker's presence state, and newcomers joining at once afterwards. */
  readonly presenceBytes: number
  readonly presenceNewcomers: number
  /** One-character edits typed after the attack, and the time they may take in all. */
  readonly edits: number
  readonly editTimeMs: number
  /** How long newcomers may take to receive their sync step 2. */
  readonly joinTimeoutMs: number
  /** Longest the server may stay busy after an attack, or a join take; then it is killed. */
  readonly attackTimeoutMs: number
  /** Server RSS at which it is killed. */
  readonly rssLimitBytes: number
  /** How often the witness inserts. */
  readonly witnessPeriodMs: number
  /** How long the server's CPU and the witness's latency are read at rest, before the attack. */
  readonly restMs: number
  /** How long one honest peer may take to connect and sync. */
  readonly connectTimeoutMs: number
}

/** Coedit in memory, another build of it, and the reference: the servers the attacks are compared on. */
const hostileKinds: readonly ServerKind[] = ['coedit-memory', 'coedit-baseline', 'reference']

/** What became of the server process, as a figure. */
const fates = { alive: 0, exited: 1, killedRss: 2, killedTime: 3 } as const
type Fate = keyof typeof fates
const fateLabels: Record<number, string> = { 0: 'alive', 1: 'exited', 2: 'killed: RSS limit', 3: 'killed: time limit' }

/** The attacker's messages for one class, built once. */
interface Built {
  /** Sent by an honest client as its sync step 2 before anyone is timed (sync-flood's large document). */
  readonly seed: Uint8Array[] | null
  /** Sent at once, in order. */
  readonly messages: Uint8Array[]
  /** Sent `perSecond` times a second for `durationMs` after `messages`. */
  readonly flood: { readonly message: Uint8Array, readonly perSecond: number, readonly durationMs: number } | null
  /** Newcomers that join at once after the edits. */
  readonly newcomers: number
}

/** The hostile scenarios, one per class chosen in `settings`. */
export function hostile (settings: HostileSettings): Scenario[] {
  return settings.classes.map((kind) => hostileScenario(kind, settings))
}

function hostileScenario (kind: HostileClass, settings: HostileSettings): Scenario {
  let built: Built | null = null
  return {
    name: `hostile-${kind}`,
    title: `Hostile: ${describe(kind, settings)}; then ${settings.edits} one-character edits and ${kind === 'presence' ? `${settings.presenceNewcomers} newcomers` : 'a newcomer'} in the same room`,
    kinds: hostileKinds,
    metrics: hostileMetrics(kind),
    prepare (log) {
      if (built) return
      const started = Date.now()
      built = build(kind, settings)
      const bytes = built.messages.reduce((sum, m) => sum + m.length, 0)
      log(`built ${built.messages.length} message(s) of ${bytes} bytes in all${built.seed ? `, a seed of ${built.seed.reduce((sum, frame) => sum + frame.length, 0)} bytes` : ''} in ${Date.now() - started} ms`)
    },
    run: async (server, { log, markWindow }) => {
      if (!built) throw new Error('a hostile scenario runs after prepare')
      return await measure(server, built, settings, log, markWindow)
    }
  }
}

function describe (kind: HostileClass, s: HostileSettings): string {
  switch (kind) {
    case 'deep-json': return `an embed whose JSON nests ${s.embedDepth} levels`
    case 'split': return `an insert of ${s.splitCharacters.toLocaleString('en-US')} characters, then a delete of every other one`
    case 'subdocs': return `${s.subdocuments.toLocaleString('en-US')} subdocuments in one update`
    case 'pending-deletes': return `${s.absentDeleteRanges.toLocaleString('en-US')} delete ranges of a client nobody has`
    case 'pending-structs': return `${s.pendingUpdates} updates of ${s.pendingUpdateCharacters} characters whose dependency never arrives`
    case 'sync-flood': return `sync step 1 with the current state vector ${s.syncFloodPerSecond}/s for ${s.syncFloodMs / 1000} s on a document of ${s.largeDocumentItems.toLocaleString('en-US')} items`
    case 'presence': return `a presence state of ${mib(s.presenceBytes).toFixed(0)} MiB`
  }
}

function hostileMetrics (kind: HostileClass): Metric[] {
  const flood: Metric[] = kind === 'sync-flood'
    ? [
        { key: 'floodCpuPercent', label: 'server CPU during the flood (% of one core)', kind: 'number' },
        { key: 'floodAnswered', label: 'sync steps 1 answered during the flood / sent', kind: 'number' }
      ]
    : []
  const join = kind === 'presence' ? 'per newcomer, median' : 'newcomer'
  return [
    { key: 'attackMiB', label: 'attacker sent (MiB)', kind: 'context' },
    { key: 'answer', label: 'answer to the attacker (close code)', kind: 'outcome', labels: { 0: 'accepted' } },
    { key: 'attackCpuMs', label: 'server CPU until idle (ms)', kind: 'number' },
    ...flood,
    { key: 'stallMs', label: 'longest stall seen by the witness (ms)', kind: 'number' },
    { key: 'peakRssGrowthMiB', label: 'peak RSS growth (MiB)', kind: 'number' },
    { key: 'rssGrowthMiB', label: 'RSS growth once idle (MiB)', kind: 'number' },
    { key: 'fateAfterAttack', label: 'server after the attack', kind: 'outcome', labels: fateLabels },
    { key: 'peerApplied', label: 'then: an honest peer applied what it received', kind: 'check' },
    { key: 'editCpuUs', label: 'then: server CPU per 1-character edit (µs)', kind: 'number' },
    { key: 'editRoundTripMs', label: 'then: edit → other peer, median (ms)', kind: 'number' },
    { key: 'editsDone', label: 'then: edits done in the time allowed', kind: 'context' },
    { key: 'joinMs', label: `then: ${join} connect → sync step 2 (ms)`, kind: 'number' },
    { key: 'joinMiB', label: `then: ${join} received (MiB)`, kind: 'number' },
    { key: 'joinCpuMs', label: `then: server CPU ${kind === 'presence' ? 'per newcomer' : 'for the join'} (ms)`, kind: 'number' },
    { key: 'joinPeakRssGrowthMiB', label: 'then: peak RSS growth during the join (MiB)', kind: 'number' },
    { key: 'newcomerSynced', label: 'then: every newcomer synced', kind: 'check' },
    { key: 'joinAnswer', label: 'then: newcomer closed with', kind: 'outcome', labels: { 0: 'not closed' } },
    { key: 'fateAtEnd', label: 'server at the end', kind: 'outcome', labels: fateLabels }
  ]
}

/** Client id of the attacker's presence state. */
const attackerAwarenessClient = 424_242

function build (kind: HostileClass, s: HostileSettings): Built {
  const updates = (list: Uint8Array[]): Uint8Array[] => list.map((update) => encodeSync(syncUpdate, update))
  const plain = { seed: null, flood: null, newcomers: 1 }
  switch (kind) {
    case 'deep-json':
      return { ...plain, messages: updates([hostileUpdates.deepEmbedUpdate(s.embedDepth)]) }
    case 'split':
      return { ...plain, messages: updates([hostileUpdates.longInsertUpdate(s.splitCharacters), hostileUpdates.everyOtherDeleteUpdate(s.splitCharacters)]) }
    case 'subdocs':
      return { ...plain, messages: updates([hostileUpdates.subdocumentFloodUpdate(s.subdocuments)]) }
    case 'pending-deletes':
      return { ...plain, messages: updates([hostileUpdates.absentClientDeletesUpdate(s.absentDeleteRanges)]) }
    case 'pending-structs':
      return { ...plain, messages: updates(hostileUpdates.missingDependencyUpdates(s.pendingUpdates, s.pendingUpdateCharacters)) }
    case 'sync-flood': {
      const stateVector = encoding.createEncoder()
      encoding.writeVarUint(stateVector, 1)
      encoding.writeVarUint(stateVector, hostileUpdates.attackerClient)
      encoding.writeVarUint(stateVector, s.largeDocumentItems)
      return {
        // In updates of 100 000 items, under the work a server allows one update.
        seed: hostileUpdates.manyItemsDocumentUpdates(s.largeDocumentItems, 100_000).map((update) => encodeSync(syncStep2, update)),
        messages: [],
        flood: { message: encodeSync(syncStep1, encoding.toUint8Array(stateVector)), perSecond: s.syncFloodPerSecond, durationMs: s.syncFloodMs },
        newcomers: 1
      }
    }
    case 'presence':
      return { ...plain, messages: [encodeAwareness(attackerAwarenessClient, 1, { user: { name: 'a'.repeat(s.presenceBytes), color: '#30bced' } })], newcomers: s.presenceNewcomers }
  }
}

/**
 * Watches the server process every 100 ms: kills it past the RSS limit, and
 * notes when it exited by itself. `untilIdle` kills it past a time limit.
 */
class Watchdog {
  fate: Fate = 'alive'
  /** The last readings taken while the process ran: CPU time (ms) and peak RSS (bytes). */
  lastCpuMs = NaN
  lastPeakRssBytes = NaN
  private readonly timer: NodeJS.Timeout

  constructor (private readonly server: ServerProcess, private readonly rssLimitBytes: number) {
    this.timer = setInterval(() => this.check(), 100)
  }

  get alive (): boolean {
    this.check()
    return this.fate === 'alive'
  }

  /** Kills the server now, recording why. */
  end (fate: Fate): void {
    if (this.fate !== 'alive') return
    this.fate = fate
    this.server.kill()
  }

  stop (): void {
    clearInterval(this.timer)
  }

  private check (): void {
    if (this.fate !== 'alive') return
    if (this.server.exitStatus() !== null) {
      this.fate = 'exited'
      return
    }
    let rss = 0
    try {
      rss = this.server.rssBytes()
      this.lastPeakRssBytes = this.server.peakRssBytes()
      this.lastCpuMs = this.server.cpuMs()
    } catch {
      this.fate = 'exited'
      return
    }
    if (rss > this.rssLimitBytes) this.end('killedRss')
  }
}

/** A reading of the server's CPU time in ms; NaN once it is gone. */
function cpuOf (server: ServerProcess): number {
  try {
    return server.cpuMs()
  } catch {
    return NaN
  }
}

function peakRssOf (server: ServerProcess): number {
  try {
    return server.peakRssBytes()
  } catch {
    return NaN
  }
}

function rssOf (server: ServerProcess): number {
  try {
    return server.rssBytes()
  } catch {
    return NaN
  }
}

/**
 * Waits until the server is idle: over the last 500 ms it used no more CPU
 * than `restMsPerMs` of every ms plus two clock ticks. Resolves at once when
 * it is gone; kills it when it is still busy after `timeoutMs`.
 */
async function untilIdle (server: ServerProcess, watch: Watchdog, restMsPerMs: number, timeoutMs: number): Promise<void> {
  const samples: Array<{ at: number, cpu: number }> = []
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (!watch.alive) return
    if (Date.now() > deadline) {
      watch.end('killedTime')
      return
    }
    samples.push({ at: performance.now(), cpu: cpuOf(server) })
    if (samples.length > 6) samples.shift()
    if (samples.length === 6) {
      const first = samples[0]
      const last = samples[5]
      if (last.cpu - first.cpu <= restMsPerMs * (last.at - first.at) + 20) return
    }
    await pause(100)
  }
}

/**
 * A raw WebSocket in the attacked room: counts what it receives and notes
 * how it was closed. A newcomer does what the stock client does on
 * connecting (sync step 1 with its empty state, and its empty state in
 * answer to the server's sync step 1); an attacker sends only what it is told.
 */
class RawClient {
  bytesReceived = 0
  syncStep2Received = 0
  closeCode: number | null = null
  private readonly ws: WebSocket
  private readonly opened: Promise<void>
  private syncedUs: number | null = null
  private readonly startUs = nowUs()

  constructor (url: string, room: string, private readonly newcomer: boolean) {
    this.ws = new WebSocket(`${url}/${encodeURIComponent(room)}`, { perMessageDeflate: false, maxPayload: 512 * 1024 * 1024 })
    this.ws.binaryType = 'nodebuffer'
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => {
        if (this.newcomer) this.send(encodeSync(syncStep1, emptyStateVector))
        resolve()
      })
      this.ws.once('close', () => reject(new Error(`closed with ${this.closeCode ?? '?'} before it opened`)))
      this.ws.once('error', reject)
    })
    this.opened.catch(() => {})
    this.ws.on('error', () => {})
    this.ws.on('close', (code) => { this.closeCode = code })
    this.ws.on('message', (data: Buffer) => {
      this.bytesReceived += data.length
      const message = decodeSync(data)
      if (message?.subtype === syncStep2) {
        this.syncStep2Received++
        this.syncedUs ??= nowUs()
      }
      // A stock client answers the server's sync step 1 with its (empty) state.
      if (message?.subtype === syncStep1 && this.newcomer) this.send(encodeSync(syncStep2, emptyUpdate))
    })
  }

  /** Resolves once the socket is open. */
  async open (timeoutMs: number): Promise<void> {
    await Promise.race([this.opened, pause(timeoutMs).then(() => { throw new Error(`not open within ${timeoutMs} ms`) })])
  }

  send (message: Uint8Array): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(message)
  }

  /** Time from creating the socket to the first sync step 2, in ms; NaN before it arrived. */
  get syncedMs (): number {
    return this.syncedUs === null ? NaN : (this.syncedUs - this.startUs) / 1000
  }

  get closed (): boolean {
    return this.closeCode !== null
  }

  /** Closes the socket, terminating it after `timeoutMs`. */
  async close (timeoutMs: number): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => { this.ws.terminate(); resolve() }, timeoutMs)
      this.ws.once('close', () => { clearTimeout(timer); resolve() })
      this.ws.close()
    })
  }
}

/** An update that holds nothing: what an empty document sends as its sync step 2. */
const emptyUpdate = new Uint8Array([0, 0])
/** The state vector of an empty document. */
const emptyStateVector = new Uint8Array([0])

/** Resolves true once `predicate` holds, false when `timeoutMs` passed or `watch` saw the server end. */
async function until (predicate: () => boolean, timeoutMs: number, watch: Watchdog): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > deadline || !watch.alive) return false
    await pause(10)
  }
  return true
}

async function measure (server: ServerProcess, built: Built, s: HostileSettings, log: (line: string) => void, markWindow: (startUs: number, endUs: number) => void): Promise<Figures> {
  const watch = new Watchdog(server, s.rssLimitBytes)
  const closers: Array<() => Promise<void>> = []
  const room = 'hostile'
  let index = 0
  let readerSignal: (() => void) | null = null
  const peer = (inRoom: string, keepUpdates: boolean, tally = createTally(), onUpdate?: () => void): Peer => {
    const created = new Peer({ url: server.url, room: inRoom, index: index++, sync: true, awareness: false, keepUpdates, tally, onUpdate })
    closers.push(() => created.close(1000))
    return created
  }
  const raw = (newcomer: boolean): RawClient => {
    const created = new RawClient(server.url, room, newcomer)
    closers.push(() => created.close(1000))
    return created
  }
  const figures: Figures = {}
  try {
    // Honest peers of the attacked room: one types afterwards, the other receives.
    const editor = peer(room, true)
    const reader = peer(room, false, createTally(), () => readerSignal?.())
    await editor.connect(s.connectTimeoutMs)
    await reader.connect(s.connectTimeoutMs)
    const seed = built.seed
    if (seed) {
      const seeder = raw(false)
      await seeder.open(s.connectTimeoutMs)
      for (const frame of seed) seeder.send(frame)
      if (!await until(() => reader.options.tally.updates >= seed.length, s.attackTimeoutMs, watch)) throw new Error('the seed did not reach the other peer')
      await seeder.close(5000)
    }

    // The witness, in a room of its own.
    const witnessTally = createTally()
    const witnessSender = peer('witness', false)
    const witnessReceiver = peer('witness', false, witnessTally)
    await witnessSender.connect(s.connectTimeoutMs)
    await witnessReceiver.connect(s.connectTimeoutMs)
    let seq = 0
    const witness = setInterval(() => witnessSender.edit(seq++), s.witnessPeriodMs)

    const attacker = raw(false)
    await attacker.open(s.connectTimeoutMs)
    const restStart = { at: performance.now(), cpu: cpuOf(server) }
    await pause(s.restMs)
    const restMsPerMs = (cpuOf(server) - restStart.cpu) / (performance.now() - restStart.at)
    const restLatencyUs = median(witnessTally.latenciesUs)
    const firstAttackSample = witnessTally.latenciesUs.length

    // The attack.
    server.resetPeakRss()
    const rssBefore = server.rssBytes()
    const cpuBefore = cpuOf(server)
    const attackStart = performance.now()
    const windowStartUs = nowUs()
    for (const message of built.messages) attacker.send(message)
    let sent = built.messages.reduce((sum, m) => sum + m.length, 0)
    if (built.flood) {
      const { message, perSecond, durationMs } = built.flood
      const floodCpuStart = cpuOf(server)
      const floodStart = performance.now()
      let count = 0
      while (performance.now() - floodStart < durationMs && watch.alive && !attacker.closed) {
        const due = Math.min(Math.floor((performance.now() - floodStart) * perSecond / 1000), Math.round(durationMs * perSecond / 1000))
        for (; count < due; count++) attacker.send(message)
        await pause(1000 / perSecond)
      }
      figures.floodCpuPercent = (cpuOf(server) - floodCpuStart) / (performance.now() - floodStart) * 100
      figures.floodAnswered = count > 0 ? attacker.syncStep2Received / count : NaN
      sent += count * message.length
      // What is not answered yet is queued in the server: it is part of the attack's cost.
      await until(() => attacker.syncStep2Received >= count || attacker.closed, s.attackTimeoutMs, watch)
    }
    await untilIdle(server, watch, restMsPerMs, s.attackTimeoutMs)
    clearInterval(witness)
    markWindow(windowStartUs, nowUs())
    const alive = watch.alive
    const attackMs = performance.now() - attackStart
    const afterAttack = witnessTally.latenciesUs.slice(firstAttackSample)
    Object.assign(figures, {
      attackMiB: mib(sent),
      answer: attacker.closeCode ?? 0,
      // A server that died is charged what it had used and grown at the watchdog's last reading.
      attackCpuMs: (alive ? cpuOf(server) : watch.lastCpuMs) - cpuBefore - restMsPerMs * attackMs,
      stallMs: alive && afterAttack.length > 0 ? (Math.max(...afterAttack) - restLatencyUs) / 1000 : NaN,
      peakRssGrowthMiB: mib((alive ? peakRssOf(server) : watch.lastPeakRssBytes) - rssBefore),
      rssGrowthMiB: alive ? mib(rssOf(server) - rssBefore) : NaN,
      fateAfterAttack: fates[watch.fate]
    })

    // Afterwards: one-character edits, each waiting for the other peer's receipt.
    let editsDone = 0
    if (watch.alive) {
      // An honest client applies what it received; whether it can is a figure
      // too. One that cannot is replaced by a fresh peer that types without
      // applying (at the start of the text), so the server's cost is still measured.
      let typist: Peer | null = editor
      try {
        editor.applyReceived()
        figures.peerApplied = 1
      } catch (err) {
        figures.peerApplied = 0
        log(`  ${server.kind}: the honest peer could not apply what it received (${(err as Error).message}); a fresh peer types instead`)
        const fresh = peer(room, true)
        typist = await fresh.connect(s.connectTimeoutMs).then(() => fresh, (err: Error) => {
          log(`  ${server.kind}: the fresh peer did not sync either: ${err.message}`)
          return null
        })
      }
      const roundTrips: number[] = []
      const cpuStart = cpuOf(server)
      const deadline = Date.now() + s.editTimeMs
      while (typist && editsDone < s.edits && Date.now() < deadline) {
        const received = new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(false), Math.max(0, deadline - Date.now()))
          readerSignal = () => { clearTimeout(timer); resolve(true) }
        })
        const start = nowUs()
        typist.typeAtEnd('e')
        if (!await received) break
        roundTrips.push((nowUs() - start) / 1000)
        editsDone++
      }
      readerSignal = null
      const cpuMs = cpuOf(server) - cpuStart
      figures.editCpuUs = editsDone > 0 ? cpuMs / editsDone * 1000 : NaN
      figures.editRoundTripMs = median(roundTrips)
    }
    figures.editsDone = editsDone

    // Afterwards: newcomers join at once.
    if (watch.alive) {
      server.resetPeakRss()
      const rssStart = server.rssBytes()
      const cpuStart = cpuOf(server)
      const newcomers = Array.from({ length: built.newcomers }, () => raw(true))
      await until(() => newcomers.every((n) => n.syncStep2Received > 0 || n.closed), s.joinTimeoutMs, watch)
      await untilIdle(server, watch, 0, s.attackTimeoutMs)
      figures.joinMs = median(newcomers.map((n) => n.syncedMs))
      figures.joinMiB = mib(median(newcomers.map((n) => n.bytesReceived)))
      figures.newcomerSynced = newcomers.every((n) => n.syncStep2Received > 0) ? 1 : 0
      figures.joinAnswer = Math.max(...newcomers.map((n) => n.closeCode ?? 0))
      if (watch.alive) {
        figures.joinCpuMs = (cpuOf(server) - cpuStart) / built.newcomers
        figures.joinPeakRssGrowthMiB = mib(peakRssOf(server) - rssStart)
      }
    }
    figures.fateAtEnd = fates[watch.fate]
    if (watch.fate !== 'alive') log(`  ${server.kind}: server ${fateLabels[fates[watch.fate]]}${server.exitStatus() ? ` (${server.exitStatus() ?? ''})` : ''}`)
    return figures
  } finally {
    watch.stop()
    await Promise.all(closers.map((close) => close()))
  }
}
