/**
 * The editor in headless Chromium against two `coedit serve` processes
 * sharing documents through PostgreSQL and a private Redis: each page is
 * opened directly on a different process, both people type at once, the
 * pages converge and each shows the other's cursor labelled with their name.
 */
import { expect, it } from 'vitest'
import type { BrowserContext, Page } from 'playwright-core'
import { artifacts, useBrowser } from './browser.js'
import { newProfile, openedBefore, people, typeAtEnd, waitForConnection, waitForSaveState, waitForText } from './editor-page.js'
import { describeWithServices } from '../helpers/services.js'
import { startProcessCluster, storedDocument } from '../helpers/cluster.js'
import type { ChildRelay } from '../helpers/child-relay.js'

const { ada, bob } = people

const browser = useBrowser()

/** Opens document `name` at `/d/<name>` of `child` in a new page of `context`; waits until it is connected. */
async function openOn (context: BrowserContext, child: ChildRelay, name: string): Promise<Page> {
  const page = await context.newPage()
  await openedBefore(page, name)
  await page.goto(`${child.url}/d/${encodeURIComponent(name)}`)
  await waitForConnection(page, 'connected')
  return page
}

/** The label text of every remote cursor the editor in `page` draws. */
async function cursorLabels (page: Page): Promise<string[]> {
  return await page.locator('.cm-ySelectionInfo').allTextContents()
}

await describeWithServices(['postgres'], 'the editor on two processes of one cluster', () => {
  it('converges two people typing on different processes, each seeing the other\'s cursor', async () => {
    const cluster = await startProcessCluster(2)
    const [first, second] = cluster.processes
    const a = await openOn(await newProfile(browser(), ada, { viewport: { width: 800, height: 600 } }), first, 'cluster')
    const b = await openOn(await newProfile(browser(), bob, { viewport: { width: 800, height: 600 } }), second, 'cluster')

    await typeAtEnd(a, 'Ada:\nBob:')
    await waitForText(b, 'Ada:\nBob:')
    await a.keyboard.press('Control+Home')
    await a.keyboard.press('End')
    await Promise.all([
      a.keyboard.type(' typed on the first process.', { delay: 10 }),
      typeAtEnd(b, ' typed on the second, at the same time.', 10)
    ])
    const expected = 'Ada: typed on the first process.\nBob: typed on the second, at the same time.'
    await waitForText(a, expected)
    await waitForText(b, expected)
    await a.keyboard.press('ArrowUp')

    await expect.poll(() => cursorLabels(a), { timeout: 10_000 }).toEqual(['Bob'])
    await expect.poll(() => cursorLabels(b), { timeout: 10_000 }).toEqual(['Ada'])
    await waitForSaveState(a, 'saved')
    await waitForSaveState(b, 'saved')
    const stored = await storedDocument(cluster.prefix, 'cluster')
    expect(stored.getText('text').toString()).toBe(expected)
    stored.destroy()

    await a.screenshot({ path: new URL('cluster-first-process.png', artifacts).pathname })
    await b.screenshot({ path: new URL('cluster-second-process.png', artifacts).pathname })
  }, 60_000)
})
