/**
 * How the editor comes back after losing its relay, in headless Chromium:
 * it says when it will try next and counts down, "Retry now" reconnects at
 * once, pages that lost the relay together spread their attempts over the
 * backoff window instead of arriving all at once, and a refusal stops it
 * for good.
 *
 * The pages run on Playwright's clock, paused once they are connected: no
 * attempt happens unless a test advances the clock, so a reconnect while
 * it stands still can only come from "Retry now" or the `online` event,
 * and `data-retry-at` minus the page's `Date.now()` is exactly the wait the
 * page drew.
 */
import { describe, expect, it } from 'vitest'
import type { BrowserContext, Page } from 'playwright-core'
import type { Relay } from '../../server/relay.js'
import { createMemoryStore } from '../../server/storage/memory.js'
import { backoffCeilingMs, longHiddenMs } from '../../editor/collab/backoff.js'
import { artifacts, useBrowser } from './browser.js'
import {
  countSockets, documentUrl, openedBefore, newProfile, people, startEditorRelay, typeAtEnd,
  waitForConnection, waitForSaveState
} from './editor-page.js'

const { ada, bob } = people

const browser = useBrowser()

/** The number of WebSockets `page` has created. */
async function socketsMade (page: Page): Promise<number> {
  return await page.evaluate('window.socketsMade') as number
}

/** The time on the page's clock, in ms. */
async function pageNow (page: Page): Promise<number> {
  return await page.evaluate('Date.now()') as number
}

/** The retry the page has pending, once it has one other than `after`: when it is due, and how long the page waits for it from now. */
async function pendingRetry (page: Page, after?: number): Promise<{ at: number, waitMs: number }> {
  const other = after === undefined ? '' : `:not([data-retry-at="${after}"])`
  const badge = page.locator(`[data-testid="status"][data-retry-at]${other}`)
  await badge.waitFor()
  const at = Number(await badge.getAttribute('data-retry-at'))
  return { at, waitMs: at - await pageNow(page) }
}

/**
 * Opens document `name` in a new page of `context` (whose clock is
 * installed, and which counts its sockets) and waits until it is connected.
 */
async function openCounted (context: BrowserContext, relay: Relay, name: string): Promise<Page> {
  const page = await context.newPage()
  await openedBefore(page, name)
  await page.goto(documentUrl(relay, name))
  await waitForConnection(page, 'connected')
  return page
}

/** A profile whose pages count their sockets and run on Playwright's clock. */
async function clockedProfile (...args: Parameters<typeof newProfile>): Promise<BrowserContext> {
  const context = await newProfile(...args)
  await context.addInitScript(countSockets)
  await context.clock.install()
  return context
}

/** Stops the clock of `page`'s profile (a second ahead, so that it is not set back). */
async function pauseClock (page: Page): Promise<void> {
  await page.clock.pauseAt(await pageNow(page) + 1_000)
}

/** Whether `waitMs` is a wait the backoff allows before attempt `attempt`. */
function expectInWindow (waitMs: number, attempt: number): void {
  const ceiling = backoffCeilingMs(attempt)
  expect(waitMs, `wait before attempt ${attempt}`).toBeGreaterThanOrEqual(ceiling / 2)
  expect(waitMs, `wait before attempt ${attempt}`).toBeLessThanOrEqual(ceiling)
}

