/**
 * Real `coedit serve` processes sharing documents through PostgreSQL and a
 * private redis-server, some behind a real nginx: stock clients on every
 * process and through nginx converge and the store holds what they hold; a
 * process killed with SIGKILL loses nothing anyone received and its people
 * leave the others' presence; Redis killed, restarted and its connections
 * cut mid-editing store nothing twice; a late process serves the whole
 * document while two compact it at once; `/readyz` follows Redis.
 */
import { expect, it } from 'vitest'
import * as Y from 'yjs'
import { connectClient, synced, waitFor, onTeardown, type TestClient } from '../helpers/relay.js'
import { describeWithServices } from '../helpers/services.js'
import { seededRandom, type Random } from '../helpers/random.js'
import { RawClient, missingFrom } from '../helpers/raw-client.js'
import type { ChildRelay } from '../helpers/child-relay.js'
import {
  connectionCount, nginxInFront, readyStatus, startProcessCluster, storedDocument, storedRows, until
} from '../helpers/cluster.js'

const seed = Number(process.env.CLUSTER_SEED ?? 20261201)

/**
 * For tests that count stored rows: every update stays a row of its own. (A
 * compaction racing another keeps the other's snapshot as a row, whose
 * content repeats that of other rows by design.)
 */
const noCompaction = ['--compact-after-updates', '1000000', '--compact-after-bytes', '1000000000']

/** A stock client that records what it received from its server and how many updates it made itself. */
interface Typist extends TestClient {
  readonly name: string
  /** Updates the provider applied from the server (sync step 2 and updates). */
  readonly received: Uint8Array[]
  /** Updates made by typing into this client. */
  readonly localUpdates: () => number
  /** How often the provider's socket went from connected to disconnected. */
  readonly disconnects: () => number
}

/** Origin of state copied from an earlier client, as a page reload restores it. */
const restored = Symbol('restored')

/** A stock client of `room` at `url` (a process or nginx), showing `name` in presence. */
function typist (url: string, room: string, name: string): Typist {
  const client = connectClient(url, room)
  const received: Uint8Array[] = []
  let local = 0
  let disconnects = 0
  let connected = false
  client.doc.on('update', (update: Uint8Array, origin: unknown) => {
    if (origin === client.provider) received.push(update)
    else if (origin !== restored) local++
  })
  client.provider.on('status', ({ status }: { status: string }) => {
    if (status === 'connected') connected = true
    else if (status === 'disconnected' && connected) { connected = false; disconnects++ }
  })
  client.provider.awareness.setLocalStateField('user', { name })
  return { ...client, name, received, localUpdates: () => local, disconnects: () => disconnects }
}

/** A new client at `url` holding `old`'s document, as a reload of its page would: `old` is destroyed. */
function reloaded (old: Typist, url: string, room: string): Typist {
  const next = typist(url, room, old.name)
  Y.applyUpdate(next.doc, Y.encodeStateAsUpdate(old.doc), restored)
  old.provider.destroy()
  return next
}

/** Inserts a short word (or, with `deletes`, three times in ten deletes 1–3 characters) at a random place. */
function edit (text: Y.Text, random: Random, deletes: boolean): void {
  if (deletes && text.length > 0 && random.next() < 0.3) {
    const at = random.int(text.length)
    text.delete(at, Math.min(1 + random.int(3), text.length - at))
  } else {
    text.insert(random.int(text.length + 1), random.word(1 + random.int(3)))
  }
}

/**
 * Every `everyMs` (plus up to as much again), each client of `clients()` makes
 * one edit, until `stop()` or `maxEdits` edits in all. Returns the number made.
 */
function keepTyping (clients: () => readonly Typist[], random: Random, options: { everyMs: number, maxEdits: number, deletes: boolean }) {
  let edits = 0
  let timer: NodeJS.Timeout | undefined
  const tick = (): void => {
    for (const client of clients()) {
      if (edits >= options.maxEdits) return
      edit(client.text, random, options.deletes)
      edits++
    }
    timer = setTimeout(tick, options.everyMs + random.int(options.everyMs))
  }
  tick()
  const typing = { stop: () => clearTimeout(timer), get edits () { return edits } }
  onTeardown(typing.stop)
  return typing
}

