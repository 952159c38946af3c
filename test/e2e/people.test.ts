/**
 * The people in a document, in real Chromium against a real relay: nine
 * people who all chose one colour are shown in nine colours, two tabs of
 * one browser count as one person, those who do not fit the header wait
 * behind "+N", and someone away is shown as away.
 */
import { describe, expect, it } from 'vitest'
import type { BrowserContextOptions, Page } from 'playwright-core'
import { cssRgb, palette } from '../../editor/collab/colours.js'
import { connectClient, synced } from '../helpers/relay.js'
import { useBrowser } from './browser.js'
import { newProfile, openEditor, people, startEditorRelay, typeAtEnd } from './editor-page.js'

const browser = useBrowser()

const ruby = palette[0].light
const names = ['Ada Lovelace', 'Bob Kahn', 'Carol Shaw', 'Dan Bricklin', 'Edsger Dijkstra', 'Frances Allen', 'Grace Hopper', 'Hedy Lamarr', 'Ivan Sutherland']

/** One person as a page shows them in its full list (the "+N" popover). */
interface Entry { name: string, color: string, self: boolean, away: boolean, title: string }

/** Everyone `page` lists, from its full list. */
async function entries (page: Page): Promise<Entry[]> {
  return await page.locator('[data-testid="person-entry"]').evaluateAll((items) => items.map((item) => ({
    name: item.querySelector('.person-name')?.textContent ?? '',
    color: item.getAttribute('data-color') ?? '',
    self: item.hasAttribute('data-self'),
    away: item.hasAttribute('data-away'),
    title: item.getAttribute('title') ?? ''
  })))
}

/** The colours `page` shows people in, once it lists `count` people. */
async function coloursOnceListed (page: Page, count: number): Promise<string[]> {
  await expect.poll(async () => (await entries(page)).length, { timeout: 10_000 }).toBe(count)
  return (await entries(page)).map((entry) => entry.color)
}

/** Opens document `name` as each of `who`, each in a browser profile of their own, all having chosen `color`. */
async function crowd (name: string, who: readonly string[], color: string, options: BrowserContextOptions = {}): Promise<Page[]> {
  const relay = await startEditorRelay()
  const pages: Page[] = []
  for (const person of who) pages.push(await openEditor(await newProfile(browser(), { name: person, color }, options), relay, name))
  return pages
}

