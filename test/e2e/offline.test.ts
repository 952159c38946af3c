/**
 * Edits made offline survive a closed tab, in headless Chromium against a
 * real relay stopped and started again on the same port: the page keeps the
 * document in IndexedDB, says how many changes wait for the server, and
 * sends them on a later visit, where another profile sees them. The copy
 * stays compact however long someone types, and a copy of a document
 * deleted meanwhile is never merged back into it.
 */
import { describe, expect, it } from 'vitest'
import type { BrowserContext, Page } from 'playwright-core'
import { createMemoryStore } from '../../server/storage/memory.js'
import { compactAfterRows, offlineStoreName } from '../../editor/collab/offline-store.js'
import type { Relay } from '../../server/relay.js'
import { artifacts, useBrowser } from './browser.js'
import {
  documentUrl, editorText, newProfile, openEditor, people, startEditorRelay, storedText, typeAtEnd,
  waitForConnection, waitForSaveState, waitForText
} from './editor-page.js'

const { ada, bob } = people

const browser = useBrowser()

/** The IndexedDB database the page keeps document `name` in. */
function databaseOf (relay: Relay, name: string): string {
  return offlineStoreName(relay.url.replace(/^http/, 'ws'), name)
}

/** Runs `body` (an expression using `db`, yielding a request) on database `name` in `page`, and resolves with the request's result. */
async function inDatabase (page: Page, name: string, store: string, body: string): Promise<unknown> {
  return await page.evaluate(`new Promise((resolve, reject) => {
    const open = indexedDB.open(${JSON.stringify(name)})
    open.onerror = () => reject(open.error)
    open.onsuccess = () => {
      const db = open.result
      const request = ((store) => ${body})(db.transaction(${JSON.stringify(store)}, 'readonly').objectStore(${JSON.stringify(store)}))
      request.onsuccess = () => { db.close(); resolve(request.result) }
      request.onerror = () => { db.close(); reject(request.error) }
    }
  })`)
}

/** The number of rows y-indexeddb keeps for document `name`. */
async function storedRows (page: Page, relay: Relay, name: string): Promise<number> {
  return await inDatabase(page, databaseOf(relay, name), 'updates', 'store.count()') as number
}

/** How many changes the copy of `name` says wait for the server. */
async function storedPending (page: Page, relay: Relay, name: string): Promise<unknown> {
  return await inDatabase(page, databaseOf(relay, name), 'custom', "store.get('pending')")
}

/** The text the copy of `name` keeps apart after a refusal, if any. */
async function storedSetApart (page: Page, relay: Relay, name: string): Promise<unknown> {
  return await inDatabase(page, databaseOf(relay, name), 'custom', "store.get('set-apart-text')")
}

