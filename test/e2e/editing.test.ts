/**
 * Everyday editing in headless Chromium against a real relay: formatting
 * keys and their undo, Enter leaving lists and quotes, find and replace
 * with its match count, search on a view-only page, the toolbar by mouse
 * and by touch on a phone, in light and dark.
 */
import { describe, expect, it } from 'vitest'
import type { Page } from 'playwright-core'
import type { Relay } from '../../server/relay.js'
import { createTokenAuthority } from '../../server/auth/tokens.js'
import { artifacts, useBrowser } from './browser.js'
import { editorText, newProfile, openEditor, people, startEditorRelay, typeAtEnd, waitForText } from './editor-page.js'

const { ada, bob } = people
const secret = 'e'.repeat(32)
const authority = createTokenAuthority({ secret })!

const browser = useBrowser()

/** The text of document `name` on the relay, once it holds `text` (fails after 10 s). */
async function serverTextBecomes (relay: Relay, name: string, text: string): Promise<void> {
  await expect.poll(() => relay.registry.get(name)?.text, { timeout: 10_000 }).toBe(text)
}

/** The `name` attribute of the element that has the focus in `page`. */
async function focusedName (page: Page): Promise<string | null> {
  return await page.evaluate('document.activeElement && document.activeElement.getAttribute("name")') as string | null
}

/** The toolbar button labelled `label`. */
function button (page: Page, label: string): ReturnType<Page['locator']> {
  return page.getByTestId('toolbar').getByRole('button', { name: label, exact: true })
}

/** What the find panel's match count says. */
async function matchCount (page: Page): Promise<string | null> {
  return await page.getByTestId('find-count').textContent()
}

/** Selects the word before the last one of a single-line document. */
async function selectSecondLastWord (page: Page): Promise<void> {
  await page.click('.cm-content')
  await page.keyboard.press('Control+End')
  await page.keyboard.press('Control+ArrowLeft')
  await page.keyboard.press('ArrowLeft')
  await page.keyboard.press('Control+Shift+ArrowLeft')
}

