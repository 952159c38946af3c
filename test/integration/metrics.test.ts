/**
 * `/metrics` over real sockets: scraped before and after stock clients type,
 * an attacker is closed and an upgrade is refused, the counters move by what
 * happened; the endpoint needs an operator token when access control is on;
 * the output is Prometheus text.
 */
import { describe, expect, it } from 'vitest'
import { randomUUID } from 'node:crypto'
import { connectClient, onTeardown, startTestRelay, synced, waitFor, type TestClient } from '../helpers/relay.js'
import { closeCodeOf, openWebSocket, upgradeStatus } from '../helpers/raw-socket.js'
import { signToken, testSecret } from '../helpers/tokens.js'
import { describeWithServices, redisUrl } from '../helpers/services.js'
import { encodeAwareness } from '../../server/protocol/messages.js'
import { encodeAwarenessUpdate } from '../../server/protocol/awareness.js'
import { createMemoryStore } from '../../server/storage/memory.js'
import { createRedisBus } from '../../server/cluster/redis.js'
import { createLogger } from '../../server/log.js'
import type { Relay } from '../../server/relay.js'

/** Samples by series, `name{label="value",…}` as written (prom-client writes labels in a fixed order). */
type Samples = Map<string, number>

const helpLine = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/
const typeLine = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/
const sampleLine = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})? (-?(?:[0-9.]+(?:e[+-]?[0-9]+)?|[Nn][Aa][Nn]|\+Inf|-Inf))(?: -?[0-9]+)?$/

/**
 * Parses the Prometheus text format strictly (NaN in any case, as Prometheus
 * reads it: prom-client writes `Nan`): every line is a HELP, a TYPE
 * or a sample, and every sample belongs to a family with both (histogram
 * samples by their `_bucket`, `_sum` and `_count` suffixes).
 */
function parsePrometheus (text: string): Samples {
  const helped = new Set<string>()
  const typed = new Map<string, string>()
  const samples: Samples = new Map()
  for (const line of text.split('\n')) {
    if (line === '') continue
    let match = helpLine.exec(line)
    if (match) { helped.add(match[1]); continue }
    match = typeLine.exec(line)
    if (match) { typed.set(match[1], match[2]); continue }
    match = sampleLine.exec(line)
    if (!match) throw new Error(`not a Prometheus text line: ${line}`)
    const name = match[1]
    const family = typed.has(name) ? name : name.replace(/_(bucket|sum|count)$/, '')
    if (!typed.has(family) || !helped.has(family)) throw new Error(`sample of ${name} without HELP and TYPE`)
    samples.set(`${name}${match[2] ?? ''}`, Number(match[3]))
  }
  return samples
}

async function scrape (relay: Relay, token?: string): Promise<Samples> {
  const res = await fetch(`${relay.url}/metrics`, { headers: token ? { authorization: `Bearer ${token}` } : {} })
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
  return parsePrometheus(await res.text())
}

