/**
 * The Share dialog in Chromium, on an open server and on one with access
 * control: "Can view" is chosen first and an edit link must be chosen; the
 * chosen expiry, "Never" too, makes the link; a view link opens a page that
 * is never editable, from its first paint on, whose typing changes nothing
 * on the server, and which can pass on view links only; closing the dialog
 * gives the focus back to the Share button.
 */
import { describe, expect, it } from 'vitest'
import type { Page } from 'playwright-core'
import { decodeJwt } from 'jose'
import type { Relay } from '../../server/relay.js'
import { createTokenAuthority } from '../../server/auth/tokens.js'
import { artifacts, useBrowser } from './browser.js'
import { documentUrl, newProfile, openEditor, people, startEditorRelay, typeAtEnd, waitForConnection, waitForSaveState, waitForText } from './editor-page.js'

const { ada, bob } = people
const browser = useBrowser()

/** Records in the page whether its editor ever took typing (`window.everEditable`), from before the first paint. */
const watchEditable = `
  window.everEditable = false
  new MutationObserver(() => {
    if (document.querySelector('.cm-content[contenteditable="true"]')) window.everEditable = true
  }).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ['contenteditable'] })`

/** The token of a link. */
function tokenOf (link: string): string {
  return new URL(link).searchParams.get('token') ?? ''
}

/** The link the dialog shows, once it is made. */
async function shownLink (page: Page): Promise<string> {
  const field = page.getByTestId('share-link')
  const deadline = Date.now() + 10_000
  let value = await field.inputValue()
  while (value === '') {
    if (Date.now() > deadline) throw new Error('the dialog made no link')
    await new Promise((resolve) => setTimeout(resolve, 25))
    value = await field.inputValue()
  }
  return value
}

/** Waits until the dialog shows a link other than `before`. */
async function nextLink (page: Page, before: string): Promise<string> {
  const deadline = Date.now() + 10_000
  let value = await page.getByTestId('share-link').inputValue()
  while (value === '' || value === before) {
    if (Date.now() > deadline) throw new Error('the dialog made no new link')
    await new Promise((resolve) => setTimeout(resolve, 25))
    value = await page.getByTestId('share-link').inputValue()
  }
  return value
}

async function activeTestId (page: Page): Promise<string | undefined> {
  return await page.evaluate('document.activeElement?.dataset?.testid') as string | undefined
}

/**
 * Opens `viewLink` as Bob, checks that the page never took typing and that
 * what he types reaches neither his page nor the server while the owner's
 * next edit reaches both; returns his page.
 */
async function checkReadOnly (relay: Relay, owner: Page, viewLink: string, doc: string, text: string): Promise<Page> {
  const context = await newProfile(browser(), bob)
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: relay.url })
  await context.addInitScript(watchEditable)
  const viewer = await context.newPage()
  await viewer.goto(viewLink)
  await waitForConnection(viewer, 'connected')
  await waitForText(viewer, text)
  expect(await viewer.getByTestId('view-only').isVisible()).toBe(true)
  await viewer.click('.cm-content')
  await viewer.keyboard.type('VANDAL')
  await viewer.keyboard.press('Backspace')
  await typeAtEnd(owner, ' More.')
  await waitForText(viewer, `${text} More.`)
  await waitForSaveState(owner, 'saved')
  expect(relay.registry.get(doc)?.text).toBe(`${text} More.`)
  expect(await viewer.evaluate('window.everEditable')).toBe(false)
  return viewer
}

