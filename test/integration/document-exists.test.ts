/**
 * `GET /api/exists/{name}` over real HTTP: it tells a stored document from
 * an unknown name, counts a document open in a room before anything is
 * stored, forgets a deleted one, and with access control on answers only a
 * token that covers the name.
 */
import { describe, expect, it } from 'vitest'
import { connectClient, startTestRelay, synced, waitFor } from '../helpers/relay.js'
import { signToken, testSecret } from '../helpers/tokens.js'
import { createMemoryStore } from '../../server/storage/memory.js'
import type { Relay } from '../../server/relay.js'

/** Asks `relay` whether `name` exists (with `token` as bearer, if given): status and body. */
async function exists (relay: Relay, name: string, token?: string): Promise<{ status: number, body: any }> {
  const response = await fetch(`${relay.url}/api/exists/${encodeURIComponent(name)}`, {
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` }
  })
  return { status: response.status, body: await response.json() }
}

describe('GET /api/exists/{name}', () => {
  it('tells stored documents from unknown names on an open server', async () => {
    const store = createMemoryStore()
    const relay = await startTestRelay({ store, unloadGraceMs: 100 })
    expect(await exists(relay, 'team notes/2025')).toEqual({ status: 200, body: { exists: false } })

    const client = connectClient(relay, 'team notes/2025')
    await synced(client)
    // Open in a room, nothing stored yet: someone is in it, so it is there.
    expect((await exists(relay, 'team notes/2025')).body).toEqual({ exists: true })
    client.text.insert(0, 'agenda')
    await waitFor(() => relay.registry.get('team notes/2025')?.text === 'agenda')
    client.provider.destroy()
    await waitFor(() => relay.registry.get('team notes/2025') === undefined, 10_000, 'the room to unload')
    // Only the store knows it now.
    expect((await exists(relay, 'team notes/2025')).body).toEqual({ exists: true })
    expect((await exists(relay, 'team notes/2026')).body).toEqual({ exists: false })

    const deleted = await fetch(`${relay.url}/api/documents/${encodeURIComponent('team notes/2025')}`, { method: 'DELETE' })
    expect(deleted.status).toBe(200)
    expect((await exists(relay, 'team notes/2025')).body).toEqual({ exists: false })
  })

  it('refuses bad names and other methods with the API error shape', async () => {
    const relay = await startTestRelay()
    const bad = await exists(relay, 'bad <name>')
    expect(bad.status).toBe(400)
    expect(bad.body.error.code).toBe('bad-request')
    const post = await fetch(`${relay.url}/api/exists/notes`, { method: 'POST' })
    expect(post.status).toBe(405)
    expect(post.headers.get('allow')).toBe('GET')
  })

  it('with access control on, answers only a token that covers the document', async () => {
    const secret = testSecret()
    const relay = await startTestRelay({ authSecret: secret })
    const client = connectClient(relay, 'team/plan', { token: await signToken(secret, { doc: 'team/plan', perm: 'write' }) })
    await synced(client)
    client.text.insert(0, 'plan')
    await waitFor(() => relay.registry.get('team/plan')?.text === 'plan')

    expect((await exists(relay, 'team/plan')).status).toBe(401)
    expect((await exists(relay, 'team/plan', 'not-a-token')).status).toBe(401)
    const expired = await signToken(secret, { doc: 'team/plan', perm: 'read', expiresInSeconds: -10 })
    expect((await exists(relay, 'team/plan', expired)).status).toBe(401)

    const viewer = await signToken(secret, { doc: 'team/plan', perm: 'read' })
    expect(await exists(relay, 'team/plan', viewer)).toEqual({ status: 200, body: { exists: true } })
    // A token for one document says nothing about another, even an unknown one.
    const other = await exists(relay, 'team/plans', viewer)
    expect(other.status).toBe(403)
    expect(other.body.error.code).toBe('forbidden')

    const team = await signToken(secret, { doc: 'team/*', perm: 'read' })
    expect((await exists(relay, 'team/plan', team)).body).toEqual({ exists: true })
    expect((await exists(relay, 'team/plans', team)).body).toEqual({ exists: false })
    expect((await exists(relay, 'private', team)).status).toBe(403)
  })
})
