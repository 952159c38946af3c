/**
 * Getting text out of and into the editor, in headless Chromium against a
 * real relay: the Markdown download is the text byte for byte, the HTML
 * download and the live preview render Markdown without running or linking
 * anything the text smuggles in, printing prints the rendered document and
 * not the page, and a document started from a file holds that file's text.
 */
import { describe, expect, it } from 'vitest'
import { readFile } from 'node:fs/promises'
import type { Download, Page } from 'playwright-core'
import { createMemoryStore } from '../../server/storage/memory.js'
import { connectClient, synced } from '../helpers/relay.js'
import { artifacts, useBrowser } from './browser.js'
import { newProfile, openEditor, people, startEditorRelay, storedText, typeAtEnd, waitForText } from './editor-page.js'

const browser = useBrowser()

/** Text that tries to run script through raw HTML and links, around real Markdown. */
const hostile = [
  '# Project plan',
  '',
  'Ünïcode ✓ and “quotes”, a tab\there, and CRLF next:\r',
  '',
  '<script>window.ranScript = true</script>',
  '',
  '<img src="x" onerror="window.ranScript = true">',
  '',
  '[click me](javascript:window.ranScript=true) and [safe](https://example.com/)',
  '',
  '- one',
  '- two',
  ''
].join('\n')

/** Clicks `item` of the Document menu of `page` and answers the download it starts. */
async function downloadFromMenu (page: Page, item: string): Promise<Download> {
  await page.getByTestId('document-menu-button').click()
  const started = page.waitForEvent('download')
  await page.getByTestId(item).click()
  return await started
}

/** The bytes of a finished download. */
async function downloadedBytes (download: Download): Promise<Buffer> {
  return await readFile(await download.path())
}