describe('the Share dialog', () => {
  it('on an open server: view first, edit only when chosen, expiry "Never", and a view link that stays read-only', async () => {
    const relay = await startEditorRelay()
    const context = await newProfile(browser(), ada)
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: relay.url })
    const owner = await openEditor(context, relay, 'open plan')
    await typeAtEnd(owner, 'The plan.')
    await waitForSaveState(owner, 'saved')

    await owner.getByTestId('share').click()
    const dialog = owner.getByTestId('share-dialog')
    await dialog.waitFor()
    expect(await owner.getByTestId('share-choice-view').isChecked()).toBe(true)
    expect(await owner.getByTestId('share-choice-edit').isChecked()).toBe(false)
    expect(await owner.getByTestId('share-statement').textContent()).toContain('can only VIEW this document')
    const week = await shownLink(owner)
    expect(week.startsWith(`${documentUrl(relay, 'open plan')}?token=`)).toBe(true)
    expect(decodeJwt(tokenOf(week))).toMatchObject({ doc: 'open plan', perm: 'read' })
    expect((decodeJwt(tokenOf(week)).exp as number) - Date.now() / 1000).toBeGreaterThan(7 * 86_400 - 60)
    expect(await owner.getByTestId('share-copy').textContent()).toBe('Copy view link')
    // Honest about the server: without access control the plain address edits.
    expect(await owner.getByTestId('share-open-note').textContent()).toContain('without access control')
    await owner.screenshot({ path: new URL('share-dialog-view.png', artifacts).pathname })

    await owner.getByTestId('share-expiry-select').selectOption({ label: 'Never' })
    const view = await nextLink(owner, week)
    expect(decodeJwt(tokenOf(view)).exp).toBeUndefined()
    expect(await owner.getByTestId('share-expiry').textContent()).toContain('never expires')

    await owner.getByTestId('share-choice-edit').check()
    const edit = await nextLink(owner, view)
    expect(decodeJwt(tokenOf(edit))).toMatchObject({ doc: 'open plan', perm: 'write' })
    expect(decodeJwt(tokenOf(edit)).exp).toBeUndefined()
    expect(await owner.getByTestId('share-statement').textContent()).toContain('can EDIT this document')
    expect(await dialog.getAttribute('data-permission')).toBe('write')
    expect(await owner.getByTestId('share-copy').textContent()).toBe('Copy edit link')
    await owner.screenshot({ path: new URL('share-dialog-edit.png', artifacts).pathname })

    await owner.getByTestId('share-choice-view').check()
    expect(await owner.getByTestId('share-link').inputValue()).toBe(view)
    await owner.getByTestId('share-copy').click()
    await owner.getByTestId('share-copy').filter({ hasText: 'Copied' }).waitFor()
    expect(await owner.evaluate('navigator.clipboard.readText()')).toBe(view)
    await owner.keyboard.press('Escape')
    await dialog.waitFor({ state: 'hidden' })
    await expect.poll(() => activeTestId(owner)).toBe('share')

    const viewer = await checkReadOnly(relay, owner, view, 'open plan', 'The plan.')
    // A reader passes on a view link, never the plain address that edits on this server. The button is
    // clicked without focusing it, as Safari does: closing the dialog must still put the focus on it.
    await viewer.evaluate(`document.querySelector('[data-testid="share"]').click()`)
    expect(await viewer.getByTestId('share-choice-edit').count()).toBe(0)
    expect(await viewer.getByTestId('share-reader-note').isVisible()).toBe(true)
    const passedOn = await shownLink(viewer)
    expect(decodeJwt(tokenOf(passedOn))).toMatchObject({ doc: 'open plan', perm: 'read' })
    await viewer.getByTestId('share-copy').click()
    await viewer.getByTestId('share-copy').filter({ hasText: 'Copied' }).waitFor()
    const copied = await viewer.evaluate('navigator.clipboard.readText()') as string
    expect(copied).toBe(passedOn)
    expect(tokenOf(copied)).not.toBe('')
    await viewer.screenshot({ path: new URL('share-dialog-reader.png', artifacts).pathname })
    await viewer.getByRole('button', { name: 'Done' }).click()
    await expect.poll(() => activeTestId(viewer)).toBe('share')

    // The edit link edits.
    const editor = await openEditor(await newProfile(browser(), bob), relay, 'open plan', tokenOf(edit))
    await typeAtEnd(editor, ' Agreed.')
    await waitForText(owner, 'The plan. More. Agreed.')
  })

  it('with access control: a view link opens a read-only page, and the dialog says nothing of plain addresses', async () => {
    const secret = 'z'.repeat(32)
    const relay = await startEditorRelay({ authSecret: secret })
    const ownLink = await createTokenAuthority({ secret })!.mint({ doc: 'guarded', permission: 'write', name: null }, 3600)
    const owner = await openEditor(await newProfile(browser(), ada), relay, 'guarded', ownLink)
    await typeAtEnd(owner, 'Secret plan.')
    await waitForSaveState(owner, 'saved')

    await owner.getByTestId('share').click()
    expect(await owner.getByTestId('share-choice-view').isChecked()).toBe(true)
    const week = await shownLink(owner)
    expect(decodeJwt(tokenOf(week)).perm).toBe('read')
    expect(await owner.getByTestId('share-open-note').count()).toBe(0)
    // "Never" still ends with the owner's own link (as 7 days did: the link may be the same).
    await owner.getByTestId('share-expiry-select').selectOption({ label: 'Never' })
    const view = await shownLink(owner)
    expect(decodeJwt(tokenOf(view)).exp).toBeLessThanOrEqual(decodeJwt(ownLink).exp as number)
    expect(await owner.getByTestId('share-expiry').textContent()).toContain('when your own link ends')
    await owner.screenshot({ path: new URL('share-dialog-guarded.png', artifacts).pathname })
    await owner.getByRole('button', { name: 'Done' }).click()

    await checkReadOnly(relay, owner, view, 'guarded', 'Secret plan.')
  })
})