/** Whether every client holds the same document (text and state vector). */
function converged (clients: readonly Typist[]): boolean {
  const text = clients[0].text.toString()
  const vector = Buffer.from(Y.encodeStateVector(clients[0].doc))
  return clients.every((client) => client.text.toString() === text && vector.equals(Buffer.from(Y.encodeStateVector(client.doc))))
}

async function allSynced (clients: readonly Typist[]): Promise<void> {
  await Promise.all(clients.map((client) => synced(client)))
}

/** Whether `client` sees exactly the people in `names` (itself included). */
function sees (client: Typist, names: readonly string[]): boolean {
  const shown = [...client.provider.awareness.getStates().values()].map((state) => (state.user as { name?: string } | undefined)?.name ?? '?')
  return shown.length === names.length && names.every((name) => shown.includes(name))
}

/** The text of document `name` as stored under `prefix`. */
async function storedText (prefix: string, name: string): Promise<string> {
  const doc = await storedDocument(prefix, name)
  const text = doc.getText('text').toString()
  doc.destroy()
  return text
}

/** What a fresh client of `child` receives of `room`. */
async function servedBy (child: ChildRelay, room: string): Promise<Y.Doc> {
  const probe = new RawClient()
  onTeardown(() => probe.destroy())
  await probe.connect(child.url, room)
  probe.terminate()
  return probe.doc
}

