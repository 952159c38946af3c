/**
 * Several relays serving the same documents in one test process, each with
 * its own PostgreSQL store instance on shared tables and its own Redis bus
 * on a private redis-server — as separate processes would. Stock clients on
 * different relays edit together; the bus is cut and Redis restarted under
 * them. (Real processes, kill -9 and nginx are in cluster-processes.test.ts.)
 */
import { expect, it } from 'vitest'
import * as Y from 'yjs'
import { captureLog, connectClient, onTeardown, startTestRelay, synced, waitFor, type TestClient } from '../helpers/relay.js'
import { startPrivateRedis, type PrivateRedis } from '../helpers/redis-server.js'
import { describeWithServices, dropPostgresTables, postgresUrl, uniqueTablePrefix } from '../helpers/services.js'
import { openPostgresStore } from '../../server/storage/postgres.js'
import { createRedisBus } from '../../server/cluster/redis.js'
import { applyStoredDocument } from '../../server/protocol/document.js'
import type { Relay, RelayOptions } from '../../server/relay.js'
import type { DocStore } from '../../server/storage/store.js'

interface Node {
  readonly relay: Relay
  readonly store: DocStore
  readonly log: string[]
}

/** A relay with its own store instance on `prefix` and its own bus on `redis`. */
async function startNode (redis: PrivateRedis, prefix: string, options: RelayOptions = {}, processTimeoutMs = 600): Promise<Node> {
  const { logger, lines } = captureLog()
  const store = await openPostgresStore({ connectionString: postgresUrl(), tablePrefix: prefix })
  const bus = await createRedisBus({ url: redis.url, logger, heartbeatMs: 100, processTimeoutMs })
  onTeardown(async () => {
    await bus.close()
    await store.close()
  })
  const relay = await startTestRelay({ store, bus, logger, ...options })
  return { relay, store, log: lines }
}

async function cluster (count: number, options: RelayOptions = {}): Promise<{ redis: PrivateRedis, nodes: Node[], prefix: string }> {
  const redis = await startPrivateRedis()
  const prefix = uniqueTablePrefix()
  onTeardown(() => dropPostgresTables(prefix))
  const nodes: Node[] = []
  for (let i = 0; i < count; i++) nodes.push(await startNode(redis, prefix, options))
  return { redis, nodes, prefix }
}

function converged (clients: readonly TestClient[]): boolean {
  const text = clients[0].text.toString()
  return clients.every((client) => client.text.toString() === text)
}

/** The document as stored, read by a fresh store instance. */
async function storedText (prefix: string, name: string): Promise<string> {
  const store = await openPostgresStore({ connectionString: postgresUrl(), tablePrefix: prefix })
  try {
    const doc = new Y.Doc()
    applyStoredDocument(doc, await store.load(name))
    const text = doc.getText('text').toString()
    doc.destroy()
    return text
  } finally {
    await store.close()
  }
}

