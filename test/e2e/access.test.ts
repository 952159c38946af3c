/**
 * The editor against a relay with access control: pages without a link or
 * with an expired one, write and read links, session tokens that expire
 * every 3 s and are renewed without losing edits, names set by links, the
 * Share dialog, and presence across reconnects.
 */
import { describe, expect, it } from 'vitest'
import type { Page } from 'playwright-core'
import { decodeJwt } from 'jose'
import type { Relay } from '../../server/relay.js'
import { createMemoryStore } from '../../server/storage/memory.js'
import { createTokenAuthority, type Permission } from '../../server/auth/tokens.js'
import { captureLog, type CapturedLog } from '../helpers/relay.js'
import { signToken } from '../helpers/tokens.js'
import { artifacts, useBrowser } from './browser.js'
import {
  documentUrl, newProfile, people, openEditor, startEditorRelay, storedText, typeAtEnd,
  waitForConnection, waitForSaveState, waitForText
} from './editor-page.js'

const secret = 'x'.repeat(32)
const authority = createTokenAuthority({ secret })!
const { ada, bob, carol } = people

const browser = useBrowser()

/** A relay with access control whose session tokens live 3 s, its store and its log. */
async function startAuthRelay (): Promise<{ relay: Relay, log: CapturedLog, store: ReturnType<typeof createMemoryStore> }> {
  const log = captureLog()
  const store = createMemoryStore()
  const relay = await startEditorRelay({ authSecret: secret, sessionTokenTtlSeconds: 3, logger: log.logger, store })
  return { relay, log, store }
}

/** A link token for document `doc`, living `ttlSeconds` (an hour unless given). */
async function linkToken (doc: string, permission: Permission, name: string | null = null, ttlSeconds = 3600): Promise<string> {
  return await authority.mint({ doc, permission, name }, ttlSeconds)
}

/** The names in the people list of `page`, this page's own first. */
async function peopleNames (page: Page): Promise<string[]> {
  return await page.locator('[data-testid="person"] .person-name').allTextContents()
}

/** Whether the editor in `page` takes typing. */
async function editable (page: Page): Promise<boolean> {
  return await page.locator('.cm-content').getAttribute('contenteditable') === 'true'
}

/** Counts the WebSockets `page` opens, and keeps their addresses. */
function watchSockets (page: Page): string[] {
  const urls: string[] = []
  page.on('websocket', (socket) => urls.push(socket.url()))
  return urls
}

/** The distinct `token` parameters among WebSocket addresses. */
function tokensOf (urls: readonly string[]): Set<string> {
  return new Set(urls.map((url) => new URL(url).searchParams.get('token') ?? ''))
}

/** Records, in the page, the close code of every WebSocket it opens, in `window.closeCodes`. */
const recordCloseCodes = `
  window.closeCodes = []
  window.WebSocket = class extends WebSocket {
    constructor (...args) {
      super(...args)
      this.addEventListener('close', (event) => window.closeCodes.push(event.code))
    }
  }`

/**
 * Records, in the page, each change of whether `name` is in the people
 * list: `window.presence` holds `[ms, present]` pairs.
 */
function recordPresenceOf (name: string): string {
  return `
    window.presence = []
    addEventListener('DOMContentLoaded', () => {
      const list = document.querySelector('[data-testid="people"]')
      let last = null
      new MutationObserver(() => {
        const present = [...list.querySelectorAll('.person-name')].some((item) => item.textContent === ${JSON.stringify(name)})
        if (present !== last) window.presence.push([performance.now(), present])
        last = present
      }).observe(list, { childList: true, subtree: true })
    })`
}

/** The longest time `name` was gone from the list after first appearing, from `recordPresenceOf`'s record; it must be present now. */
async function longestAbsenceMs (page: Page): Promise<{ longest: number, absences: number }> {
  const record = await page.evaluate('window.presence') as Array<[number, boolean]>
  let longest = 0
  let absences = 0
  let goneAt: number | null = null
  let seen = false
  for (const [at, present] of record) {
    if (present && goneAt !== null) {
      longest = Math.max(longest, at - goneAt)
      goneAt = null
    }
    if (!present && seen) {
      goneAt = at
      absences++
    }
    seen ||= present
  }
  expect(goneAt).toBeNull()
  return { longest, absences }
}