await describeWithServices(['postgres'], 'coedit processes sharing documents through PostgreSQL and Redis', () => {
  it('converges stock clients of three processes, directly and through nginx, and stores what they hold', async () => {
    const cluster = await startProcessCluster(3, noCompaction)
    const proxy = await nginxInFront(cluster.processes)
    const clients = [
      ...cluster.processes.map((child, i) => typist(child.url, 'shared', `direct ${i}`)),
      typist(proxy, 'shared', 'proxied 0'),
      typist(proxy, 'shared', 'proxied 1')
    ]
    await allSynced(clients)
    const typing = keepTyping(() => clients, seededRandom(seed), { everyMs: 5, maxEdits: 300, deletes: true })
    await waitFor(() => typing.edits === 300, 20_000, '300 edits')
    await waitFor(() => converged(clients), 15_000, 'convergence')
    expect(clients[0].text.length).toBeGreaterThan(0)
    expect(await storedText(cluster.prefix, 'shared')).toBe(clients[0].text.toString())
    const rows = await storedRows(cluster.prefix, 'shared')
    expect({ repeatedSeqs: rows.repeatedSeqs, repeatedInsertions: rows.repeatedInsertions }).toEqual({ repeatedSeqs: 0, repeatedInsertions: 0 })
  }, 60_000)

  it('after kill -9 of one process, loses nothing anyone received and drops its people from the others\' presence', async () => {
    const room = 'killed'
    const cluster = await startProcessCluster(3)
    const proxy = await nginxInFront(cluster.processes)
    const direct = cluster.processes.map((child, i) => typist(child.url, room, `direct ${i}`))
    await allSynced(direct)
    const proxied = [typist(proxy, room, 'proxied 0'), typist(proxy, room, 'proxied 1')]
    await allSynced(proxied)
    // The process nginx sends this document to dies: its proxied clients must move too.
    const counts = await Promise.all(cluster.processes.map(connectionCount))
    const victim = counts.indexOf(3)
    expect(counts.filter((count) => count === 3), `connections per process: ${counts.join(', ')}`).toHaveLength(1)
    const everyone = [...direct.map((client) => client.name), ...proxied.map((client) => client.name)]
    let current = [...direct, ...proxied]
    await waitFor(() => current.every((client) => sees(client, everyone)), 10_000, 'everyone to see everyone')
    const all: Typist[] = [...current] // every client ever made, for what they received

    const random = seededRandom(seed + 1)
    const typing = keepTyping(() => current, random, { everyMs: 40, maxEdits: 4_000, deletes: true })
    await waitFor(() => typing.edits >= 150, 20_000, '150 edits before the kill')
    const killedAt = Date.now()
    await cluster.processes[victim].kill()

    // Its direct client reloads on the next process; the proxied ones reconnect through nginx by themselves.
    const gone = direct[victim]
    const next = cluster.processes[(victim + 1) % 3]
    await waitFor(() => !gone.provider.wsconnected, 5_000, 'the dead process\'s client to notice')
    const replacement = reloaded(gone, next.url, room)
    all.push(replacement)
    const survivors = direct.filter((_, i) => i !== victim)
    current = [...survivors, replacement, ...proxied]
    const disconnectsBefore = survivors.map((client) => client.disconnects())

    // The dead process's person (by client id) leaves the survivors' presence through the cluster, not the
    // stock client's own 30 s timeout: the survivors keep receiving edits, and the bound is below it.
    const goneId = gone.doc.clientID
    await waitFor(() => survivors.every((client) => !client.provider.awareness.getStates().has(goneId)), 25_000, 'the dead process\'s person to leave the others\' presence')
    const presenceGoneMs = Date.now() - killedAt
    typing.stop()
    expect(survivors.map((client) => client.disconnects())).toEqual(disconnectsBefore)
    // nginx moved the proxied clients to a live process.
    expect(proxied.map((client) => client.disconnects() > 0 && client.provider.wsconnected)).toEqual([true, true])

    await allSynced(current)
    await waitFor(() => converged(current), 15_000, 'convergence after the kill')
    const fresh = await servedBy(next, room)
    const received = Y.mergeUpdates(all.flatMap((client) => client.received))
    expect(missingFrom(fresh, received, new Map())).toEqual([])
    expect(fresh.getText('text').toString()).toBe(current[0].text.toString())
    expect(await storedText(cluster.prefix, room)).toBe(current[0].text.toString())
    console.log(`kill -9 (seed ${seed + 1}): ${typing.edits} edits, presence gone ${presenceGoneMs} ms after the kill`)
    // Processes are judged gone 10 s after they were last heard (a look every second); a kill is heard of no later than it happens.
    const goneLogged = cluster.processes.filter((_, i) => i !== victim).map((child) => {
      const line = child.log.find((entry) => entry.includes('cluster.process-gone'))
      return line === undefined ? 'not logged' : `${Date.parse(line.split(' ', 1)[0]) - killedAt} ms`
    })
    expect(presenceGoneMs, `ms from the kill until its person left the others' presence (cluster.process-gone logged by the survivors after ${goneLogged.join(', ')})`).toBeLessThan(15_000)
  }, 90_000)

  it('converges without a reload after Redis is killed, restarted and its connections cut mid-editing, storing nothing twice', async () => {
    const room = 'bus-faults'
    const cluster = await startProcessCluster(3, noCompaction)
    const clients = cluster.processes.flatMap((child, i) => [typist(child.url, room, `a${i}`), typist(child.url, room, `b${i}`)])
    await allSynced(clients)
    const typing = keepTyping(() => clients, seededRandom(seed + 2), { everyMs: 15, maxEdits: 2_000, deletes: true })
    const after = async (edits: number): Promise<void> => { await waitFor(() => typing.edits >= edits, 20_000, `${edits} edits`) }
    // Every process connected to Redis again (publisher and subscriber), so a cut finds one of each per process.
    const allReady = (): Promise<void> => until(async () => (await Promise.all(cluster.processes.map(readyStatus))).every((status) => status === 200), 15_000, '/readyz 200 on every process')
    await after(100)
    await cluster.redis.kill()
    await after(200)
    await cluster.redis.restart()
    await after(300)
    await allReady()
    expect(await cluster.redis.cutClients('pubsub')).toBe(3)
    await after(400)
    await allReady()
    expect(await cluster.redis.cutClients('normal')).toBe(3)
    await after(500)
    typing.stop()
    await waitFor(() => converged(clients), 20_000, 'convergence after faults while typing')

    // Edits on one process only, made while the bus is down or reconnecting, none after: no later update
    // reveals a gap to the others, so they must catch up from the store when the bus comes back.
    const random = seededRandom(seed + 20)
    await cluster.redis.kill()
    await until(async () => (await Promise.all(cluster.processes.map(readyStatus))).every((status) => status === 503), 10_000, '/readyz 503 on every process')
    for (const client of clients.slice(0, 2)) edit(client.text, random, true)
    await cluster.redis.restart()
    await waitFor(() => converged(clients), 20_000, 'convergence after edits made while Redis was down')
    await allReady()
    expect(await cluster.redis.cutClients('pubsub')).toBe(3)
    for (const client of clients.slice(2, 4)) edit(client.text, random, true)
    await waitFor(() => converged(clients), 20_000, 'convergence after edits made while subscriptions were cut')
    expect(clients.map((client) => client.disconnects())).toEqual(clients.map(() => 0))
    expect(await storedText(cluster.prefix, room)).toBe(clients[0].text.toString())
    const rows = await storedRows(cluster.prefix, room)
    const localUpdates = clients.reduce((sum, client) => sum + client.localUpdates(), 0)
    expect({ repeatedSeqs: rows.repeatedSeqs, repeatedInsertions: rows.repeatedInsertions, compactions: rows.compactions }).toEqual({ repeatedSeqs: 0, repeatedInsertions: 0, compactions: 0 })
    expect(rows.rows).toBeLessThanOrEqual(localUpdates)
  }, 90_000)

  it('serves a late process the whole document while two compact it at once, and the store keeps everything', async () => {
    const room = 'compacted'
    const args = ['--compact-after-updates', '5']
    const cluster = await startProcessCluster(2, args)
    const clients = cluster.processes.map((child, i) => typist(child.url, room, `early ${i}`))
    await allSynced(clients)
    const typing = keepTyping(() => clients, seededRandom(seed + 3), { everyMs: 10, maxEdits: 400, deletes: true })
    await waitFor(() => typing.edits >= 100, 20_000, '100 edits')
    const late = await cluster.start(args)
    const latecomer = typist(late.url, room, 'late')
    await synced(latecomer)
    clients.push(latecomer)
    await waitFor(() => typing.edits === 400, 20_000, '400 edits')
    await waitFor(() => converged(clients), 15_000, 'convergence')
    const rows = await storedRows(cluster.prefix, room)
    expect(rows.rows, 'rows left in the log').toBeLessThan(clients.reduce((sum, client) => sum + client.localUpdates(), 0))
    expect(rows.compactions, 'compactions').toBeGreaterThan(10)
    expect(rows.repeatedSeqs).toBe(0)
    expect((await servedBy(late, room)).getText('text').toString()).toBe(clients[0].text.toString())
    for (const child of cluster.processes) expect(await child.stop()).toBe(0)
    const stored = await storedDocument(cluster.prefix, room)
    expect(stored.getText('text').toString()).toBe(clients[0].text.toString())
    expect(Buffer.from(Y.encodeStateVector(stored)).equals(Buffer.from(Y.encodeStateVector(clients[0].doc)))).toBe(true)
    stored.destroy()
  }, 60_000)

  it('answers /readyz 503 while Redis is down and 200 once it is back; writes made meanwhile are stored and reach the others', async () => {
    const room = 'outage'
    const cluster = await startProcessCluster(2)
    const [a, b] = cluster.processes.map((child, i) => typist(child.url, room, `p${i}`))
    await allSynced([a, b])
    expect(await Promise.all(cluster.processes.map(readyStatus))).toEqual([200, 200])
    a.text.insert(0, 'before\n')
    await waitFor(() => b.text.toString() === 'before\n', 5_000, 'the first line at b')

    await cluster.redis.kill()
    await until(async () => (await Promise.all(cluster.processes.map(readyStatus))).every((status) => status === 503), 10_000, '/readyz 503 on both')
    const body = await (await fetch(`${cluster.processes[0].url}/readyz`)).json() as { status: string, problems: string[] }
    expect(body.status).toBe('unavailable')
    expect(JSON.stringify(body.problems)).toMatch(/redis|bus|cluster/i)
    a.text.insert(a.text.length, 'written while Redis is down\n')
    await until(async () => (await storedText(cluster.prefix, room)).includes('written while Redis is down'), 10_000, 'the write stored')
    expect(await Promise.all(cluster.processes.map(readyStatus))).toEqual([503, 503])

    await cluster.redis.restart()
    await until(async () => (await Promise.all(cluster.processes.map(readyStatus))).every((status) => status === 200), 15_000, '/readyz 200 on both')
    await waitFor(() => converged([a, b]) && b.text.toString() === 'before\nwritten while Redis is down\n', 15_000, 'the write at b')
    expect([a.disconnects(), b.disconnects()]).toEqual([0, 0])
  }, 60_000)
})
