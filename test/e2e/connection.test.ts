/**
 * The editor tells the truth about its connection, in headless Chromium:
 * a socket that goes silent without closing (a stalled proxy) or a browser
 * gone offline shows Offline within seconds, with the number of changes
 * that wait, and those changes arrive once the link is back; the connection
 * inspector counts every kind of message each way, live.
 */
import { describe, expect, it } from 'vitest'
import type { Page } from 'playwright-core'
import { artifacts, useBrowser } from './browser.js'
import {
  editorText, newProfile, openedBefore, openEditor, people, startEditorRelay, typeAtEnd,
  waitForConnection, waitForSaveState, waitForText
} from './editor-page.js'
import { onTeardown } from '../helpers/relay.js'
import { startStallProxy } from '../helpers/stall-proxy.js'

const { ada, bob } = people

const browser = useBrowser()

/** Waits until the saved badge says that `count` changes wait for the server. */
async function waitForPending (page: Page, count: number): Promise<void> {
  await page.waitForSelector(`[data-testid="saved"][data-pending="${count}"]`)
}

/** The inspector's sent or received cell for the row of `kind`, as "messages (bytes)". */
async function inspectorCell (page: Page, kind: string, direction: 'sent' | 'received'): Promise<string> {
  return await page.locator(`[data-testid="inspector"] tr[data-kind="${kind}"] [data-testid="${direction}"]`).textContent() ?? ''
}

/** The message count in an inspector cell. */
function messagesIn (cell: string): number {
  return Number(cell.split(' ')[0])
}

