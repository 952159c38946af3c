/**
 * What the editor promises a person, in headless Chromium against a real
 * relay: "Saved" covers deletions too, a refusal the page cannot get past
 * is explained instead of retried, Share never hands out the page's
 * own token, and the page talks to no other host.
 */
import { describe, expect, it } from 'vitest'
import type { Page, WebSocket as PageSocket } from 'playwright-core'
import type { DocStore } from '../../server/storage/store.js'
import { createMemoryStore } from '../../server/storage/memory.js'
import { createTokenAuthority } from '../../server/auth/tokens.js'
import { startTestRelay } from '../helpers/relay.js'
import { artifacts, useBrowser } from './browser.js'
import {
  countSockets, documentUrl, newProfile, openedBefore, people, openEditor, startEditorRelay, storedText, typeAtEnd,
  waitForConnection, waitForSaveState, waitForText
} from './editor-page.js'

const { ada, bob } = people

const browser = useBrowser()

/**
 * A store whose appends go through only as far as `allow` lets them, in
 * call order: the relay holds each edit long before it is durable.
 * `allowAll()` lets every append through, now and later.
 */
function gatedStore (): { store: DocStore, appends: () => number, allow: (count: number) => void, allowAll: () => void } {
  const inner = createMemoryStore()
  const waiting: Array<() => void> = []
  let appends = 0
  let allowed = 0
  const pass = (): void => {
    while (waiting.length > 0 && appends - waiting.length < allowed) waiting.shift()!()
  }
  const store: DocStore = {
    ...inner,
    async append (name, update) {
      appends++
      const copy = update.slice()
      await new Promise<void>((resolve) => { waiting.push(resolve); pass() })
      return await inner.append(name, copy)
    }
  }
  return {
    store,
    appends: () => appends,
    allow: (count) => { allowed = count; pass() },
    allowAll: () => { allowed = Infinity; pass() }
  }
}

/**
 * The `handled` count of every saved confirmation (message type 100) the
 * page's document socket receives, in order.
 */
function watchConfirmations (page: Page): number[] {
  const handled: number[] = []
  const read = (bytes: Buffer): void => {
    let pos = 0
    const varUint = (): number => {
      let value = 0
      for (let shift = 0; ; shift += 7) {
        const byte = bytes[pos++]!
        value += (byte & 0x7f) * 2 ** shift
        if (byte < 0x80) return value
      }
    }
    if (varUint() !== 100) return
    pos += varUint() // the state vector
    handled.push(varUint())
  }
  page.on('websocket', (socket: PageSocket) => {
    socket.on('framereceived', ({ payload }) => { if (typeof payload !== 'string') read(payload) })
  })
  return handled
}

/** Closes `page` as a person closing the tab would, and says whether it asked first (the question is declined). */
async function asksBeforeLeaving (page: Page): Promise<boolean> {
  let asked = false
  const onDialog = (dialog: { type: () => string, dismiss: () => Promise<void> }): void => {
    asked = dialog.type() === 'beforeunload'
    void dialog.dismiss()
  }
  page.once('dialog', onDialog)
  // Declining the question keeps the page open; without a question, it closes.
  await page.close({ runBeforeUnload: true })
  await expect.poll(() => asked || page.isClosed(), { timeout: 10_000 }).toBe(true)
  page.off('dialog', onDialog)
  return asked
}

