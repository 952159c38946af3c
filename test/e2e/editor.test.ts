/**
 * The editor in headless Chromium against a real relay: two people typing at
 * once, their cursors, undo, the connection and saved indicators across a
 * relay restart, document names, and a phone-sized screen.
 */
import { describe, expect, it } from 'vitest'
import type { Page } from 'playwright-core'
import type { DocStore } from '../../server/storage/store.js'
import { createMemoryStore } from '../../server/storage/memory.js'
import { artifacts, useBrowser } from './browser.js'
import {
  documentUrl, newProfile, openedBefore, people, openEditor, startEditorRelay, storedText, typeAtEnd,
  waitForConnection, waitForSaveState, waitForText
} from './editor-page.js'

const { ada, bob } = people

const browser = useBrowser()

/** A store whose appends wait until `release()`: the relay sees each update long before it is durable. */
function heldStore (): { store: DocStore, appends: () => number, release: () => void } {
  const inner = createMemoryStore()
  let appends = 0
  let release!: () => void
  const released = new Promise<void>((resolve) => { release = resolve })
  const store: DocStore = {
    ...inner,
    async append (name, update) {
      appends++
      const copy = update.slice()
      await released
      return await inner.append(name, copy)
    }
  }
  return { store, appends: () => appends, release }
}

/** The label text of every remote cursor the editor in `page` draws. */
async function cursorLabels (page: Page): Promise<string[]> {
  return await page.locator('.cm-ySelectionInfo').allTextContents()
}

/** The names in the people list of `page`, this page's own first. */
async function peopleNames (page: Page): Promise<string[]> {
  return await page.locator('[data-testid="person"] .person-name').allTextContents()
}

/** Saves screenshots of `left` and `right` side by side as one image, showing it in place of `left`'s page. */
async function sideBySide (left: Page, right: Page, path: string): Promise<void> {
  const img = (png: Buffer): string => `<img src="data:image/png;base64,${png.toString('base64')}" style="border:1px solid #888">`
  const shots = [await left.screenshot(), await right.screenshot()]
  await left.setViewportSize({ width: 1640, height: 622 })
  await left.setContent(`<body style="margin:0;padding:10px;display:flex;align-items:flex-start;gap:18px;background:#ccc">${shots.map(img).join('')}</body>`)
  await left.screenshot({ path })
}