/** Waits until the inspector's cell for `kind` and `direction` counts more than `count` messages. */
async function waitForMoreThan (page: Page, kind: string, direction: 'sent' | 'received', count: number): Promise<number> {
  const deadline = Date.now() + 10_000
  for (;;) {
    const now = messagesIn(await inspectorCell(page, kind, direction))
    if (now > count) return now
    if (Date.now() > deadline) throw new Error(`${kind} ${direction} stays at ${now}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

describe('connection truth', () => {
  it('shows Offline and the waiting changes when the socket goes silent, and syncs them once it flows again', async () => {
    const relay = await startEditorRelay()
    const proxy = await startStallProxy(relay.port)
    onTeardown(() => proxy.close())
    const desktop = await newProfile(browser(), ada, { viewport: { width: 1000, height: 420 }, colorScheme: 'light' })
    const page = await desktop.newPage()
    await openedBefore(page, 'silent')
    await page.goto(`${proxy.url}/d/silent`)
    await waitForConnection(page, 'connected')
    const other = await openEditor(await newProfile(browser(), bob), relay, 'silent')
    await typeAtEnd(page, 'Before. ')
    await waitForSaveState(page, 'saved')
    await waitForText(other, 'Before. ')

    proxy.stall()
    const stalledAt = Date.now()
    await typeAtEnd(page, 'abc')
    // The socket is open as far as the browser knows; only the heartbeat can tell.
    await waitForConnection(page, 'offline')
    console.log(`offline shown ${Date.now() - stalledAt} ms after the link went silent`)
    await waitForPending(page, 3)
    await waitForSaveState(page, 'on-device')
    expect(await page.getByTestId('saved').textContent()).toBe('3 changes saved on this device · waiting for the server')
    expect(await page.getByTestId('save-announcer').textContent()).toContain('Offline')
    await page.screenshot({ path: '/tmp/connection-stalled.png' })
    expect(await editorText(other)).toBe('Before. ')

    proxy.resume()
    await waitForConnection(page, 'connected')
    await waitForSaveState(page, 'saved')
    await waitForText(other, 'Before. abc')
    expect(await page.getByTestId('save-announcer').textContent()).toBe('Back online. All your changes are saved.')
  })

  it('shows Offline as soon as the browser says so, and reconnects when it is back', async () => {
    const relay = await startEditorRelay()
    const context = await newProfile(browser(), ada, { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, colorScheme: 'dark' })
    // The page's clock stands still once it has saved: no heartbeat runs, only the browser's own event can tell.
    await context.clock.install()
    const page = await openEditor(context, relay, 'offline-event')
    const other = await openEditor(await newProfile(browser(), bob), relay, 'offline-event')
    await typeAtEnd(page, 'One')
    await waitForSaveState(page, 'saved')
    await page.clock.pauseAt(await page.evaluate('Date.now()') as number + 1_000)

    await context.setOffline(true)
    await waitForConnection(page, 'offline')
    await typeAtEnd(page, ' two')
    await waitForPending(page, 4)
    expect(await page.getByTestId('saved').textContent()).toBe('4 changes saved on this device · waiting for the server')
    await page.screenshot({ path: '/tmp/offline-phone-dark.png' })

    // Back online, the page tries at once rather than when its wait (on the stopped clock) ends.
    await context.setOffline(false)
    await waitForConnection(page, 'connected')
    await waitForText(other, 'One two')
    // "Saving…" stays up a moment once shown.
    await page.clock.runFor(1_000)
    await waitForSaveState(page, 'saved')
  })

  it('counts every kind of message each way in the inspector, live, and gives the focus back on close', async () => {
    const relay = await startEditorRelay()
    const page = await openEditor(await newProfile(browser(), ada, { viewport: { width: 1100, height: 760 }, colorScheme: 'light' }), relay, 'inspected')
    await openEditor(await newProfile(browser(), bob), relay, 'inspected')
    await typeAtEnd(page, 'Hello')
    await waitForSaveState(page, 'saved')

    // From the keyboard: the badge is a button that opens the panel and moves the focus into it.
    await page.getByTestId('inspect').focus()
    await page.keyboard.press('Enter')
    const panel = page.getByTestId('inspector')
    await panel.waitFor()
    expect(await page.evaluate('document.activeElement.dataset.testid')).toBe('inspector-close')
    expect(await page.getByTestId('inspect').getAttribute('aria-expanded')).toBe('true')
    expect(await page.getByTestId('inspector-state').textContent()).toBe('Connected')

    expect(messagesIn(await inspectorCell(page, 'sync-step-1', 'sent'))).toBeGreaterThan(0)
    expect(messagesIn(await inspectorCell(page, 'sync-step-1', 'received'))).toBeGreaterThan(0)
    expect(messagesIn(await inspectorCell(page, 'sync-step-2', 'received'))).toBeGreaterThan(0)
    expect(messagesIn(await inspectorCell(page, 'update', 'sent'))).toBeGreaterThanOrEqual(5)
    expect(messagesIn(await inspectorCell(page, 'awareness', 'sent'))).toBeGreaterThan(0)
    expect(messagesIn(await inspectorCell(page, 'awareness', 'received'))).toBeGreaterThan(0)
    expect(messagesIn(await inspectorCell(page, 'saved', 'received'))).toBeGreaterThanOrEqual(5)
    expect(await inspectorCell(page, 'update', 'sent')).toMatch(/^\d+ \(\d+(\.\d)? k?B\)$/)
    // Pings go out after a few quiet seconds; their pongs give the round trip.
    await waitForMoreThan(page, 'ping', 'received', 0)
    expect(messagesIn(await inspectorCell(page, 'ping', 'sent'))).toBeGreaterThan(0)
    await page.locator('[data-testid="inspector-rtt"]', { hasText: / ms$/ }).waitFor()
    const people = await page.getByTestId('inspector-people').textContent()
    expect(people).toContain('Ada (you)')
    expect(people).toContain('Bob')

    // Live: typing with the panel open raises the counts.
    const before = messagesIn(await inspectorCell(page, 'update', 'sent'))
    await page.click('.cm-content')
    await page.keyboard.press('Control+End')
    await page.keyboard.type(' world')
    expect(await waitForMoreThan(page, 'update', 'sent', before + 5)).toBeGreaterThanOrEqual(before + 6)
    await page.screenshot({ path: '/tmp/inspector-light.png' })
    await page.emulateMedia({ colorScheme: 'dark' })
    await page.screenshot({ path: '/tmp/inspector-dark.png' })
    await page.setViewportSize({ width: 390, height: 844 })
    await page.screenshot({ path: '/tmp/inspector-phone.png' })

    await page.getByTestId('inspector-close').focus()
    await page.keyboard.press('Escape')
    await panel.waitFor({ state: 'hidden' })
    expect(await page.evaluate('document.activeElement.dataset.testid')).toBe('inspect')
    expect(await page.getByTestId('inspect').getAttribute('aria-expanded')).toBe('false')
    await page.screenshot({ path: new URL('inspector-closed.png', artifacts).pathname })
  })
})
