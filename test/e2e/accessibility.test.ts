/**
 * The editor for keyboards, screen readers, dark screens and fingers, in
 * real Chromium: the contrast of every text on its background and of
 * other people's cursors in light and dark schemes (from computed
 * styles), focus coming back after dialogs, a keyboard way out of the
 * text, and a phone screen's tap targets, text fields and header.
 */
import { describe, expect, it } from 'vitest'
import type { BrowserContext, Page } from 'playwright-core'
import type { Relay } from '../../server/relay.js'
import { useBrowser } from './browser.js'
import {
  newProfile, openEditor, people, startEditorRelay, typeAtEnd, waitForConnection, waitForSaveState, waitForText
} from './editor-page.js'

const browser = useBrowser()

const phone = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true }
const others = ['Bob Kahn', 'Carol Shaw', 'Dan Bricklin', 'Edsger Dijkstra', 'Frances Allen', 'Grace Hopper']

/** Opens `name` for `others` in profiles of their own, each typing a line so that their cursor shows. */
async function crowd (relay: Relay, name: string): Promise<Page[]> {
  const pages: Page[] = []
  for (const [i, person] of others.entries()) {
    const page = await openEditor(await newProfile(browser(), { name: person, color: people.ada.color }), relay, name)
    await typeAtEnd(page, `${i === 0 ? '' : '\n'}${person} was here.`)
    pages.push(page)
  }
  return pages
}

/** Waits until `page` lists `count` people. */
async function listed (page: Page, count: number): Promise<void> {
  await expect.poll(async () => await page.locator('[data-testid="person-entry"]').count(), { timeout: 10_000 }).toBe(count)
}

/** One text (or cursor) whose contrast was measured. */
interface Measured { what: string, text: string, ratio: number }

/*
 * Runs in the page (as a string: these files compile without the DOM
 * library). Colours are read by painting them on a canvas, so any CSS
 * colour syntax works; a see-through background is laid over what is
 * behind it, up to the page's.
 */
const measureContrast = `(() => {
  const canvas = document.createElement('canvas')
  canvas.width = canvas.height = 1
  const context = canvas.getContext('2d', { willReadFrequently: true })
  const rgba = (css) => {
    context.clearRect(0, 0, 1, 1)
    context.fillStyle = '#000'
    context.fillStyle = css
    context.fillRect(0, 0, 1, 1)
    const [r, g, b, a] = context.getImageData(0, 0, 1, 1).data
    return [r, g, b, a / 255]
  }
  const over = (top, bottom) => [0, 1, 2].map((i) => top[i] * top[3] + bottom[i] * (1 - top[3])).concat(1)
  const background = (element) => {
    const layers = []
    for (let at = element; at; at = at.parentElement) {
      const colour = rgba(getComputedStyle(at).backgroundColor)
      if (getComputedStyle(at).backgroundColor === 'rgba(0, 0, 0, 0)') continue
      layers.push(colour)
      if (colour[3] === 1) break
    }
    let result = rgba(getComputedStyle(document.body).backgroundColor)
    for (const layer of layers.reverse()) result = over(layer, result)
    return result
  }
  const luminance = ([r, g, b]) => {
    const [R, G, B] = [r, g, b].map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4 })
    return 0.2126 * R + 0.7152 * G + 0.0722 * B
  }
  const ratio = (one, other) => {
    const [a, b] = [luminance(one), luminance(other)].sort((x, y) => y - x)
    return Math.round((a + 0.05) / (b + 0.05) * 100) / 100
  }
  const name = (element) => element.dataset.testid ?? element.className ?? element.tagName
  const shown = (element) => {
    const box = element.getBoundingClientRect()
    return element.getClientRects().length > 0 && box.width > 1 && box.height > 1 && getComputedStyle(element).visibility === 'visible'
  }
  const measured = []
  for (const element of document.querySelectorAll('body *')) {
    if (!shown(element) || element.closest('.visually-hidden')) continue
    // Text that shows: not the invisible word joiners around a remote cursor.
    const own = [...element.childNodes].filter((node) => node.nodeType === 3 && /[^\\s\\u2060]/.test(node.textContent)).map((node) => node.textContent.trim()).join(' ')
    const field = element.matches('input:not([type="radio"])') ? element.value || element.placeholder : ''
    const text = own || field
    if (text === '') continue
    const colour = over(rgba(getComputedStyle(element).color), background(element))
    measured.push({ what: name(element), text: text.slice(0, 40), ratio: ratio(colour, background(element)) })
  }
  // Other people's cursors: the bar against the text's background.
  for (const caret of document.querySelectorAll('.cm-ySelectionCaret')) {
    measured.push({ what: 'remote caret', text: caret.querySelector('.cm-ySelectionInfo')?.textContent ?? '', ratio: ratio(rgba(getComputedStyle(caret).borderLeftColor), background(caret.parentElement)) })
  }
  return measured
})()`