describe('saved covers deletions', () => {
  it('says "Saving…" and asks before leaving while a deletion is not stored, and "Saved" once it is', async () => {
    const gate = gatedStore()
    gate.allowAll()
    const relay = await startEditorRelay({ store: gate.store })
    const context = await newProfile(browser(), ada)
    const page = await openEditor(context, relay, 'secret')
    await typeAtEnd(page, 'Meet at noon. The door code is 4711.')
    await waitForSaveState(page, 'saved')
    expect(await storedText(gate.store, 'secret')).toBe('Meet at noon. The door code is 4711.')

    gate.allow(gate.appends())
    await page.keyboard.press('Shift+Home')
    await page.keyboard.press('Backspace')
    await expect.poll(() => relay.registry.get('secret')?.text, { timeout: 10_000 }).toBe('')
    // The relay has the deletion; the store does not. The page must not claim otherwise.
    await waitForSaveState(page, 'saving')
    expect(await page.getByTestId('saved').textContent()).toBe('Saving…')
    expect(await storedText(gate.store, 'secret')).toBe('Meet at noon. The door code is 4711.')
    expect(await asksBeforeLeaving(page)).toBe(true)
    await page.screenshot({ path: new URL('deletion-saving.png', artifacts).pathname })

    gate.allowAll()
    await waitForSaveState(page, 'saved')
    expect(await page.getByTestId('saved').textContent()).toBe('Saved')
    expect(await storedText(gate.store, 'secret')).toBe('')
    expect(await asksBeforeLeaving(page)).toBe(false)
  })

  it('says "Saved" after typing then deleting only once the deletion itself is stored', async () => {
    const gate = gatedStore()
    const relay = await startEditorRelay({ store: gate.store })
    const page = await (await newProfile(browser(), ada)).newPage()
    const confirmations = watchConfirmations(page)
    // The page's own clock: the badge holds "Saving…" a moment, which must not hide what the page decided.
    await page.clock.install()
    await openedBefore(page, 'typo')
    await page.goto(documentUrl(relay, 'typo'))
    await waitForConnection(page, 'connected')

    await typeAtEnd(page, 'abc')
    // The deletion must travel in an update of its own: under load the editor may take fast keys as one change.
    await expect.poll(() => relay.registry.get('typo')?.text, { timeout: 10_000 }).toBe('abc')
    await page.keyboard.press('Backspace')
    await expect.poll(() => relay.registry.get('typo')?.text, { timeout: 10_000 }).toBe('ab')
    const typed = gate.appends()
    expect(typed).toBeGreaterThanOrEqual(2)

    // Everything but the deletion is stored, and the page has heard so.
    gate.allow(typed - 1)
    await expect.poll(() => storedText(gate.store, 'typo'), { timeout: 10_000 }).toBe('abc')
    await expect.poll(() => Math.max(0, ...confirmations), { timeout: 10_000 }).toBeGreaterThanOrEqual(typed - 1)
    await page.clock.runFor(5_000)
    expect(await page.getByTestId('saved').getAttribute('data-state')).toBe('saving')

    gate.allow(typed)
    await waitForSaveState(page, 'saved')
    expect(await storedText(gate.store, 'typo')).toBe('ab')
  })
})

describe('refusals the page cannot get past', () => {
  it('explains a document past its size limit (4413), keeps the text, and does not reconnect', async () => {
    const store = createMemoryStore()
    const relay = await startEditorRelay({ maxDocumentBytes: 2000, store })
    const context = await newProfile(browser(), ada, { viewport: { width: 1000, height: 640 } })
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: relay.url })
    await context.addInitScript(countSockets)
    const page = await context.newPage()
    await page.clock.install()
    const sockets: string[] = []
    page.on('websocket', (socket) => sockets.push(socket.url()))
    await openedBefore(page, 'big')
    await page.goto(documentUrl(relay, 'big'))
    await waitForConnection(page, 'connected')
    await typeAtEnd(page, 'Notes\n')
    await waitForSaveState(page, 'saved')

    const pasted = 'A paragraph that is far too long. '.repeat(100)
    await page.keyboard.insertText(pasted)

    const notice = page.getByTestId('refusal-notice')
    await notice.waitFor()
    expect(await notice.textContent()).toContain('This document has reached its size limit; your last change was not saved.')
    await waitForConnection(page, 'closed')
    expect(await page.getByTestId('status').textContent()).toBe('Disconnected: size limit reached')
    await waitForSaveState(page, 'unsaved')
    expect(await page.getByTestId('saved').textContent()).toBe('Not saved')
    expect(await page.locator('.cm-content').getAttribute('contenteditable')).toBe('false')
    await waitForText(page, `Notes\n${pasted}`)
    expect(await storedText(store, 'big')).toBe('Notes\n')
    await page.screenshot({ path: new URL('size-limit.png', artifacts).pathname })

    // A minute of the page's timers: the stock client would have retried a dozen times by then.
    await page.clock.runFor(60_000)
    expect(await page.evaluate('window.socketsMade')).toBe(1)
    expect(sockets).toHaveLength(1)
    expect(await page.getByTestId('status').getAttribute('data-state')).toBe('closed')

    await page.getByTestId('refusal-copy').click()
    await page.getByTestId('refusal-copy').filter({ hasText: 'Copied' }).waitFor()
    expect(await page.evaluate('navigator.clipboard.readText()')).toBe(`Notes\n${pasted}`)
    expect(await asksBeforeLeaving(page)).toBe(true)
  })

  it('stops after a message larger than the relay reads (1009) instead of sending it again forever', async () => {
    const relay = await startEditorRelay({ maxMessageBytes: 2000 })
    const context = await newProfile(browser(), ada)
    await context.addInitScript(countSockets)
    const page = await context.newPage()
    await page.clock.install()
    await openedBefore(page, 'huge')
    await page.goto(documentUrl(relay, 'huge'))
    await waitForConnection(page, 'connected')

    await page.click('.cm-content')
    await page.keyboard.insertText('x'.repeat(3000))
    await page.getByTestId('refusal-notice').filter({ hasText: 'size limit' }).waitFor()
    await waitForConnection(page, 'closed')
    await page.clock.runFor(60_000)
    expect(await page.evaluate('window.socketsMade')).toBe(1)
    await expect.poll(() => relay.connectionCount, { timeout: 10_000 }).toBe(0)
  })
})