describe('export and import', () => {
  it('downloads the text as Markdown, byte for byte, named from the title', async () => {
    const store = createMemoryStore()
    const relay = await startEditorRelay({ store })
    const writer = connectClient(relay, 'plan')
    await synced(writer)
    writer.text.insert(0, hostile)
    const page = await openEditor(await newProfile(browser(), people.ada), relay, 'plan')
    await waitForText(page, hostile.replace(/\r/g, ''))
    await expect.poll(() => page.title(), { timeout: 10_000 }).toBe('Project plan · coedit')

    const download = await downloadFromMenu(page, 'download-markdown')
    expect(download.suggestedFilename()).toBe('Project plan.md')
    const bytes = await downloadedBytes(download)
    expect(bytes.equals(Buffer.from(await storedText(store, 'plan'), 'utf8'))).toBe(true)
    expect(bytes.toString('utf8')).toBe(hostile)
  })

  it('downloads HTML rendered from the Markdown, with no script and no javascript: link', async () => {
    const relay = await startEditorRelay()
    const writer = connectClient(relay, 'plan')
    await synced(writer)
    writer.text.insert(0, hostile)
    const context = await newProfile(browser(), people.ada)
    const page = await openEditor(context, relay, 'plan')
    await waitForText(page, hostile.replace(/\r/g, ''))
    await expect.poll(() => page.title(), { timeout: 10_000 }).toBe('Project plan · coedit')
    await page.getByTestId('document-menu-button').click()
    await page.getByTestId('document-menu-list').waitFor()
    await page.screenshot({ path: new URL('document-menu.png', artifacts).pathname })
    await page.keyboard.press('Escape')

    const download = await downloadFromMenu(page, 'download-html')
    expect(download.suggestedFilename()).toBe('Project plan.html')
    const html = (await downloadedBytes(download)).toString('utf8')
    expect(html).toMatch(/^<!doctype html>/)
    expect(html).toContain('<title>Project plan</title>')
    expect(html).toContain('<h1>Project plan</h1>')
    expect(html).toContain('<li>one</li>')
    expect(html).toContain('<a href="https://example.com/">safe</a>')
    expect(html).not.toMatch(/<script/i)
    expect(html).not.toMatch(/<img/i)
    expect(html).not.toMatch(/href="javascript:/i)
    expect(html).toContain('&lt;script&gt;window.ranScript = true&lt;/script&gt;')

    // Opened as a page, the file runs nothing.
    const opened = await context.newPage()
    await opened.setContent(html)
    expect(await opened.locator('h1').textContent()).toBe('Project plan')
    expect(await opened.evaluate('window.ranScript === undefined')).toBe(true)
  })

  it('shows a live preview that runs nothing the text holds, beside the editor or in its place on a phone', async () => {
    const relay = await startEditorRelay()
    const writer = connectClient(relay, 'plan')
    await synced(writer)
    writer.text.insert(0, hostile)
    for (const [label, options] of [
      ['desktop', {}],
      ['phone', { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true }]
    ] as const) {
      const page = await openEditor(await newProfile(browser(), people.ada, options), relay, 'plan')
      // A phone has no room for the preview's own button: it is in the menu.
      const toggle = async (): Promise<void> => {
        if (label === 'desktop') {
          await page.getByTestId('preview-button').click()
        } else {
          await page.getByTestId('document-menu-button').click()
          await page.getByTestId('toggle-preview').click()
        }
      }
      await toggle()
      const preview = page.getByTestId('preview')
      await preview.locator('h1', { hasText: 'Project plan' }).waitFor()
      expect(await preview.locator('script, img').count()).toBe(0)
      expect(await preview.locator('a').evaluateAll((links) => links.map((link) => link.getAttribute('href')))).toEqual(['https://example.com/'])
      expect(await page.evaluate('window.ranScript === undefined')).toBe(true)
      expect(await page.locator('.cm-editor').isVisible()).toBe(label === 'desktop')
      await page.screenshot({ path: new URL(`preview-${label}.png`, artifacts).pathname })
      await toggle()
      await preview.waitFor({ state: 'hidden' })
      if (label === 'phone') {
        await page.getByTestId('document-menu-button').click()
        await page.getByTestId('document-menu-list').waitFor()
        await page.screenshot({ path: new URL('document-menu-phone.png', artifacts).pathname })
        await page.keyboard.press('Escape')
      }
    }

    // It follows the text as people type.
    const page = await openEditor(await newProfile(browser(), people.bob), relay, 'plan')
    await page.getByTestId('preview-button').click()
    await page.getByTestId('preview').locator('h1').waitFor()
    await typeAtEnd(page, '\n## Next steps')
    await page.getByTestId('preview').locator('h2', { hasText: 'Next steps' }).waitFor()
    writer.text.insert(writer.text.length, '\n\n> said elsewhere')
    await page.getByTestId('preview').locator('blockquote', { hasText: 'said elsewhere' }).waitFor()
  })

  it('prints the rendered document and none of the page around it', async () => {
    const relay = await startEditorRelay()
    const writer = connectClient(relay, 'plan')
    await synced(writer)
    writer.text.insert(0, '# Printed\n\nBody text.')
    const page = await openEditor(await newProfile(browser(), people.ada), relay, 'plan')
    await waitForText(page, '# Printed\n\nBody text.')
    // Load the renderer first, as opening the menu does, then print with the browser's own command.
    await page.getByTestId('document-menu-button').click()
    await page.keyboard.press('Escape')
    await page.emulateMedia({ media: 'print' })
    await expect.poll(async () => {
      await page.evaluate('window.dispatchEvent(new Event("beforeprint"))')
      return await page.getByTestId('print-view').locator('h1').count()
    }, { timeout: 10_000 }).toBe(1)
    expect(await page.getByTestId('print-view').locator('h1').isVisible()).toBe(true)
    expect(await page.locator('.cm-editor').isVisible()).toBe(false)
    expect(await page.locator('header').isVisible()).toBe(false)
    await page.pdf({ path: new URL('printed.pdf', artifacts).pathname })
  })

  it('starts a document from a text file, and refuses files too large or not text', async () => {
    const store = createMemoryStore()
    const relay = await startEditorRelay({ store })
    const page = await (await newProfile(browser(), people.ada)).newPage()
    await page.goto(`${relay.url}/`)
    await page.getByTestId('new-from-file').waitFor()

    const problem = page.getByTestId('create-problem')
    await page.getByTestId('file-input').setInputFiles({ name: 'photo.png', mimeType: 'image/png', buffer: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 0]) })
    await problem.waitFor()
    expect(await problem.textContent()).toBe('“photo.png” is not a text file. Pick a Markdown (.md) or text (.txt) file.')
    await page.getByTestId('file-input').setInputFiles({ name: 'notes.md', mimeType: 'text/markdown', buffer: Buffer.from([0x23, 0x20, 0xff, 0xfe, 0x0a]) })
    await expect.poll(() => problem.textContent()).toBe('“notes.md” is not UTF-8 text. Save it as UTF-8 text and try again.')
    await page.getByTestId('file-input').setInputFiles({ name: 'big.txt', mimeType: 'text/plain', buffer: Buffer.alloc(3 * 1024 * 1024, 'a') })
    await expect.poll(() => problem.textContent()).toBe('“big.txt” is 3 MB; a new document can start from a file of at most 2 MB.')
    expect(relay.registry.size).toBe(0)
    expect(await store.list()).toEqual([])

    const file = '# Imported plan\r\n\r\nFirst line ✓\r\n\tindented\r\n'
    await page.getByTestId('file-input').setInputFiles({ name: 'plan.md', mimeType: 'text/markdown', buffer: Buffer.from(file, 'utf8') })
    await page.waitForURL(/\/d\/[a-z2-7]{20}$/)
    const name = decodeURIComponent(new URL(page.url()).pathname.slice(3))
    await expect.poll(() => page.title(), { timeout: 10_000 }).toBe('Imported plan · coedit')
    expect(await storedText(store, name)).toBe(file)
    await page.goto(`${relay.url}/`)
    await page.getByTestId('recent-item').waitFor()
    expect(await page.getByTestId('recent-title').allTextContents()).toEqual(['Imported plan'])
  })
})
