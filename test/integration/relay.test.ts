import { describe, expect, it } from 'vitest'
import { connectClient, startTestRelay, synced, waitFor } from '../helpers/relay.js'

describe('relay with the stock y-websocket client', () => {
  it('syncs text between two clients', async () => {
    const relay = await startTestRelay()
    const a = connectClient(relay, 'doc-1')
    const b = connectClient(relay, 'doc-1')
    await Promise.all([synced(a), synced(b)])
    a.text.insert(0, 'hello')
    await waitFor(() => b.text.toString() === 'hello')
    b.text.insert(5, ' world')
    await waitFor(() => a.text.toString() === 'hello world')
  })
})