describe('copying a link', () => {
  const secret = 'y'.repeat(32)
  const authority = createTokenAuthority({ secret })!

  it("passes on a view link made for the document, never the page's own token", async () => {
    const relay = await startEditorRelay({ authSecret: secret })
    // A view link to every document under "team/", carrying its holder's name.
    const own = await authority.mint({ doc: 'team/*', permission: 'read', name: 'Bob Reader' }, 3600)
    const context = await newProfile(browser(), bob, { viewport: { width: 900, height: 560 } })
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: relay.url })
    const page = await openEditor(context, relay, 'team/plan', own)
    expect(page.url()).toContain(own)

    await page.getByTestId('share').click()
    await expect.poll(() => page.getByTestId('share-link').inputValue()).not.toBe('')
    expect(await page.getByTestId('share-reader-note').textContent()).toContain('view links only')
    await page.getByTestId('share-copy').click()
    await page.getByTestId('share-copy').filter({ hasText: 'Copied' }).waitFor()
    const copied = await page.evaluate('navigator.clipboard.readText()') as string
    expect(copied.startsWith(`${documentUrl(relay, 'team/plan')}?token=`)).toBe(true)
    expect(copied).not.toContain(own)
    // Only this document, read-only, without the holder's name.
    const claims = JSON.parse(Buffer.from((new URL(copied).searchParams.get('token') ?? '').split('.')[1], 'base64url').toString()) as Record<string, unknown>
    expect(claims).toMatchObject({ doc: 'team/plan', perm: 'read' })
    expect(claims.name).toBeUndefined()
    await page.screenshot({ path: new URL('copy-link-without-access.png', artifacts).pathname })
  })
})

describe('the page talks only to its own origin', () => {
  it('connects to its relay, and the browser blocks a WebSocket or fetch to another host', async () => {
    const relay = await startEditorRelay()
    const other = await startTestRelay()
    const page = await openEditor(await newProfile(browser(), ada), relay, 'csp')
    await typeAtEnd(page, 'still connected')
    await waitForSaveState(page, 'saved')
    expect(new URL(relay.url).hostname).toBe('127.0.0.1')

    // The other relay, named by another host: a different origin.
    const otherOrigin = `localhost:${other.port}`
    const attempts = await page.evaluate(`(async () => {
      window.violations = []
      document.addEventListener('securitypolicyviolation', (event) => {
        window.violations.push(event.effectiveDirective + ' ' + event.blockedURI)
      })
      const socket = await new Promise((resolve) => {
        const ws = new WebSocket('ws://${otherOrigin}/csp')
        ws.onopen = () => { ws.close(); resolve('opened') }
        ws.onerror = () => resolve('failed')
      })
      const fetched = await fetch('http://${otherOrigin}/api/info', { mode: 'no-cors' }).then(() => 'fetched', () => 'failed')
      return { socket, fetched }
    })()`)
    expect(attempts).toEqual({ socket: 'failed', fetched: 'failed' })
    await expect.poll(async () => (await page.evaluate('window.violations') as string[]).sort(), { timeout: 10_000 })
      .toEqual([`connect-src http://${otherOrigin}/api/info`, `connect-src ws://${otherOrigin}/csp`])
    expect(other.connectionCount).toBe(0)
    // The page's own /api fetch still works.
    expect(await page.evaluate(`fetch('/api/info').then((response) => response.status)`)).toBe(200)
  })
})
