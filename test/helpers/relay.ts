/**
 * Relays and clients for tests: every relay binds port 0 and every client is
 * torn down after the test that made it.
 */
import { afterEach } from 'vitest'
import * as Y from 'yjs'
import WebSocket from 'ws'
import { WebsocketProvider } from 'y-websocket'
import { startRelay, type Relay, type RelayOptions } from '../../server/relay.js'
import { createLogger, type Logger } from '../../server/log.js'

const cleanups: Array<() => Promise<void> | void> = []

afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!()
})

/** Registers work to run after the current test, newest first. */
export function onTeardown (cleanup: () => Promise<void> | void): void {
  cleanups.push(cleanup)
}

/** Log lines a relay wrote during a test. */
export interface CapturedLog {
  readonly lines: string[]
  readonly logger: Logger
}

/** A logger that keeps its lines in memory instead of printing them. */
export function captureLog (): CapturedLog {
  const lines: string[] = []
  return { lines, logger: createLogger('debug', (line) => lines.push(line)) }
}

/** Starts a relay on port 0 (quiet unless a logger is given), closed after the test. */
export async function startTestRelay (options: RelayOptions = {}): Promise<Relay> {
  const relay = await startRelay({ port: 0, host: '127.0.0.1', logger: captureLog().logger, ...options })
  onTeardown(() => relay.close())
  return relay
}

/** A stock y-websocket client in a room, torn down after the test. */
export interface TestClient {
  readonly doc: Y.Doc
  readonly provider: WebsocketProvider
  readonly text: Y.Text
}

/** Connects a stock `WebsocketProvider` (with the `ws` polyfill) to `room` on `relay`. */
export function connectClient (relay: Relay | string, room: string, params: Record<string, string> = {}): TestClient {
  const doc = new Y.Doc()
  const url = (typeof relay === 'string' ? relay : relay.url).replace(/^http/, 'ws')
  const provider = new WebsocketProvider(url, room, doc, { WebSocketPolyfill: WebSocket as never, params, disableBc: true })
  onTeardown(() => { provider.destroy(); doc.destroy() })
  return { doc, provider, text: doc.getText('text') }
}

/** Resolves when `predicate` holds, checking after each event of interest or every 20 ms; rejects after `timeoutMs`. */
export async function waitFor (predicate: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** Resolves when the client has synced with the server. */
export async function synced (client: TestClient, timeoutMs = 10_000): Promise<void> {
  await waitFor(() => client.provider.synced, timeoutMs, 'sync')
}