/** Waits, polling from here, until `read()` resolves to `expected`. */
async function waitForValue (read: () => Promise<unknown>, expected: unknown, what: string): Promise<void> {
  const deadline = Date.now() + 10_000
  let value = await read()
  while (value !== expected) {
    if (Date.now() > deadline) throw new Error(`${what} is ${JSON.stringify(value)}, not ${JSON.stringify(expected)}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
    value = await read()
  }
}

/**
 * Opens document `name` in a new page of `context` whose sockets to the
 * relay are cut as they open (the page itself loads): what the page shows
 * comes from the browser's copy alone.
 */
async function openCutOff (context: BrowserContext, relay: Relay, name: string): Promise<Page> {
  const page = await context.newPage()
  await page.routeWebSocket(() => true, (socket) => { void socket.close({ code: 1011, reason: 'unreachable' }) })
  await page.goto(documentUrl(relay, name))
  return page
}

describe('offline edits', () => {
  it('survive a closed tab and reach another profile once the relay is back', async () => {
    const store = createMemoryStore()
    const first = await startEditorRelay({ store })
    const context = await newProfile(browser(), ada, { viewport: { width: 1000, height: 420 }, colorScheme: 'light' })
    const page = await openEditor(context, first, 'trip')
    await typeAtEnd(page, 'Packed. ')
    await waitForSaveState(page, 'saved')

    await first.close()
    await waitForConnection(page, 'offline')
    await typeAtEnd(page, 'Tickets.')
    await page.waitForSelector('[data-testid="saved"][data-state="on-device"][data-pending="8"]')
    // What a closed tab leaves behind: the edits and their count, in the browser.
    await waitForValue(() => storedPending(page, first, 'trip'), 8, 'the pending count kept')
    await page.close()

    // The relay is back, but this tab cannot reach its socket yet: it shows its own copy and what waits.
    const second = await startEditorRelay({ store, port: first.port })
    const reopened = await openCutOff(context, second, 'trip')
    await waitForText(reopened, 'Packed. Tickets.')
    await reopened.waitForSelector('[data-testid="saved"][data-state="on-device"][data-pending="8"]')
    expect(await reopened.getByTestId('saved').textContent()).toBe('8 changes saved on this device · waiting for the server')
    await reopened.screenshot({ path: new URL('offline-reopened.png', artifacts).pathname })
    await reopened.screenshot({ path: '/tmp/offline-reopened.png' })
    await reopened.close()

    expect(await storedText(store, 'trip')).toBe('Packed. ')

    // With the relay in reach, the tab opens again, connects, and sends what the relay lacks.
    const later = await openEditor(context, second, 'trip')
    await waitForSaveState(later, 'saved')
    expect(await editorText(later)).toBe('Packed. Tickets.')
    const other = await openEditor(await newProfile(browser(), bob), second, 'trip')
    await waitForText(other, 'Packed. Tickets.')
    expect(await storedText(store, 'trip')).toBe('Packed. Tickets.')
    await waitForValue(() => storedPending(later, second, 'trip'), 0, 'the pending count kept')
  })

  it('keeps the copy compact: its rows stay bounded while someone types 600 keys without a pause', async () => {
    const relay = await startEditorRelay()
    const page = await openEditor(await newProfile(browser(), ada), relay, 'long')
    let most = 0
    // Chunks of 150 keys: counted in the middle of a merge window as well as just after a merge.
    for (let chunk = 0; chunk < 4; chunk++) {
      await typeAtEnd(page, 'abcdefghij'.repeat(15))
      // Counted at once: y-indexeddb's own merge waits for a second without updates.
      most = Math.max(most, await storedRows(page, relay, 'long'))
    }
    console.log(`most rows kept while typing 600 keys: ${most}`)
    expect(most).toBeLessThanOrEqual(2 * compactAfterRows)
    await waitForSaveState(page, 'saved')

    // And the copy holds the text: a tab that cannot reach the relay shows it.
    const copy = await openCutOff(page.context(), relay, 'long')
    await waitForText(copy, 'abcdefghij'.repeat(60))
  })

  it('keeps the copy of a document deleted meanwhile to be copied, and never merges it back', async () => {
    const store = createMemoryStore()
    const first = await startEditorRelay({ store })
    const context = await newProfile(browser(), ada)
    await context.grantPermissions(['clipboard-read', 'clipboard-write'])
    const page = await openEditor(context, first, 'gone')
    await typeAtEnd(page, 'Kept.')
    await waitForSaveState(page, 'saved')
    await first.close()
    await waitForConnection(page, 'offline')
    await typeAtEnd(page, ' Offline.')
    await waitForValue(() => storedPending(page, first, 'gone'), 9, 'the pending count kept')
    await page.close()

    const second = await startEditorRelay({ store, port: first.port })
    expect((await fetch(`${second.url}/api/documents/gone`, { method: 'DELETE' })).status).toBe(200)
    // The tab opens on the deleted document: the relay refuses it, the page shows its own copy to copy.
    const refused = await context.newPage()
    await refused.goto(documentUrl(second, 'gone'))
    await refused.getByTestId('refusal-notice').waitFor()
    await waitForConnection(refused, 'closed')
    expect(await editorText(refused)).toBe('Kept. Offline.')
    await refused.getByTestId('refusal-copy').click()
    await refused.locator('[data-testid="refusal-copy"][data-copied]').waitFor()
    expect(await refused.evaluate('navigator.clipboard.readText()')).toBe('Kept. Offline.')
    await waitForValue(() => storedSetApart(refused, second, 'gone'), 'Kept. Offline.', 'the text kept apart')
    await refused.close()

    // Another visit while it is still deleted: nothing of the copy is merged, and its text is still offered.
    const again = await context.newPage()
    await again.goto(documentUrl(second, 'gone'))
    await again.getByTestId('refusal-notice').waitFor()
    expect(await editorText(again)).toBe('')
    await again.evaluate("navigator.clipboard.writeText('something else')")
    await again.getByTestId('refusal-copy').click()
    await again.locator('[data-testid="refusal-copy"][data-copied]').waitFor()
    expect(await again.evaluate('navigator.clipboard.readText()')).toBe('Kept. Offline.')
    await again.close()

    // Restored by an operator: the page shows the document as stored, without the set-apart copy.
    expect((await fetch(`${second.url}/api/documents/gone/restore`, { method: 'POST' })).status).toBe(200)
    const restored = await openEditor(context, second, 'gone')
    await waitForSaveState(restored, 'saved')
    expect(await editorText(restored)).toBe('Kept.')
    expect(await storedText(store, 'gone')).toBe('Kept.')
  })

  it('sets apart a copy holding a change the relay refused, instead of sending it again on every visit', async () => {
    const store = createMemoryStore()
    const relay = await startEditorRelay({ maxDocumentBytes: 2000, store })
    const page = await openEditor(await newProfile(browser(), ada), relay, 'big')
    await typeAtEnd(page, 'Notes\n')
    await waitForSaveState(page, 'saved')
    await page.keyboard.insertText('A paragraph that is far too long. '.repeat(100))
    await page.getByTestId('refusal-notice').waitFor()
    await waitForConnection(page, 'closed')
    await waitForValue(async () => (await storedSetApart(page, relay, 'big') as string | undefined)?.startsWith('Notes\nA paragraph'), true, 'the text kept apart')

    await page.reload()
    await waitForConnection(page, 'connected')
    await waitForSaveState(page, 'saved')
    expect(await editorText(page)).toBe('Notes\n')
    expect(await storedText(store, 'big')).toBe('Notes\n')
  })
})