describe('reconnecting', () => {
  it('counts down to the next attempt, and "Retry now" reconnects at once', async () => {
    const store = createMemoryStore()
    const first = await startEditorRelay({ store })
    const desktop = await clockedProfile(browser(), ada, { viewport: { width: 1000, height: 420 }, colorScheme: 'light' })
    const phone = await clockedProfile(browser(), bob, { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, colorScheme: 'light' })
    const page = await openCounted(desktop, first, 'retry')
    const onPhone = await openCounted(phone, first, 'retry')
    await typeAtEnd(page, 'Written before the relay went away.')
    await waitForSaveState(page, 'saved')
    await pauseClock(page)
    await pauseClock(onPhone)

    await first.close()
    await waitForConnection(page, 'offline')
    const retry = page.getByTestId('retry')
    expect(await retry.isVisible()).toBe(true)
    expect(await retry.textContent()).toBe('Retry now')
    // Let four attempts fail, each made when the page said, not a millisecond earlier: the fifth is 4–8 s away.
    let pending = await pendingRetry(page)
    for (let attempt = 0; attempt < 4; attempt++) {
      expectInWindow(pending.waitMs, attempt)
      await page.clock.runFor(pending.waitMs - 1)
      expect(await socketsMade(page), `sockets before attempt ${attempt}`).toBe(1 + attempt)
      await page.clock.runFor(1)
      expect(await socketsMade(page), `sockets after attempt ${attempt}`).toBe(2 + attempt)
      pending = await pendingRetry(page, pending.at)
    }
    expectInWindow(pending.waitMs, 4)
    expect(await socketsMade(page)).toBe(5)
    const status = page.getByTestId('status')
    const seconds = Math.ceil(pending.waitMs / 1_000)
    expect(await status.textContent()).toBe(`Offline — retrying in ${seconds} s`)
    await page.clock.runFor(1_000)
    expect(await status.textContent()).toBe(`Offline — retrying in ${seconds - 1} s`)
    await typeAtEnd(page, ' And while it was away.')
    await page.screenshot({ path: new URL('offline-retry.png', artifacts).pathname })

    await waitForConnection(onPhone, 'offline')
    const tapTarget = await onPhone.getByTestId('retry').boundingBox()
    expect(tapTarget?.height).toBeGreaterThanOrEqual(44)
    await onPhone.screenshot({ path: new URL('offline-retry-phone.png', artifacts).pathname })

    const second = await startEditorRelay({ store, port: first.port })
    // From the keyboard: the button follows "History" in the tab order.
    await page.getByTestId('history').focus()
    await page.keyboard.press('Tab')
    expect(await page.evaluate('document.activeElement.dataset.testid')).toBe('retry')
    await page.keyboard.press('Enter')
    await waitForConnection(page, 'connected')
    expect(await retry.isVisible()).toBe(false)
    // One socket more, made by the button: the clock stands still, so the countdown never ran out.
    expect(await socketsMade(page)).toBe(6)
    await expect.poll(() => second.registry.get('retry')?.text, { timeout: 10_000 })
      .toBe('Written before the relay went away. And while it was away.')

    const phoneSockets = await socketsMade(onPhone)
    await onPhone.getByTestId('retry').tap()
    await waitForConnection(onPhone, 'connected')
    expect(await socketsMade(onPhone)).toBe(phoneSockets + 1)
  })

  it('spreads the attempts of pages that lost the relay together over the backoff window', async () => {
    const store = createMemoryStore()
    const first = await startEditorRelay({ store })
    const context = await clockedProfile(browser(), ada)
    const pages: Page[] = []
    for (let i = 0; i < 5; i++) pages.push(await openCounted(context, first, 'herd'))
    await pauseClock(pages[0]!)

    await first.close()
    const waits: number[] = []
    for (const page of pages) {
      await waitForConnection(page, 'offline')
      waits.push((await pendingRetry(page)).waitMs)
    }
    for (const waitMs of waits) expectInWindow(waitMs, 0)
    // The stock client would wait 200 ms on every page: the whole crowd at once.
    expect(new Set(waits).size, `waits ${waits.join(', ')} ms`).toBeGreaterThan(1)

    // The browser saying it is online again is worth trying at once, countdown or not.
    await startEditorRelay({ store, port: first.port })
    for (const page of pages) {
      const before = await socketsMade(page)
      await page.evaluate(`window.dispatchEvent(new Event('online'))`)
      await waitForConnection(page, 'connected')
      // One attempt for the event; on a loaded machine an attempt already under way may land too.
      expect(await socketsMade(page) - before).toBeGreaterThanOrEqual(1)
      expect(await socketsMade(page) - before).toBeLessThanOrEqual(2)
    }
  })

  it('tries at once when the page is shown again after a while hidden, not after a glance away', async () => {
    const store = createMemoryStore()
    const first = await startEditorRelay({ store })
    const context = await clockedProfile(browser(), ada)
    // The page's visibility, as the test sets it: a headless page is never hidden otherwise.
    await context.addInitScript(`
      window.testVisibility = 'visible'
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => window.testVisibility })`)
    const page = await openCounted(context, first, 'hidden')
    await pauseClock(page)
    const showAfter = async (hiddenMs: number): Promise<void> => {
      await page.evaluate(`window.testVisibility = 'hidden'; document.dispatchEvent(new Event('visibilitychange'))`)
      // The clock moves on without firing a timer, as while a laptop sleeps.
      await page.clock.setSystemTime(await pageNow(page) + hiddenMs)
      await page.evaluate(`window.testVisibility = 'visible'; document.dispatchEvent(new Event('visibilitychange'))`)
    }

    await first.close()
    await waitForConnection(page, 'offline')
    await startEditorRelay({ store, port: first.port })
    await showAfter(longHiddenMs - 1)
    expect(await socketsMade(page)).toBe(1)
    await showAfter(longHiddenMs)
    await waitForConnection(page, 'connected')
    expect(await socketsMade(page)).toBe(2)
  })

  it('does not reconnect after the relay refused the document (4413)', async () => {
    const relay = await startEditorRelay({ maxDocumentBytes: 2000 })
    const context = await clockedProfile(browser(), ada)
    const page = await openCounted(context, relay, 'refused')
    await page.click('.cm-content')
    await page.keyboard.insertText('A paragraph that is far too long. '.repeat(100))
    await page.getByTestId('refusal-notice').waitFor()
    await waitForConnection(page, 'closed')
    expect(await page.getByTestId('retry').isVisible()).toBe(false)
    expect(await page.getByTestId('status').getAttribute('data-retry-at')).toBeNull()

    // A minute of the page's timers, and the browser coming back online: no attempt.
    await page.clock.runFor(60_000)
    await page.evaluate(`window.dispatchEvent(new Event('online'))`)
    expect(await socketsMade(page)).toBe(1)
    expect(await page.getByTestId('status').getAttribute('data-state')).toBe('closed')
    await expect.poll(() => relay.connectionCount, { timeout: 10_000 }).toBe(0)
  })
})