describe('people in the editor', () => {
  it('shows nine people who all chose Ruby in nine colours on every page, and keeps their choice', async () => {
    const pages = await crowd('nine', names, ruby, { viewport: { width: 1280, height: 720 } })
    for (const page of pages) {
      await expect.poll(async () => new Set(await coloursOnceListed(page, 9)).size, { timeout: 10_000 }).toBe(9)
    }
    // Every page agrees on everyone's colour, and the first to arrive kept Ruby.
    const byName = (list: Entry[]): Record<string, string> => Object.fromEntries(list.map((entry) => [entry.name.replace(' (you)', ''), entry.color]))
    const seen = byName(await entries(pages[0]))
    expect(seen[names[0]]).toBe(ruby)
    for (const page of pages.slice(1)) await expect.poll(async () => byName(await entries(page)), { timeout: 10_000 }).toEqual(seen)
    for (const color of Object.values(seen)) expect(palette.map((entry) => entry.light)).toContain(color)
    // Shown in another colour, but still their choice.
    expect(await pages[4].evaluate("JSON.parse(localStorage.getItem('coedit.identity')).color")).toBe(ruby)

    // The cursors others see carry the same colours.
    for (const page of pages.slice(1, 4)) await typeAtEnd(page, 'x')
    await expect.poll(async () => await pages[0].locator('.cm-ySelectionCaret').count(), { timeout: 10_000 }).toBeGreaterThanOrEqual(3)
    const caretColours = await pages[0].locator('.cm-ySelectionCaret').evaluateAll((carets) => carets.map((caret) => /background-color:\s*([^;]+)/.exec(caret.getAttribute('style') ?? '')?.[1]))
    expect(new Set(caretColours).size).toBe(caretColours.length)
    for (const color of caretColours) expect(Object.values(seen).map(cssRgb)).toContain(color?.startsWith('#') ? cssRgb(color) : color)
  })

  it('puts those who do not fit the header behind "+N", which opens the list of everyone', async () => {
    const pages = await crowd('many', names, ruby, { viewport: { width: 1280, height: 720 } })
    const page = pages[0]
    await coloursOnceListed(page, 9)
    const more = page.getByTestId('people-more')
    await expect.poll(async () => await more.isVisible(), { timeout: 10_000 }).toBe(true)
    const shownInHeader = await page.locator('[data-testid="person"]:visible').count()
    expect(shownInHeader).toBeGreaterThan(0)
    expect(await more.textContent()).toBe(`+${9 - shownInHeader}`)
    // The header stays one line: the document and its state side by side.
    const rows = await page.evaluate(`[...document.querySelectorAll('.bar > *')].filter((el) => el.getClientRects().length > 0).map((el) => Math.round(el.getBoundingClientRect().top))`) as number[]
    expect(new Set(rows).size).toBe(1)

    await more.click()
    const all = page.getByTestId('people-all')
    await expect.poll(async () => await all.isVisible()).toBe(true)
    expect(await page.locator('[data-testid="person-entry"]:visible').count()).toBe(9)
    await page.keyboard.press('Escape')
    await expect.poll(async () => await all.isVisible()).toBe(false)
    expect(await page.evaluate("document.activeElement?.dataset.testid")).toBe('people-more')
  })

  it('shows two tabs of one browser as one person', async () => {
    const relay = await startEditorRelay()
    const adaProfile = await newProfile(browser(), people.ada)
    const first = await openEditor(adaProfile, relay, 'tabs')
    const second = await openEditor(adaProfile, relay, 'tabs')
    const bob = await openEditor(await newProfile(browser(), people.bob), relay, 'tabs')

    for (const page of [first, second, bob]) await coloursOnceListed(page, 2)
    const seenByBob = await entries(bob)
    expect(seenByBob.map(({ name, self }) => ({ name, self }))).toEqual([{ name: 'Bob (you)', self: true }, { name: 'Ada', self: false }])
    expect(seenByBob[1].title).toContain('2 tabs')
    expect(seenByBob[1].color).toBe(people.ada.color)
    expect((await entries(second)).map((entry) => entry.name)).toEqual(['Ada (you)', 'Bob'])
    // Both tabs show Ada's colour: neither took another one from the other.
    expect((await entries(first))[0].color).toBe(people.ada.color)
    expect((await entries(second))[0].color).toBe(people.ada.color)

    // A new name and colour chosen in one tab show in the other too, and still as one person.
    const violet = palette[4]
    await first.getByTestId('name-button').click()
    await first.getByTestId('name-input').fill('Ada King')
    await first.locator(`.swatch input[value="${violet.light}"]`).check()
    expect(await first.getByTestId('chosen-colour').textContent()).toBe(violet.name)
    await first.getByTestId('name-save').click()
    for (const page of [first, second]) {
      await expect.poll(async () => (await entries(page))[0], { timeout: 10_000 }).toMatchObject({ name: 'Ada King (you)', color: violet.light })
    }
    await expect.poll(async () => (await entries(bob)).map(({ name, color }) => ({ name, color })), { timeout: 10_000 })
      .toEqual([{ name: 'Bob (you)', color: people.bob.color }, { name: 'Ada King', color: violet.light }])

    // A closed tab leaves at once, not when its presence times out 30 s later: each tab speaks for itself only.
    expect((await entries(bob))[1].title).toContain('2 tabs')
    await second.close()
    await expect.poll(async () => (await entries(bob))[1]?.title ?? '', { timeout: 10_000 }).not.toContain('2 tabs')
    expect((await entries(bob)).map(({ name }) => name)).toEqual(['Bob (you)', 'Ada King'])
  })

  it("shows a cursor's name briefly after its person types, then only a flag (the name again under the pointer), and stacks names close together", async () => {
    const relay = await startEditorRelay()
    const page = await openEditor(await newProfile(browser(), people.ada, { viewport: { width: 800, height: 600 } }), relay, 'labels')
    const bob = await openEditor(await newProfile(browser(), people.bob), relay, 'labels')
    const carol = await openEditor(await newProfile(browser(), people.carol), relay, 'labels')
    await typeAtEnd(bob, 'Side by side: ')

    /** Each remote cursor on `page`: name, whether it shows it, how high it is lifted, and its label's opacity. */
    const labels = async (): Promise<Array<{ name: string, active: boolean, stack: string | null, opacity: string }>> => await page.evaluate(`[...document.querySelectorAll('.cm-ySelectionCaret')].map((caret) => ({
      name: caret.querySelector('.cm-ySelectionInfo').textContent,
      active: caret.hasAttribute('data-active'),
      stack: caret.getAttribute('data-label-stack'),
      opacity: getComputedStyle(caret.querySelector('.cm-ySelectionInfo')).opacity
    })).sort((a, b) => a.name.localeCompare(b.name))`)

    // Bob and Carol type next to each other: both names show, one lifted above the other.
    await expect.poll(async () => {
      await Promise.all([typeAtEnd(bob, 'b'), typeAtEnd(carol, 'c')])
      return (await labels()).map(({ name, active, stack }) => ({ name, active, stack }))
    }, { timeout: 20_000 }).toEqual([{ name: 'Bob', active: true, stack: null }, { name: 'Carol', active: true, stack: '1' }])

    // Then both fold into flags.
    await expect.poll(async () => (await labels()).map(({ active, opacity }) => ({ active, opacity })), { timeout: 10_000 })
      .toEqual([{ active: false, opacity: '0' }, { active: false, opacity: '0' }])
    await page.locator('.cm-ySelectionCaretDot').first().hover()
    await expect.poll(async () => (await labels()).some((label) => label.opacity === '1'), { timeout: 5000 }).toBe(true)
  })

  it('puts a name below the line where lifting it would take it out of sight, on the first line', async () => {
    const relay = await startEditorRelay()
    const page = await openEditor(await newProfile(browser(), people.ada, { viewport: { width: 800, height: 600 } }), relay, 'first-line')
    const writers = [
      await openEditor(await newProfile(browser(), people.bob), relay, 'first-line'),
      await openEditor(await newProfile(browser(), people.carol), relay, 'first-line'),
      await openEditor(await newProfile(browser(), { name: 'Dan', color: palette[3].light }), relay, 'first-line')
    ]
    /** The active names on `page`: how each is placed, and whether its label is inside the editor's visible area. */
    const shown = async (): Promise<Array<{ stack: string | null, visible: boolean }>> => await page.evaluate(`(() => {
      const top = document.querySelector('.cm-scroller').getBoundingClientRect().top
      return [...document.querySelectorAll('.cm-ySelectionCaret[data-active]')].map((caret) => ({
        stack: caret.getAttribute('data-label-stack'),
        visible: caret.querySelector('.cm-ySelectionInfo').getBoundingClientRect().top >= top
      }))
    })()`)
    // Three people type at the end of the first line at once: three names at one spot, with room above for two.
    await expect.poll(async () => {
      await Promise.all(writers.map((writer, i) => typeAtEnd(writer, 'xyz'[i])))
      const labels = await shown()
      return labels.length === 3 && labels.some((label) => label.stack?.startsWith('-') === true)
    }, { timeout: 20_000 }).toBe(true)
    expect((await shown()).every((label) => label.visible)).toBe(true)
  })

  it('shows someone away dimmed with "(away)", and yields a colour to an editor that keeps its own', async () => {
    const relay = await startEditorRelay()
    const page = await openEditor(await newProfile(browser(), people.ada), relay, 'away')
    // An editor without the distinct rule, in Ada's colour, whose person has stepped away.
    const other = connectClient(relay, 'away')
    other.provider.awareness.setLocalStateField('user', { name: 'Dora', color: people.ada.color, away: true })
    await synced(other)

    await expect.poll(async () => (await entries(page)).map(({ name, away }) => ({ name, away })), { timeout: 10_000 })
      .toEqual([{ name: 'Ada (you)', away: false }, { name: 'Dora', away: true }])
    const dora = page.locator('[data-testid="person"]', { hasText: 'Dora' })
    expect(await dora.textContent()).toContain('Dora (away)')
    expect(await page.evaluate(`getComputedStyle(document.querySelector('[data-testid="person"][data-away] .person-name')).fontStyle`)).toBe('italic')
    // Ada shows another colour while Dora has hers, and gets it back when Dora leaves; her choice stays.
    const adaColour = async (): Promise<string> => (await entries(page))[0].color
    await expect.poll(adaColour, { timeout: 10_000 }).not.toBe(people.ada.color)
    expect(await page.evaluate("JSON.parse(localStorage.getItem('coedit.identity')).color")).toBe(people.ada.color)

    other.provider.awareness.setLocalStateField('user', { name: 'Dora', color: people.ada.color, away: false })
    await expect.poll(async () => (await entries(page))[1]?.away, { timeout: 10_000 }).toBe(false)
    other.provider.disconnect()
    await expect.poll(async () => (await entries(page)).length, { timeout: 20_000 }).toBe(1)
    await expect.poll(adaColour, { timeout: 10_000 }).toBe(people.ada.color)
  })
})