/** The contrast of every text and cursor on `page` now. */
async function contrasts (page: Page): Promise<Measured[]> {
  return await page.evaluate(measureContrast) as Measured[]
}

/** Those of `measured` under 4.5:1. */
function tooFaint (measured: Measured[]): Measured[] {
  return measured.filter((item) => item.ratio < 4.5)
}

/** The `data-testid` of the element that has the keyboard focus in `page`, or its tag and class. */
async function focused (page: Page): Promise<string> {
  return await page.evaluate("(() => { const at = document.activeElement; return at?.dataset.testid ?? `${at?.tagName}.${at?.className}` })()") as string
}

describe('accessibility', () => {
  it('keeps every text, label and cursor at 4.5:1 or more in light and dark schemes', { timeout: 120_000 }, async () => {
    const relay = await startEditorRelay()
    const context = await newProfile(browser(), people.ada, { viewport: { width: 1280, height: 720 } })
    const page = await openEditor(context, relay, 'contrast')
    await crowd(relay, 'contrast')
    await listed(page, 7)
    await page.locator('.cm-ySelectionCaret').nth(5).waitFor()

    // The editor's own theme follows the system: CodeMirror swaps its light theme class for its dark one.
    const editorClasses = async (): Promise<string> => await page.locator('.cm-editor').getAttribute('class') ?? ''
    await page.emulateMedia({ colorScheme: 'light' })
    const lightClasses = await editorClasses()
    await page.emulateMedia({ colorScheme: 'dark' })
    await expect.poll(editorClasses).not.toBe(lightClasses)
    await page.emulateMedia({ colorScheme: 'light' })
    await expect.poll(editorClasses).toBe(lightClasses)

    for (const colorScheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme })
      await expect.poll(async () => (await editorClasses()) === lightClasses).toBe(colorScheme === 'light')
      await page.locator('.cm-ySelectionCaret').first().hover()
      const page1 = await contrasts(page)
      expect(page1.some((item) => item.what === 'remote caret')).toBe(true)
      expect(page1.some((item) => item.what === 'cm-ySelectionInfo')).toBe(true)
      expect(page1.some((item) => item.what === 'doc-name')).toBe(true)
      expect(tooFaint(page1), colorScheme).toEqual([])
      await page.screenshot({ path: `/tmp/people-desktop-${colorScheme}.png` })

      await page.getByTestId('people-more').click()
      await page.getByTestId('people-all').waitFor()
      expect(tooFaint(await contrasts(page)), `${colorScheme}, everyone`).toEqual([])
      await page.screenshot({ path: `/tmp/people-all-${colorScheme}.png` })
      await page.keyboard.press('Escape')

      await page.getByTestId('name-button').click()
      await page.getByTestId('name-input').waitFor()
      expect(tooFaint(await contrasts(page)), `${colorScheme}, name dialog`).toEqual([])
      await page.screenshot({ path: `/tmp/name-dialog-${colorScheme}.png` })
      await page.keyboard.press('Escape')
      await expect.poll(async () => await page.getByTestId('name-dialog').isVisible()).toBe(false)

      await page.getByTestId('history').click()
      await page.getByTestId('history-list').locator('li').first().waitFor()
      expect(tooFaint(await contrasts(page)), `${colorScheme}, history`).toEqual([])
      await page.getByTestId('history-close').click()
    }
  })

  it('gives the focus back to the button that opened a dialog or panel', async () => {
    const relay = await startEditorRelay()
    const page = await openEditor(await newProfile(browser(), people.ada), relay, 'focus')

    await page.getByTestId('name-button').focus()
    await page.keyboard.press('Enter')
    await page.getByTestId('name-input').waitFor()
    expect(await focused(page)).toBe('name-input')
    await page.keyboard.press('Escape')
    await expect.poll(() => focused(page)).toBe('name-button')

    await page.keyboard.press('Enter')
    await page.getByTestId('name-input').fill('Ada L.')
    await page.keyboard.press('Enter')
    await page.locator('[data-testid="person"][data-self]', { hasText: 'Ada L. (you)' }).waitFor()
    await expect.poll(() => focused(page)).toBe('name-button')

    await page.getByTestId('history').focus()
    await page.keyboard.press('Enter')
    await page.getByTestId('history-close').focus()
    await page.keyboard.press('Enter')
    await expect.poll(async () => await page.getByTestId('history-panel').isVisible()).toBe(false)
    expect(await focused(page)).toBe('history')

    await page.keyboard.press('Enter')
    await page.getByTestId('history-close').focus()
    await page.keyboard.press('Escape')
    await expect.poll(async () => await page.getByTestId('history-panel').isVisible()).toBe(false)
    expect(await focused(page)).toBe('history')
  })

  it('indents with Tab in the text, and leaves it with Escape then Tab, as the hint says', async () => {
    const relay = await startEditorRelay()
    const page = await openEditor(await newProfile(browser(), people.ada), relay, 'keys')
    await typeAtEnd(page, 'item')
    await page.keyboard.press('Home')
    await page.keyboard.press('Tab')
    expect(await page.evaluate("document.activeElement.classList.contains('cm-content')")).toBe(true)
    await expect.poll(async () => await page.locator('.cm-content').textContent()).toMatch(/^\s+item$/)

    const hint = await page.evaluate("document.getElementById(document.querySelector('.cm-content').getAttribute('aria-describedby'))?.textContent")
    expect(hint).toMatch(/Escape, then Tab/)

    await page.keyboard.press('Escape')
    await page.keyboard.press('Tab')
    expect(await page.evaluate("document.activeElement.closest('.cm-editor') === null")).toBe(true)
    await expect.poll(async () => await page.locator('.cm-content').textContent()).toMatch(/^\s+item$/)
  })

  it('on a phone: fingers reach every control, text fields do not zoom, and the header keeps to two rows even offline', async () => {
    const relay = await startEditorRelay()
    const context: BrowserContext = await newProfile(browser(), people.ada, phone)
    const page = await openEditor(context, relay, 'a-rather-long-document-name-for-a-small-screen')
    await crowd(relay, 'a-rather-long-document-name-for-a-small-screen')
    await listed(page, 7)
    await waitForText(page, others.map((person) => `${person} was here.`).join('\n'))

    /** Controls smaller than 44 × 44 px, text fields under 16 px, and the header's rows and height. */
    const check = async (): Promise<{ small: string[], fonts: string[], rows: number, height: number }> => await page.evaluate(`(() => {
      const shown = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility === 'visible'
      const controls = [...document.querySelectorAll('button, a[href], input, [role="button"], .swatch')].filter((el) => shown(el) && !el.closest('.cm-editor') && !el.matches('.swatch input'))
      const small = controls.filter((el) => { const box = el.getBoundingClientRect(); return box.width < 44 || box.height < 44 })
        .map((el) => (el.dataset.testid ?? el.className) + ' ' + Math.round(el.getBoundingClientRect().width) + 'x' + Math.round(el.getBoundingClientRect().height))
      const fonts = [...document.querySelectorAll('input:not([type="radio"])')].filter(shown).filter((el) => getComputedStyle(el).fontSize !== '16px')
        .map((el) => (el.dataset.testid ?? el.name) + ' ' + getComputedStyle(el).fontSize)
      const header = document.querySelector('header')
      const items = [...header.querySelectorAll('.bar-document > *, .bar-state > *')].filter(shown)
      const rows = new Set(items.map((el) => { const box = el.getBoundingClientRect(); return Math.round((box.top + box.bottom) / 2 / 10) }))
      return { small, fonts, rows: rows.size, height: Math.round(header.getBoundingClientRect().height) }
    })()`) as { small: string[], fonts: string[], rows: number, height: number }

    await page.screenshot({ path: '/tmp/people-phone-first.png' })
    const online = await check()
    expect(online).toMatchObject({ small: [], fonts: [], rows: 2 })
    // Names on phones too, not only initials.
    expect(await page.locator('[data-testid="person"]:visible .person-name').first().isVisible()).toBe(true)
    for (const colorScheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme })
      await page.screenshot({ path: `/tmp/people-phone-${colorScheme}.png` })
    }
    await page.emulateMedia({ colorScheme: 'light' })

    await page.getByTestId('people-more').tap()
    await page.getByTestId('people-all').waitFor()
    expect((await check()).small).toEqual([])
    await page.screenshot({ path: '/tmp/people-phone-all.png' })
    await page.keyboard.press('Escape')

    await page.getByTestId('name-button').tap()
    await page.getByTestId('name-input').waitFor()
    expect(await check()).toMatchObject({ small: [], fonts: [] })
    await page.screenshot({ path: '/tmp/people-phone-name.png' })
    await page.keyboard.press('Escape')

    // Offline, with the Retry button and unsaved typing: still two rows.
    await relay.close()
    await waitForConnection(page, 'offline')
    await typeAtEnd(page, ' More.')
    await waitForSaveState(page, 'on-device')
    await page.getByTestId('retry').waitFor()
    const offline = await check()
    expect(offline).toMatchObject({ small: [], fonts: [], rows: 2 })
    expect(offline.height).toBeLessThanOrEqual(2 * 44 + 30)
    await page.screenshot({ path: '/tmp/people-phone-offline.png' })
    console.log('header height on a phone, px: online', online.height, 'offline', offline.height)
  })
})
