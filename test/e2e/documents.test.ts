/**
 * The documents page at `/` and finding documents again, in headless
 * Chromium against a real relay: the device's list with titles that follow
 * the first heading, removing from the list, the notice for a name that is
 * no document yet (with suggestions from the device's own list, and nothing
 * made on the relay until Create), and `/` with access control on.
 */
import { describe, expect, it } from 'vitest'
import type { Page } from 'playwright-core'
import { createMemoryStore } from '../../server/storage/memory.js'
import { createTokenAuthority } from '../../server/auth/tokens.js'
import { testSecret } from '../helpers/tokens.js'
import { artifacts, useBrowser } from './browser.js'
import { documentUrl, newProfile, people, startEditorRelay, typeAtEnd, waitForConnection } from './editor-page.js'

const browser = useBrowser()

/** The titles the documents page lists, top first. */
async function listedTitles (page: Page): Promise<string[]> {
  return await page.getByTestId('recent-title').allTextContents()
}

/** Creates a document named `name` from the documents page (which `page` shows) and waits until it is open. */
async function createNamed (page: Page, name: string): Promise<void> {
  await page.getByTestId('create-name').fill(name)
  await page.getByTestId('create-document').click()
  await waitForConnection(page, 'connected')
}

/** Saves a screenshot of `page` as `file` in the test artifacts folder. */
async function screenshot (page: Page, file: string): Promise<void> {
  await page.screenshot({ path: new URL(file, artifacts).pathname })
}