describe('the editor in a browser', () => {
  it('converges when two people type into one document at the same time', async () => {
    const relay = await startEditorRelay()
    const a = await openEditor(await newProfile(browser(), ada), relay, 'converge')
    const b = await openEditor(await newProfile(browser(), bob), relay, 'converge')
    await typeAtEnd(a, 'Ada:\nBob:')
    await waitForText(b, 'Ada:\nBob:')
    await a.keyboard.press('Control+Home')
    await a.keyboard.press('End')

    await Promise.all([
      a.keyboard.type(' Ada writes this sentence.', { delay: 10 }),
      typeAtEnd(b, ' Bob adds another one, at the same time.', 10)
    ])

    const expected = 'Ada: Ada writes this sentence.\nBob: Bob adds another one, at the same time.'
    await waitForText(a, expected)
    await waitForText(b, expected)
    await expect.poll(() => relay.registry.get('converge')?.text, { timeout: 10_000 }).toBe(expected)
  })

  it("shows each person the other's cursor labelled with their name", async () => {
    const relay = await startEditorRelay()
    const a = await openEditor(await newProfile(browser(), ada, { viewport: { width: 800, height: 600 } }), relay, 'cursors')
    const b = await openEditor(await newProfile(browser(), bob, { viewport: { width: 800, height: 600 } }), relay, 'cursors')

    await typeAtEnd(a, '# Notes\n\nAda: every edit is kept.\n')
    await waitForText(b, '# Notes\n\nAda: every edit is kept.\n')
    await typeAtEnd(b, 'Bob: **Markdown** shows.')
    await waitForText(a, '# Notes\n\nAda: every edit is kept.\nBob: **Markdown** shows.')
    await a.keyboard.press('ArrowUp')

    await expect.poll(() => cursorLabels(a), { timeout: 10_000 }).toEqual(['Bob'])
    await expect.poll(() => cursorLabels(b), { timeout: 10_000 }).toEqual(['Ada'])
    await expect.poll(() => peopleNames(a), { timeout: 10_000 }).toEqual(['Ada (you)', 'Bob'])
    await expect.poll(() => peopleNames(b), { timeout: 10_000 }).toEqual(['Bob (you)', 'Ada'])

    await sideBySide(a, b, new URL('two-people.png', artifacts).pathname)
  })

  it('undoes only your own typing', async () => {
    const relay = await startEditorRelay()
    const a = await openEditor(await newProfile(browser(), ada), relay, 'undo')
    const b = await openEditor(await newProfile(browser(), bob), relay, 'undo')

    await typeAtEnd(a, 'alpha ')
    await waitForText(b, 'alpha ')
    await typeAtEnd(b, 'beta')
    await waitForText(a, 'alpha beta')

    await a.keyboard.press('Control+z')
    await waitForText(a, 'beta')
    await waitForText(b, 'beta')

    // Shift+Z, as a real keyboard reports it (key "Z").
    await a.keyboard.press('Control+Shift+Z')
    await waitForText(b, 'alpha beta')

    await b.keyboard.press('Control+z')
    await waitForText(a, 'alpha ')
    await waitForText(b, 'alpha ')
    expect(relay.registry.get('undo')?.text).toBe('alpha ')
  })

  it('shows the connection going offline when the relay stops and back when it restarts', async () => {
    const store = createMemoryStore()
    const first = await startEditorRelay({ store })
    const page = await openEditor(await newProfile(browser(), ada), first, 'restart')
    await typeAtEnd(page, 'Written before the restart.')
    await waitForSaveState(page, 'saved')

    await first.close()
    await waitForConnection(page, 'offline')
    expect(await page.getByTestId('status').textContent()).toMatch(/^Offline — (retrying in \d+ s|reconnecting)$/)
    await page.screenshot({ path: new URL('offline.png', artifacts).pathname })

    await typeAtEnd(page, ' Written while offline.')
    await waitForSaveState(page, 'on-device')
    const asked = new Promise<string>((resolve) => page.once('dialog', (dialog) => {
      resolve(dialog.type())
      void dialog.dismiss()
    }))
    await page.close({ runBeforeUnload: true })
    expect(await asked).toBe('beforeunload')
    expect(page.isClosed()).toBe(false)

    const second = await startEditorRelay({ store, port: first.port })
    await waitForConnection(page, 'connected')
    expect(await page.getByTestId('status').textContent()).toBe('Connected')
    await waitForSaveState(page, 'saved')
    expect(await storedText(store, 'restart')).toBe('Written before the restart. Written while offline.')

    const later = await openEditor(await newProfile(browser(), bob), second, 'restart')
    await waitForText(later, 'Written before the restart. Written while offline.')
  })

  it('says "Saved" only once the relay confirms the edit is stored', async () => {
    const held = heldStore()
    const relay = await startEditorRelay({ store: held.store })
    const page = await openEditor(await newProfile(browser(), ada), relay, 'saved')
    expect(await page.getByTestId('saved').getAttribute('data-state')).toBe('saved')

    await typeAtEnd(page, 'Durable?')
    await waitForSaveState(page, 'saving')
    await expect.poll(held.appends, { timeout: 10_000 }).toBeGreaterThan(0)
    // The relay has the edit but has not stored it: the page must not claim otherwise.
    expect(await page.getByTestId('saved').textContent()).toBe('Saving…')
    expect(await storedText(held.store, 'saved')).toBe('')

    held.release()
    await waitForSaveState(page, 'saved')
    expect(await page.getByTestId('saved').textContent()).toBe('Saved')
    expect(await storedText(held.store, 'saved')).toBe('Durable?')
  })

  it('starts new documents with random names from /, opens documents by name and copies their link', async () => {
    const relay = await startEditorRelay()
    const context = await newProfile(browser(), ada)
    const page = await context.newPage()

    await page.goto(`${relay.url}/`)
    await page.getByTestId('create-document').click()
    await page.waitForURL(/\/d\/[a-z2-7]{20}$/)
    const first = new URL(page.url()).pathname.slice(3)
    expect(await page.getByTestId('doc-name').textContent()).toBe(first)
    await waitForConnection(page, 'connected')
    await page.getByTestId('new-document').click()
    await page.waitForURL(/\/d\/[a-z2-7]{20}$/)
    expect(new URL(page.url()).pathname.slice(3)).not.toBe(first)
    await waitForConnection(page, 'connected')

    await page.getByTestId('open-name').fill('bad <name>')
    await page.getByTestId('open-name').press('Enter')
    await page.getByTestId('open-error').waitFor()
    expect(page.url()).not.toContain('bad')

    // A name no document has yet is made only on request.
    await page.getByTestId('open-name').fill('team notes/2025')
    await page.getByTestId('open-name').press('Enter')
    await page.waitForURL(documentUrl(relay, 'team notes/2025'))
    expect(await page.getByTestId('doc-name').textContent()).toBe('team notes/2025')
    await page.getByTestId('create-missing').click()
    await waitForConnection(page, 'connected')
    await typeAtEnd(page, 'agenda')
    await expect.poll(() => relay.registry.get('team notes/2025')?.text, { timeout: 10_000 }).toBe('agenda')

    // Share makes a view link to the document opened by name (see test/e2e/share.test.ts).
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: relay.url })
    await page.getByTestId('share').click()
    await expect.poll(() => page.getByTestId('share-link').inputValue()).not.toBe('')
    await page.getByTestId('share-copy').click()
    await page.getByTestId('share-copy').filter({ hasText: 'Copied' }).waitFor()
    const copied = await page.evaluate('navigator.clipboard.readText()') as string
    expect(copied.startsWith(`${documentUrl(relay, 'team notes/2025')}?token=`)).toBe(true)
  })

  it('asks for a name once and lets it be changed', async () => {
    const relay = await startEditorRelay()
    const context = await newProfile(browser())
    const page = await context.newPage()
    await openedBefore(page, 'names')
    await page.goto(documentUrl(relay, 'names'))
    const input = page.getByTestId('name-input')
    await input.waitFor()
    expect(await input.inputValue()).toMatch(/^[A-Z][a-z]+ [A-Z][a-z]+$/)
    await page.screenshot({ path: new URL('name-dialog.png', artifacts).pathname })
    await input.fill('Grace Hopper')
    await page.getByTestId('name-save').click()
    await page.locator('[data-testid="person"][data-self]', { hasText: 'Grace Hopper (you)' }).waitFor()

    await page.reload()
    await waitForConnection(page, 'connected')
    await page.locator('[data-testid="person"][data-self]', { hasText: 'Grace Hopper (you)' }).waitFor()
    expect(await page.getByTestId('name-dialog').isVisible()).toBe(false)

    const other = await openEditor(await newProfile(browser(), bob), relay, 'names')
    await other.locator('[data-testid="person"]', { hasText: 'Grace Hopper' }).waitFor()
    await page.getByTestId('name-button').click()
    await page.getByTestId('name-input').fill('Amazing Grace')
    await page.getByTestId('name-input').press('Enter')
    await other.locator('[data-testid="person"]', { hasText: 'Amazing Grace' }).waitFor()
    expect(await peopleNames(other)).toEqual(['Bob (you)', 'Amazing Grace'])
  })

  it('fits a phone screen without sideways scrolling', async () => {
    const relay = await startEditorRelay()
    const phone = await newProfile(browser(), ada, { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true })
    const page = await openEditor(phone, relay, 'a-rather-long-document-name-for-a-small-screen')
    await openEditor(await newProfile(browser(), bob), relay, 'a-rather-long-document-name-for-a-small-screen')
    await page.locator('[data-testid="person"]').nth(1).waitFor()
    await typeAtEnd(page, '# Shopping\n\n- apples\npears\n\nSee ')
    // A long word, pasted: it must wrap rather than widen the page.
    await page.keyboard.insertText('https://example.com/a/very/long/path/that/does/not/fit/on/one/line')

    // How far the page and the editor scroll sideways, and which header or footer elements stick out.
    const overflow = await page.evaluate(`({
      page: document.documentElement.scrollWidth - window.innerWidth,
      editor: document.querySelector('.cm-scroller').scrollWidth - document.querySelector('.cm-scroller').clientWidth,
      outside: [...document.querySelectorAll('header *, footer *')]
        .filter((el) => el.getClientRects().length > 0 && el.getBoundingClientRect().right > window.innerWidth + 0.5)
        .map((el) => el.dataset.testid ?? el.className)
    })`)
    expect(overflow).toEqual({ page: 0, editor: 0, outside: [] })
    await page.screenshot({ path: new URL('phone.png', artifacts).pathname })
  })
})