/** Scrapes `relay` (open) until `done` holds for what it answers; fails after ten seconds. */
async function scrapeUntil (relay: Relay, done: (samples: Samples) => boolean): Promise<Samples> {
  const deadline = Date.now() + 10_000
  for (;;) {
    const samples = await scrape(relay)
    if (done(samples)) return samples
    if (Date.now() > deadline) throw new Error('timed out waiting for the metrics to show it')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** How much `series` grew from `before` to `after` (a series first seen in `after` grew from 0). */
function delta (before: Samples, after: Samples, series: string): number {
  return (after.get(series) ?? 0) - (before.get(series) ?? 0)
}

/** Types `count` characters into `client`, one transaction (so one update message) each. */
function type (client: TestClient, count: number): void {
  for (let i = 0; i < count; i++) client.text.insert(client.text.length, String.fromCharCode(97 + (i % 26)))
}

const KiB = 1024

describe('/metrics with access control on', () => {
  it('counts the messages, closes, refusals and auth failures real traffic caused', async () => {
    const secret = testSecret()
    const relay = await startTestRelay({ authSecret: secret, maxAwarenessStateBytes: 4 * KiB })
    const operator = await signToken(secret, { doc: '*', perm: 'write' })
    const writer = await signToken(secret, { doc: 'notes', perm: 'write' })
    const before = await scrape(relay, operator)

    const [alice, bob] = [connectClient(relay, 'notes', { token: writer }), connectClient(relay, 'notes', { token: writer })]
    await Promise.all([synced(alice), synced(bob)])
    const typed = 40
    type(alice, typed)
    await waitFor(() => bob.text.length === typed, 10_000, 'bob to see every character')
    const during = await scrape(relay, operator)
    expect(during.get('coedit_connections_open')).toBe(2)
    expect(during.get('coedit_rooms_loaded')).toBe(1)

    const attacker = await openWebSocket(relay, 'other', { token: await signToken(secret, { doc: 'other', perm: 'write' }) })
    const closed = closeCodeOf(attacker)
    attacker.send(encodeAwareness(encodeAwarenessUpdate([{ clientId: 777, clock: 1, state: JSON.stringify({ user: { name: 'n'.repeat(8 * KiB) } }) }])))
    expect(await closed).toBe(4413)
    expect(await upgradeStatus(relay, 'notes')).toBe(401)
    // The close is counted when the server's socket is gone, just after the client saw it.
    await waitFor(() => relay.connectionCount === 2, 10_000, 'the attacker to be gone')

    const after = await scrape(relay, operator)
    expect(delta(before, after, 'coedit_messages_received_total{type="update"}')).toBe(typed)
    // Each update goes to bob alone, as it came.
    expect(delta(before, after, 'coedit_messages_sent_total{type="update"}')).toBe(typed)
    expect(delta(before, after, 'coedit_message_bytes_sent_total{type="update"}')).toBe(delta(before, after, 'coedit_message_bytes_received_total{type="update"}'))
    expect(delta(before, after, 'coedit_message_bytes_received_total{type="update"}')).toBeGreaterThan(typed)
    expect(delta(before, after, 'coedit_messages_received_total{type="sync-step-1"}')).toBe(2)
    expect(delta(before, after, 'coedit_messages_sent_total{type="sync-step-1"}')).toBe(3)
    expect(delta(before, after, 'coedit_messages_received_total{type="awareness"}')).toBeGreaterThanOrEqual(3)
    // Each client answered the server's sync step 1 with a step 2 (empty: they start empty); it is applied like an update.
    expect(delta(before, after, 'coedit_messages_received_total{type="sync-step-2"}')).toBe(2)
    expect(delta(before, after, 'coedit_update_apply_seconds_count')).toBe(typed + 2)
    expect(delta(before, after, 'coedit_storage_append_seconds_count')).toBe(typed)
    expect(delta(before, after, 'coedit_connections_closed_total{code="4413"}')).toBe(1)
    expect(delta(before, after, 'coedit_refusals_total{reason="too-large"}')).toBe(1)
    expect(delta(before, after, 'coedit_refusals_total{reason="upgrade-401"}')).toBe(1)
    expect(delta(before, after, 'coedit_auth_failures_total{where="upgrade"}')).toBe(1)
    expect(after.get('coedit_connections_open')).toBe(2)
    // A relay alone has no cluster metrics; the Node process metrics are there.
    expect(after.has('coedit_cluster_healthy')).toBe(false)
    expect(after.get('process_cpu_user_seconds_total')).toBeGreaterThan(0)
    expect(after.has('nodejs_eventloop_lag_seconds')).toBe(true)
  })

  it('answers 401 without a valid token and 403 to a token that is not an operator\'s, and counts each', async () => {
    const secret = testSecret()
    const relay = await startTestRelay({ authSecret: secret })
    const status = async (token?: string): Promise<number> =>
      (await fetch(`${relay.url}/metrics`, { headers: token ? { authorization: `Bearer ${token}` } : {} })).status
    expect(await status()).toBe(401)
    expect(await status('not-a-token')).toBe(401)
    expect(await status(await signToken(testSecret('other'), { doc: '*', perm: 'write' }))).toBe(401)
    expect(await status(await signToken(secret, { doc: '*', perm: 'read' }))).toBe(403)
    expect(await status(await signToken(secret, { doc: 'notes', perm: 'write' }))).toBe(403)
    // The document API's refusals count too.
    expect((await fetch(`${relay.url}/api/documents`)).status).toBe(401)
    expect((await fetch(`${relay.url}/api/documents`, { headers: { authorization: `Bearer ${await signToken(secret, { doc: 'notes', perm: 'write' })}` } })).status).toBe(403)
    const after = await scrape(relay, await signToken(secret, { doc: '*', perm: 'write' }))
    expect(after.get('coedit_auth_failures_total{where="metrics"}')).toBe(5)
    expect(after.get('coedit_auth_failures_total{where="api"}')).toBe(2)
  })
})

describe('/metrics with the server open', () => {
  it('answers without a token and counts compactions', async () => {
    const relay = await startTestRelay({ compactAfterUpdates: 10 })
    const client = connectClient(relay, 'notes')
    await synced(client)
    const before = await scrape(relay)
    type(client, 25)
    const after = await scrapeUntil(relay, (samples) =>
      delta(before, samples, 'coedit_storage_append_seconds_count') === 25 &&
      delta(before, samples, 'coedit_storage_replace_seconds_count') === delta(before, samples, 'coedit_compactions_total'))
    expect(delta(before, after, 'coedit_compactions_total')).toBeGreaterThanOrEqual(1)
  })
})

await describeWithServices(['redis'], '/metrics of clustered relays', () => {
  it('counts the messages one process published and the other received, and says the bus is healthy', async () => {
    const logger = createLogger('warn', () => {})
    const channelPrefix = `coedit-metrics-${randomUUID()}`
    const store = createMemoryStore()
    const relays: Relay[] = []
    for (let i = 0; i < 2; i++) {
      const bus = await createRedisBus({ url: redisUrl(), logger, channelPrefix })
      onTeardown(() => bus.close())
      relays.push(await startTestRelay({ store, bus }))
    }
    const [a, b] = [connectClient(relays[0], 'notes'), connectClient(relays[1], 'notes')]
    await Promise.all([synced(a), synced(b)])
    const before = await Promise.all(relays.map((relay) => scrape(relay)))
    const typed = 15
    type(a, typed)
    await waitFor(() => b.text.length === typed, 10_000, 'the other process to relay every character')
    const after = await Promise.all(relays.map((relay) => scrape(relay)))
    expect(delta(before[0], after[0], 'coedit_cluster_messages_published_total{kind="update"}')).toBe(typed)
    expect(delta(before[1], after[1], 'coedit_cluster_messages_received_total{kind="update"}')).toBe(typed)
    expect(delta(before[1], after[1], 'coedit_cluster_messages_published_total{kind="update"}')).toBe(0)
    expect(after.map((samples) => samples.get('coedit_cluster_healthy'))).toEqual([1, 1])
  })
})