describe('the documents page', () => {
  it('lists the documents opened on this device, titled by their first heading, newest first', async () => {
    const relay = await startEditorRelay()
    const context = await newProfile(browser(), people.ada)
    const page = await context.newPage()
    await page.goto(`${relay.url}/`)
    await page.getByTestId('recent-empty').waitFor()
    expect(new URL(page.url()).pathname).toBe('/')
    expect(await page.title()).toBe('Your documents · coedit')
    // Nothing was made by visiting `/`.
    expect(relay.registry.size).toBe(0)

    // A new document opens at once, with no question about its name.
    await page.getByTestId('create-document').click()
    await page.waitForURL(/\/d\/[a-z2-7]{20}$/)
    await waitForConnection(page, 'connected')
    expect(await page.getByTestId('missing-notice').isVisible()).toBe(false)
    const first = decodeURIComponent(new URL(page.url()).pathname.slice(3))
    await typeAtEnd(page, '# Project plan\n\nWhat we do next.')
    await expect.poll(() => page.title(), { timeout: 10_000 }).toBe('Project plan · coedit')

    await page.goto(`${relay.url}/`)
    await createNamed(page, 'meeting notes')
    expect(await page.title()).toBe('meeting notes · coedit')
    await typeAtEnd(page, 'Monday standup with a first line that is rather long and goes on well past what a title should hold, really')
    await expect.poll(() => page.title(), { timeout: 10_000 }).toBe('Monday standup with a first line that is rather long and goes on well past what… · coedit')

    await page.goto(`${relay.url}/`)
    await page.getByTestId('recent-item').nth(1).waitFor()
    expect(await listedTitles(page)).toEqual(['Monday standup with a first line that is rather long and goes on well past what…', 'Project plan'])
    expect(await page.getByTestId('recent-item').evaluateAll((items) => items.map((item) => (item as unknown as { dataset: { name: string } }).dataset.name)))
      .toEqual(['meeting notes', first])
    await screenshot(page, 'documents-page.png')

    // The title follows an edit made elsewhere, too.
    await page.getByTestId('recent-title').nth(1).click()
    await waitForConnection(page, 'connected')
    await page.click('.cm-content')
    await page.keyboard.press('Control+Home')
    await page.keyboard.press('End')
    await page.keyboard.type(' for 2027')
    await expect.poll(() => page.title(), { timeout: 10_000 }).toBe('Project plan for 2027 · coedit')
    await page.goto(`${relay.url}/`)
    await page.getByTestId('recent-item').nth(1).waitFor()
    expect(await listedTitles(page)).toEqual(['Project plan for 2027', 'Monday standup with a first line that is rather long and goes on well past what…'])
  })

  it('removes a document from this device\'s list only, and says so', async () => {
    const store = createMemoryStore()
    const relay = await startEditorRelay({ store })
    const page = await (await newProfile(browser(), people.ada)).newPage()
    await page.goto(`${relay.url}/`)
    await createNamed(page, 'keep me')
    await typeAtEnd(page, '# Kept')
    await expect.poll(() => page.title(), { timeout: 10_000 }).toBe('Kept · coedit')
    await page.goto(`${relay.url}/`)
    await createNamed(page, 'scratch')
    await page.goto(`${relay.url}/`)
    await page.getByTestId('recent-item').nth(1).waitFor()

    await page.locator('[data-testid="recent-item"][data-name="keep me"] [data-testid="remove-recent"]').click()
    const note = page.getByTestId('removed-note')
    await note.waitFor()
    expect(await note.textContent()).toBe('Removed “Kept” from this device\'s list. The document itself is not deleted; anyone with its link can still open it.')
    expect(await listedTitles(page)).toEqual(['scratch'])
    await page.reload()
    await page.getByTestId('recent-item').first().waitFor()
    expect(await listedTitles(page)).toEqual(['scratch'])
    // The document is still there.
    const text = await fetch(`${relay.url}/api/documents/${encodeURIComponent('keep me')}/text`)
    expect(await text.text()).toBe('# Kept')
  })

  it('says when a name is no document yet, suggests similar names from this device, and creates nothing until asked', async () => {
    const relay = await startEditorRelay()
    const context = await newProfile(browser(), people.ada)
    const page = await context.newPage()
    await page.goto(`${relay.url}/`)
    await createNamed(page, 'project-plan')
    await typeAtEnd(page, '# Plan')

    // A near miss, typed into the open form.
    await page.getByTestId('open-name').fill('project-plam')
    await page.getByTestId('open-name').press('Enter')
    const notice = page.getByTestId('missing-notice')
    await notice.waitFor()
    expect(await notice.locator('.missing-message').textContent()).toBe('No document named “project-plam” yet.')
    expect(await page.getByTestId('missing-suggestion').allTextContents()).toEqual(['project-plan'])
    expect(await page.getByTestId('editor').isVisible()).toBe(false)
    expect(relay.registry.get('project-plam')).toBeUndefined()
    expect(await (await fetch(`${relay.url}/api/exists/project-plam`)).json()).toEqual({ exists: false })
    await screenshot(page, 'missing-notice.png')

    // The suggestion opens the document meant.
    await page.getByTestId('missing-suggestion').click()
    await page.waitForURL(documentUrl(relay, 'project-plan'))
    await waitForConnection(page, 'connected')

    // Another device never opened anything: no suggestion, and still nothing made.
    const other = await (await newProfile(browser(), people.bob)).newPage()
    await other.goto(documentUrl(relay, 'project-plam'))
    await other.getByTestId('missing-notice').waitFor()
    expect(await other.getByTestId('missing-suggestions').count()).toBe(0)
    expect(relay.registry.get('project-plam')).toBeUndefined()
    await other.getByTestId('create-missing').click()
    await waitForConnection(other, 'connected')
    await typeAtEnd(other, 'made on purpose')
    await expect.poll(() => relay.registry.get('project-plam')?.text, { timeout: 10_000 }).toBe('made on purpose')

    // An existing document opens at once on a device that never opened it.
    const third = await (await newProfile(browser(), people.carol)).newPage()
    await third.goto(documentUrl(relay, 'project-plan'))
    await waitForConnection(third, 'connected')
    expect(await third.getByTestId('missing-notice').isVisible()).toBe(false)
  })

  it('with access control on, / makes no document and explains links, listing those opened through one', async () => {
    const secret = testSecret()
    const relay = await startEditorRelay({ authSecret: secret })
    const authority = createTokenAuthority({ secret })!
    const context = await newProfile(browser(), people.ada)
    const page = await context.newPage()
    await page.goto(`${relay.url}/`)
    const explanation = page.getByTestId('links-explanation')
    await explanation.waitFor()
    expect(await explanation.textContent()).toContain(`npx coedit token --doc <name> --write --url ${relay.url}`)
    expect(new URL(page.url()).pathname).toBe('/')
    expect(await page.getByTestId('create-document').count()).toBe(0)
    expect(relay.registry.size).toBe(0)
    await screenshot(page, 'documents-page-links.png')

    const token = await authority.mint({ doc: 'roadmap', permission: 'write', name: null }, 3600)
    await page.goto(documentUrl(relay, 'roadmap', token))
    await waitForConnection(page, 'connected')
    await typeAtEnd(page, '# Roadmap')
    await expect.poll(() => page.title(), { timeout: 10_000 }).toBe('Roadmap · coedit')
    await page.goto(`${relay.url}/`)
    await page.getByTestId('recent-item').waitFor()
    expect(await listedTitles(page)).toEqual(['Roadmap'])
    expect(await page.getByTestId('recent-title').getAttribute('href')).toBe(documentUrl(relay, 'roadmap', token))
    await page.getByTestId('recent-title').click()
    await waitForConnection(page, 'connected')
  })
})
