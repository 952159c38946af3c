/**
 * `/livez` and `/readyz` of a relay whose PostgreSQL goes away and comes
 * back, through a TCP proxy the test controls (Redis's part is in
 * cluster-processes.test.ts).
 */
import { expect, it } from 'vitest'
import { connectClient, onTeardown, startTestRelay, synced, waitFor } from '../helpers/relay.js'
import { startTcpProxy } from '../helpers/tcp-proxy.js'
import { describeWithServices, dropPostgresTables, postgresUrl, uniqueTablePrefix } from '../helpers/services.js'
import { openPostgresStore } from '../../server/storage/postgres.js'

async function status (url: string): Promise<{ status: number, body: { status: string, problems?: string[] } }> {
  const response = await fetch(url)
  return { status: response.status, body: await response.json() as { status: string, problems?: string[] } }
}

await describeWithServices(['postgres'], 'readiness', () => {
  it('answers /readyz 503 naming storage while PostgreSQL is unreachable, and 200 once it is back; /livez stays 200', async () => {
    const proxy = await startTcpProxy()
    onTeardown(() => proxy.close())
    const prefix = uniqueTablePrefix()
    onTeardown(() => dropPostgresTables(prefix))
    const store = await openPostgresStore({ connectionString: proxy.url(postgresUrl()), tablePrefix: prefix, connectTimeoutMs: 1_000, queryTimeoutMs: 1_500 })
    onTeardown(async () => {
      proxy.restore()
      await store.close()
    })
    const relay = await startTestRelay({ store })
    expect(await status(`${relay.url}/readyz`)).toEqual({ status: 200, body: { status: 'ready' } })

    // The next query cuts every connection, and the proxy refuses new ones.
    void proxy.cutWhen((message) => message.sql?.includes('SELECT 1') === true)
    const down = await status(`${relay.url}/readyz`)
    expect(down.status).toBe(503)
    expect(down.body.problems?.join(' ')).toMatch(/storage is unreachable/)
    expect((await status(`${relay.url}/livez`)).status).toBe(200)

    proxy.restore()
    const deadline = Date.now() + 10_000
    while ((await status(`${relay.url}/readyz`)).status !== 200) {
      if (Date.now() > deadline) throw new Error('/readyz did not answer 200 within 10 s of the database coming back')
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    // And the relay serves documents again.
    const client = connectClient(relay, 'after the outage')
    await synced(client)
    client.text.insert(0, 'stored')
    await waitFor(() => relay.registry.get('after the outage')?.text === 'stored', 5_000, 'the edit')
  })
})