await describeWithServices(['postgres'], 'relays sharing documents through PostgreSQL and Redis', () => {
  it('converges clients of three relays editing one document at once, storing each update once', async () => {
    const { nodes, prefix } = await cluster(3)
    const clients = nodes.flatMap((node) => [connectClient(node.relay, 'shared'), connectClient(node.relay, 'shared')])
    await Promise.all(clients.map((client) => synced(client)))
    for (let round = 0; round < 20; round++) {
      clients.forEach((client, i) => client.text.insert(Math.min(client.text.length, (round * 7 + i) % 11), `${i}`))
    }
    await waitFor(() => converged(clients) && clients[0].text.length === 120, 10_000, 'every client to hold all 120 characters')
    // Every relay's room holds the same text as the clients.
    for (const node of nodes) await waitFor(() => node.relay.registry.get('shared')?.text === clients[0].text.toString(), 5_000, 'the rooms')
    expect(await storedText(prefix, 'shared')).toBe(clients[0].text.toString())
    // Each update stored once: 120 single-character inserts, whichever relay took them.
    const store = await openPostgresStore({ connectionString: postgresUrl(), tablePrefix: prefix })
    try {
      expect((await store.load('shared')).seq).toBeLessThanOrEqual(120 + clients.length)
    } finally {
      await store.close()
    }
  })

  it('shows each person\'s presence on the other relays, and removes it when they leave', async () => {
    const { nodes } = await cluster(2)
    const a = connectClient(nodes[0].relay, 'people')
    const b = connectClient(nodes[1].relay, 'people')
    await Promise.all([synced(a), synced(b)])
    a.provider.awareness.setLocalStateField('user', { name: 'Ada' })
    b.provider.awareness.setLocalStateField('user', { name: 'Bob' })
    await waitFor(() => b.provider.awareness.getStates().get(a.doc.clientID)?.user?.name === 'Ada', 5_000, 'Ada at Bob\'s')
    await waitFor(() => a.provider.awareness.getStates().get(b.doc.clientID)?.user?.name === 'Bob', 5_000, 'Bob at Ada\'s')
    a.provider.disconnect()
    await waitFor(() => !b.provider.awareness.getStates().has(a.doc.clientID), 5_000, 'Ada gone at Bob\'s')
  })

  it('tells the other relays at once that its people left when it shuts down', async () => {
    const redis = await startPrivateRedis()
    const prefix = uniqueTablePrefix()
    onTeardown(() => dropPostgresTables(prefix))
    // Processes are judged gone only after a minute: what removes the person must be the shutdown itself.
    const [stopping, staying] = [await startNode(redis, prefix, {}, 60_000), await startNode(redis, prefix, {}, 60_000)]
    const a = connectClient(stopping.relay, 'farewell')
    const b = connectClient(staying.relay, 'farewell')
    await Promise.all([synced(a), synced(b)])
    a.provider.awareness.setLocalStateField('user', { name: 'Ada' })
    await waitFor(() => b.provider.awareness.getStates().has(a.doc.clientID), 5_000, 'Ada at Bob\'s')
    a.provider.shouldConnect = false
    await stopping.relay.close()
    await waitFor(() => !b.provider.awareness.getStates().has(a.doc.clientID), 5_000, 'Ada gone at Bob\'s')
    expect(staying.log.some((line) => line.includes('cluster.process-gone'))).toBe(false)
  })

  it('serves a late relay the whole document, and one that missed messages catches up from the store', async () => {
    const { redis, nodes, prefix } = await cluster(2)
    const a = connectClient(nodes[0].relay, 'late')
    const b = connectClient(nodes[1].relay, 'late')
    await Promise.all([synced(a), synced(b)])
    a.text.insert(0, 'before the cut\n')
    await waitFor(() => b.text.toString() === a.text.toString(), 5_000, 'first line')
    // Cut every subscriber connection: messages published meanwhile are lost to the bus.
    await redis.cutClients('pubsub')
    a.text.insert(a.text.length, 'while cut\n')
    b.text.insert(0, 'other side\n')
    await waitFor(() => converged([a, b]) && a.text.toString().includes('while cut') && a.text.toString().includes('other side'), 10_000, 'convergence after the cut')
    const late = await startNode(redis, prefix)
    const c = connectClient(late.relay, 'late')
    await synced(c)
    await waitFor(() => c.text.toString() === a.text.toString(), 5_000, 'the late relay')
  })

  it('converges after Redis is killed and restarted mid-editing, without a reload', async () => {
    const { redis, nodes, prefix } = await cluster(2)
    const a = connectClient(nodes[0].relay, 'restart')
    const b = connectClient(nodes[1].relay, 'restart')
    await Promise.all([synced(a), synced(b)])
    a.text.insert(0, 'start\n')
    await waitFor(() => b.text.toString() === 'start\n', 5_000, 'start')
    await redis.kill()
    a.text.insert(a.text.length, 'a during the outage\n')
    b.text.insert(0, 'b during the outage\n')
    await redis.restart()
    await waitFor(() => converged([a, b]) && a.text.length === 'start\na during the outage\nb during the outage\n'.length, 15_000, 'convergence after the restart')
    expect(await storedText(prefix, 'restart')).toBe(a.text.toString())
    for (const node of nodes) await waitFor(() => node.relay.registry.get('restart')?.text === a.text.toString(), 5_000, 'the rooms')
  })
})