describe('everyday editing', () => {
  it('bolds a selection with Ctrl+B, in the shared text, and one Ctrl+Z takes it back', async () => {
    const relay = await startEditorRelay()
    // Bob writes the sentence: Ada's undo has nothing of hers but the bold.
    const writer = await openEditor(await newProfile(browser(), bob), relay, 'bold')
    await typeAtEnd(writer, 'make this word bold')
    const page = await openEditor(await newProfile(browser(), ada), relay, 'bold')
    await waitForText(page, 'make this word bold')

    await selectSecondLastWord(page)
    await page.keyboard.press('Control+b')
    await serverTextBecomes(relay, 'bold', 'make this **word** bold')
    await waitForText(writer, 'make this **word** bold')

    await page.keyboard.press('Control+z')
    await serverTextBecomes(relay, 'bold', 'make this word bold')
    await waitForText(page, 'make this word bold')

    await page.keyboard.press('Control+i')
    await serverTextBecomes(relay, 'bold', 'make this *word* bold')
    await page.keyboard.press('Control+i')
    await page.keyboard.press('Control+k')
    await page.keyboard.type('https://example.com')
    await serverTextBecomes(relay, 'bold', 'make this [word](https://example.com) bold')
  })

  it('leaves a list or a quote when Enter is pressed on its empty line', async () => {
    const relay = await startEditorRelay()
    const page = await openEditor(await newProfile(browser(), ada), relay, 'lists')
    await typeAtEnd(page, '- apples\npears\n\nafter the list\n> a quote\n\nafter the quote\n1. one\n\ndone')
    // Each list or quote ends with a blank line: the text after it is not part of it.
    await serverTextBecomes(relay, 'lists', '- apples\n- pears\n\nafter the list\n> a quote\n\nafter the quote\n1. one\n\ndone')
  })

  it('opens replace with Ctrl+H, counts matches and replaces them all', async () => {
    const relay = await startEditorRelay()
    const page = await openEditor(await newProfile(browser(), ada, { viewport: { width: 1000, height: 640 } }), relay, 'replace')
    await typeAtEnd(page, '# Pets\n\nThe cat sat. Another cat ran. A dog slept.')
    await serverTextBecomes(relay, 'replace', '# Pets\n\nThe cat sat. Another cat ran. A dog slept.')

    await page.keyboard.press('Control+h')
    await page.locator('.cm-find').waitFor()
    expect(await focusedName(page)).toBe('replace')

    await page.locator('.cm-find [name="search"]').fill('cat')
    // Typing finds: the first match from the cursor on (wrapping to the start) is selected.
    await expect.poll(() => matchCount(page)).toBe('1 of 2')
    await page.locator('.cm-find [name="search"]').press('Enter')
    await expect.poll(() => matchCount(page)).toBe('2 of 2')
    await page.locator('.cm-find [name="search"]').fill('cow')
    await expect.poll(() => matchCount(page)).toBe('No matches')
    await page.locator('.cm-find [name="search"]').fill('cat')
    await page.locator('.cm-find input[name="replace"]').fill('bird')
    await page.screenshot({ path: new URL('find-panel-light.png', artifacts).pathname })

    await page.getByRole('button', { name: 'Replace all matches' }).click()
    await serverTextBecomes(relay, 'replace', '# Pets\n\nThe bird sat. Another bird ran. A dog slept.')
    await expect.poll(() => matchCount(page)).toBe('No matches')

    // Escape closes the panel and gives the text its focus back.
    await page.locator('.cm-find [name="search"]').press('Escape')
    await page.locator('.cm-find').waitFor({ state: 'detached' })
  })

  it('lets a view-only reader search, without changing the text', async () => {
    const relay = await startEditorRelay({ authSecret: secret })
    const writer = await openEditor(await newProfile(browser(), ada), relay, 'read', await authority.mint({ doc: 'read', permission: 'write', name: null }, 3600))
    await typeAtEnd(writer, '- one fish, two fish, red fish')
    const reader = await openEditor(await newProfile(browser(), bob), relay, 'read', await authority.mint({ doc: 'read', permission: 'read', name: null }, 3600))
    await waitForText(reader, '- one fish, two fish, red fish')

    // Only Search on the toolbar: nothing else there would work.
    expect(await reader.getByTestId('toolbar').getByRole('button').evaluateAll((buttons) => buttons.filter((b) => (b as { hidden: boolean }).hidden === false).map((b) => b.getAttribute('aria-label')))).toEqual(['Search'])

    // Keys that would write, with the cursor at the end of a list item.
    await reader.click('.cm-content')
    await reader.keyboard.press('End')
    await reader.keyboard.type('x')
    await reader.keyboard.press('Control+b')
    await reader.keyboard.press('Enter')
    await reader.keyboard.press('Control+z')
    await reader.keyboard.press('Control+f')
    await reader.locator('.cm-find').waitFor()
    expect(await focusedName(reader)).toBe('search')
    expect(await reader.locator('.cm-find input[name="replace"]').isVisible()).toBe(false)
    await reader.locator('.cm-find [name="search"]').fill('fish')
    await expect.poll(() => matchCount(reader)).toBe('1 of 3')
    await reader.locator('.cm-find [name="search"]').press('Enter')
    await expect.poll(() => matchCount(reader)).toBe('2 of 3')
    await reader.screenshot({ path: new URL('find-panel-view-only.png', artifacts).pathname })
    // Ctrl+H on a view-only page is find: the cursor stays in the find field.
    await reader.keyboard.press('Control+h')
    expect(await focusedName(reader)).toBe('search')

    expect(await editorText(reader)).toBe('- one fish, two fish, red fish')
    expect(await reader.locator('.cm-content').getAttribute('contenteditable')).toBe('false')
    await typeAtEnd(writer, '.')
    await waitForText(reader, '- one fish, two fish, red fish.')
    expect(relay.registry.get('read')?.text).toBe('- one fish, two fish, red fish.')
  })

  it('formats, undoes and redoes with toolbar clicks, and looks right in dark mode', async () => {
    const relay = await startEditorRelay()
    const page = await openEditor(await newProfile(browser(), ada, { viewport: { width: 1000, height: 640 }, colorScheme: 'dark' }), relay, 'toolbar')
    await typeAtEnd(page, 'note')
    await serverTextBecomes(relay, 'toolbar', 'note')
    expect(await button(page, 'Bold').getAttribute('title')).toBe('Bold (Ctrl+B)')

    await page.keyboard.press('Control+a')
    await button(page, 'Bold').click()
    await serverTextBecomes(relay, 'toolbar', '**note**')
    await button(page, 'Bulleted list').click()
    await serverTextBecomes(relay, 'toolbar', '- **note**')
    await button(page, 'Undo').click()
    await serverTextBecomes(relay, 'toolbar', '**note**')
    await button(page, 'Redo').click()
    await serverTextBecomes(relay, 'toolbar', '- **note**')
    await button(page, 'Heading').click()
    await button(page, 'Quote').click()
    await serverTextBecomes(relay, 'toolbar', '> # - **note**')
    // Formatting keeps the focus in the text: typing goes on there.
    await page.keyboard.press('End')
    await page.keyboard.type('!')
    await serverTextBecomes(relay, 'toolbar', '> # - **note**!')

    await button(page, 'Search').click()
    await page.locator('.cm-find').waitFor()
    expect(await focusedName(page)).toBe('search')
    await page.locator('.cm-find [name="search"]').fill('note')
    await expect.poll(() => matchCount(page)).toBe('1 of 1')
    await page.screenshot({ path: new URL('find-panel-dark.png', artifacts).pathname })
  })

  it('gives a phone one row of 44 px toolbar buttons that work by touch', async () => {
    const relay = await startEditorRelay()
    const phone = await newProfile(browser(), ada, { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true })
    const page = await openEditor(phone, relay, 'phone')
    await typeAtEnd(page, 'Shopping list')
    await serverTextBecomes(relay, 'phone', 'Shopping list')

    const boxes = await page.getByTestId('toolbar').locator('button').evaluateAll((buttons) => buttons.map((b) => {
      const box = b.getBoundingClientRect()
      return { label: b.getAttribute('aria-label'), top: box.top, right: box.right, width: box.width, height: box.height }
    }))
    expect(boxes.length).toBe(11)
    for (const box of boxes) {
      expect(box.height).toBeGreaterThanOrEqual(44)
      expect(box.width).toBeGreaterThanOrEqual(44)
    }
    expect(new Set(boxes.map((box) => box.top)).size).toBe(1)
    // The formatting buttons scroll inside the row; Undo, Redo and Search stay in view; the page does not scroll sideways.
    const width = await page.evaluate('window.innerWidth') as number
    expect(boxes.filter((box) => box.right <= width).map((box) => box.label)).toEqual(expect.arrayContaining(['Undo', 'Redo', 'Search']))
    expect(await page.evaluate('(() => { const row = document.querySelector(".toolbar-formatting"); return row.scrollWidth > row.clientWidth })()')).toBe(true)
    expect(await page.evaluate('document.documentElement.scrollWidth - window.innerWidth')).toBe(0)
    await page.screenshot({ path: new URL('toolbar-phone.png', artifacts).pathname })

    await button(page, 'Undo').tap()
    await serverTextBecomes(relay, 'phone', '')
    await button(page, 'Redo').tap()
    await serverTextBecomes(relay, 'phone', 'Shopping list')
    await button(page, 'Search').tap()
    await page.locator('.cm-find [name="search"]').fill('list')
    await expect.poll(() => matchCount(page)).toBe('1 of 1')
    const field = await page.locator('.cm-find [name="search"]').boundingBox()
    expect(field?.height).toBeGreaterThanOrEqual(44)
    await page.screenshot({ path: new URL('find-panel-phone.png', artifacts).pathname })
  })
})