describe('the editor with access control', () => {
  it('tells a visitor without a link, or with an expired one, what to do, and does not connect', async () => {
    const { relay } = await startAuthRelay()
    const context = await newProfile(browser(), ada)
    const page = await context.newPage()
    const sockets = watchSockets(page)

    await page.goto(documentUrl(relay, 'locked'))
    const notice = page.getByTestId('access-notice')
    await notice.waitFor()
    expect(await notice.textContent()).toBe('This document needs a link with access. Ask its owner for one.')
    expect(await page.getByTestId('editor').isVisible()).toBe(false)
    await page.screenshot({ path: new URL('no-link.png', artifacts).pathname })

    const expired = await signToken(secret, { doc: 'locked', perm: 'write', expiresInSeconds: -60 })
    await page.goto(documentUrl(relay, 'locked', expired))
    await page.getByTestId('access-notice').filter({ hasText: 'Your link has expired; ask for a new one.' }).waitFor()

    // A page that retried would have opened several sockets by now (the stock client retries after 0.2, 0.4, 0.8 s).
    await page.waitForTimeout(1500)
    expect(sockets).toEqual([])
    expect(relay.connectionCount).toBe(0)
  })

  it('syncs edits between two people with write links', async () => {
    const { relay, store } = await startAuthRelay()
    const a = await openEditor(await newProfile(browser(), ada), relay, 'together', await linkToken('together', 'write'))
    const b = await openEditor(await newProfile(browser(), bob), relay, 'together', await linkToken('together', 'write'))
    expect(await editable(a)).toBe(true)

    await typeAtEnd(a, 'Written by Ada.')
    await waitForText(b, 'Written by Ada.')
    await typeAtEnd(b, ' And by Bob.')
    await waitForText(a, 'Written by Ada. And by Bob.')
    await waitForSaveState(b, 'saved')
    expect(await storedText(store, 'together')).toBe('Written by Ada. And by Bob.')
    expect(new URL(a.url()).searchParams.get('token')).not.toBeNull()
  })

  it('renews a session token when it expires (4401) and loses no edit typed around the expiry', async () => {
    const { relay, log, store } = await startAuthRelay()
    const adaProfile = await newProfile(browser(), ada)
    await adaProfile.addInitScript(recordCloseCodes)
    const adaPage = await adaProfile.newPage()
    const adaSockets = watchSockets(adaPage)
    await adaPage.goto(documentUrl(relay, 'expiry', await linkToken('expiry', 'write')))
    await waitForConnection(adaPage, 'connected')
    const b = await openEditor(await newProfile(browser(), bob), relay, 'expiry', await linkToken('expiry', 'write'))

    // 4.3 s of typing, a key every 75 ms: Ada's 3 s session token expires in the middle of it.
    const sentence = 'Every key typed while the session token expires arrives.'
    await typeAtEnd(adaPage, sentence, 75)

    await waitForText(b, sentence)
    await waitForSaveState(adaPage, 'saved')
    await waitForConnection(adaPage, 'connected')
    expect(await storedText(store, 'expiry')).toBe(sentence)
    expect(await adaPage.evaluate('window.closeCodes')).toContain(4401)
    expect(tokensOf(adaSockets).size).toBeGreaterThanOrEqual(2)
    expect(log.lines.some((line) => line.includes('connection.token-expired'))).toBe(true)
    expect(await adaPage.getByTestId('access-notice').isVisible()).toBe(false)
  })

  it('comes back after an outage that outlasted its session token, with the edits made meanwhile', async () => {
    const { relay, store, log } = await startAuthRelay()
    const page = await (await newProfile(browser(), ada)).newPage()
    const sockets = watchSockets(page)
    await page.goto(documentUrl(relay, 'outage', await linkToken('outage', 'write')))
    await waitForConnection(page, 'connected')
    await typeAtEnd(page, 'Before.')
    await waitForSaveState(page, 'saved')

    await relay.close()
    await waitForConnection(page, 'offline')
    await typeAtEnd(page, ' During.')
    // Every session token issued so far expires while the relay is away.
    const expired = Date.now() + 4_000
    await expect.poll(() => Date.now() > expired, { timeout: 10_000 }).toBe(true)
    const again = await startEditorRelay({ authSecret: secret, sessionTokenTtlSeconds: 3, logger: log.logger, store, port: relay.port })

    await waitForConnection(page, 'connected')
    await waitForSaveState(page, 'saved')
    expect(await storedText(store, 'outage')).toBe('Before. During.')
    const other = await openEditor(await newProfile(browser(), bob), again, 'outage', await linkToken('outage', 'read'))
    await waitForText(other, 'Before. During.')
    // The relay refuses expired tokens: the page connected again with a fresh one.
    expect(tokensOf(sockets).size).toBeGreaterThanOrEqual(2)
  })

  it('tells a person whose link expires while they work, and stops connecting', async () => {
    const { relay, log } = await startAuthRelay()
    const page = await (await newProfile(browser(), ada)).newPage()
    const sockets = watchSockets(page)
    // The link outlives the first 3 s session token, so the page renews it once, then is refused.
    await page.goto(documentUrl(relay, 'short', await linkToken('short', 'write', null, 5)))

    await page.getByTestId('access-notice').filter({ hasText: 'Your link has expired; ask for a new one.' }).waitFor()
    await waitForConnection(page, 'closed')
    expect(await page.getByTestId('status').textContent()).toBe('Disconnected: link expired')
    expect(await editable(page)).toBe(false)
    await expect.poll(() => relay.connectionCount, { timeout: 10_000 }).toBe(0)
    expect(sockets.length).toBeGreaterThanOrEqual(1)
    expect(log.lines.some((line) => line.includes('connection.token-expired'))).toBe(true)
    await page.screenshot({ path: new URL('link-expired.png', artifacts).pathname })
  })

  it('gives a read link a view-only editor that follows the writer, and shows the viewer to the writer', async () => {
    const { relay, store } = await startAuthRelay()
    const writer = await openEditor(await newProfile(browser(), ada), relay, 'lecture', await linkToken('lecture', 'write'))
    await typeAtEnd(writer, '# Lecture notes\n\n')
    const viewer = await openEditor(await newProfile(browser(), bob), relay, 'lecture', await linkToken('lecture', 'read'))
    await waitForText(viewer, '# Lecture notes\n\n')

    expect(await editable(viewer)).toBe(false)
    expect(await viewer.getByTestId('view-only').isVisible()).toBe(true)
    expect(await viewer.getByTestId('view-only').textContent()).toBe('View only')
    expect(await viewer.getByTestId('saved').isVisible()).toBe(false)
    await viewer.click('.cm-content')
    await viewer.keyboard.type('viewer was here')

    await typeAtEnd(writer, 'Ada explains, Bob reads along.')
    await waitForText(viewer, '# Lecture notes\n\nAda explains, Bob reads along.')
    await expect.poll(() => peopleNames(writer), { timeout: 10_000 }).toEqual(['Ada (you)', 'Bob'])
    await expect.poll(() => peopleNames(viewer), { timeout: 10_000 }).toEqual(['Bob (you)', 'Ada'])
    await waitForSaveState(writer, 'saved')
    expect(await storedText(store, 'lecture')).toBe('# Lecture notes\n\nAda explains, Bob reads along.')
    await viewer.screenshot({ path: new URL('view-only.png', artifacts).pathname })

    // Leaving is never questioned: a viewer has nothing to save.
    let asked = false
    viewer.on('dialog', (dialog) => { asked = true; void dialog.accept() })
    await Promise.all([viewer.waitForEvent('close'), viewer.close({ runBeforeUnload: true })])
    expect(asked).toBe(false)
  })

  it("shows others the name a link sets, and does not let its holder change it", async () => {
    const { relay } = await startAuthRelay()
    // A profile that never chose a name: no welcome dialog, the link's name is used.
    const grace = await openEditor(await newProfile(browser()), relay, 'named', await linkToken('named', 'write', 'Grace Hopper'))
    const other = await openEditor(await newProfile(browser(), bob), relay, 'named', await linkToken('named', 'write'))
    await expect.poll(() => peopleNames(other), { timeout: 10_000 }).toEqual(['Bob (you)', 'Grace Hopper'])
    expect(await peopleNames(grace)).toEqual(['Grace Hopper (you)', 'Bob'])
    expect(await grace.getByTestId('name-dialog').isVisible()).toBe(false)

    await grace.getByTestId('name-button').click()
    const input = grace.getByTestId('name-input')
    expect(await input.inputValue()).toBe('Grace Hopper')
    expect(await input.isEditable()).toBe(false)
    await grace.screenshot({ path: new URL('fixed-name.png', artifacts).pathname })
    await grace.locator('.swatch', { has: grace.locator('input[value="#0b7285"]') }).click()
    await grace.getByTestId('name-save').click()
    await other.locator('[data-testid="person"][data-color="#0b7285"]', { hasText: 'Grace Hopper' }).waitFor()
    expect(await peopleNames(other)).toEqual(['Bob (you)', 'Grace Hopper'])

    // A name stored by an earlier visit does not override the link's.
    const storedAda = await openEditor(await newProfile(browser(), ada), relay, 'named', await linkToken('named', 'read', 'Ada Lovelace'))
    expect(await peopleNames(storedAda)).toContain('Ada Lovelace (you)')
    await other.locator('[data-testid="person"]', { hasText: 'Ada Lovelace' }).waitFor()
  })

  it('shares an edit link and a view link; the view link opens a read-only editor', async () => {
    const { relay } = await startAuthRelay()
    const context = await newProfile(browser(), ada)
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: relay.url })
    const owner = await openEditor(context, relay, 'shared plan', await linkToken('shared plan', 'write'))
    await typeAtEnd(owner, 'The plan.')
    await waitForSaveState(owner, 'saved')

    expect(await owner.getByTestId('share').textContent()).toBe('Share')
    await owner.getByTestId('share').click()
    // A view link first; the edit link once "Can edit" is chosen.
    await expect.poll(() => owner.getByTestId('share-link').inputValue()).not.toBe('')
    const view = await owner.getByTestId('share-link').inputValue()
    await owner.getByTestId('share-choice-edit').check()
    const edit = await owner.getByTestId('share-link').inputValue()
    const page = documentUrl(relay, 'shared plan')
    expect(edit.startsWith(`${page}?token=`)).toBe(true)
    expect(view.startsWith(`${page}?token=`)).toBe(true)
    expect(edit).not.toBe(view)
    expect(await owner.getByTestId('share-expiry').textContent()).toMatch(/until .*\d/)
    await owner.getByTestId('share-choice-view').check()
    await owner.getByTestId('share-copy').click()
    await owner.getByTestId('share-copy').filter({ hasText: 'Copied' }).waitFor()
    expect(await owner.evaluate('navigator.clipboard.readText()')).toBe(view)
    await owner.screenshot({ path: new URL('share-dialog.png', artifacts).pathname })
    await owner.getByRole('button', { name: 'Done' }).click()

    const viewerContext = await newProfile(browser(), carol)
    await viewerContext.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: relay.url })
    const viewer = await viewerContext.newPage()
    await viewer.goto(view)
    await waitForConnection(viewer, 'connected')
    await waitForText(viewer, 'The plan.')
    expect(await editable(viewer)).toBe(false)
    expect(await viewer.getByTestId('view-only').isVisible()).toBe(true)
    // A viewer passes on a view link made for this document, never the view link's own token, and no edit link.
    expect(await viewer.getByTestId('share').textContent()).toBe('Share')
    await viewer.getByTestId('share').click()
    expect(await viewer.getByTestId('share-choice-edit').count()).toBe(0)
    await expect.poll(() => viewer.getByTestId('share-link').inputValue()).not.toBe('')
    await viewer.getByTestId('share-copy').click()
    await viewer.getByTestId('share-copy').filter({ hasText: 'Copied' }).waitFor()
    const passedOn = await viewer.evaluate('navigator.clipboard.readText()') as string
    expect(passedOn.startsWith(`${page}?token=`)).toBe(true)
    expect(decodeJwt(new URL(passedOn).searchParams.get('token') ?? '')).toMatchObject({ doc: 'shared plan', perm: 'read' })
    await viewer.getByRole('button', { name: 'Done' }).click()

    const editor = await (await newProfile(browser(), bob)).newPage()
    await editor.goto(edit)
    await waitForConnection(editor, 'connected')
    await typeAtEnd(editor, ' Agreed.')
    await waitForText(owner, 'The plan. Agreed.')
    await waitForText(viewer, 'The plan. Agreed.')
  })

  it('shows a person who reconnects to the others again within a few seconds, and the others to them', async () => {
    const { relay } = await startAuthRelay()
    const adaProfile = await newProfile(browser(), ada)
    await adaProfile.addInitScript(recordPresenceOf('Bob'))
    const a = await openEditor(adaProfile, relay, 'presence', await linkToken('presence', 'write'))
    const bobProfile = await newProfile(browser(), bob)
    await bobProfile.addInitScript(recordPresenceOf('Ada'))
    const bobPage = await bobProfile.newPage()
    const bobSockets = watchSockets(bobPage)
    await bobPage.goto(documentUrl(relay, 'presence', await linkToken('presence', 'write')))
    await waitForConnection(bobPage, 'connected')

    // Every 3 s each session token expires and its page reconnects; wait for three of Bob's.
    await expect.poll(() => bobSockets.length, { timeout: 15_000 }).toBeGreaterThanOrEqual(4)
    await a.locator('[data-testid="person"]', { hasText: 'Bob' }).waitFor()
    await bobPage.locator('[data-testid="person"]', { hasText: 'Ada' }).waitFor()

    const bobSeenByAda = await longestAbsenceMs(a)
    const adaSeenByBob = await longestAbsenceMs(bobPage)
    expect(bobSeenByAda.absences + adaSeenByBob.absences).toBeGreaterThan(0)
    // Without renewing presence on reconnect, a gap would last until the next renewal, up to 15 s.
    expect(bobSeenByAda.longest).toBeLessThan(3000)
    expect(adaSeenByBob.longest).toBeLessThan(3000)
  })
})
