/**
 * The document API as a person with the editor open sees it, in headless
 * Chromium against a real relay: text replaced through the API appears
 * without a reload, with the person's cursor where it was, and a deletion
 * ends the page's connection with a notice that says the document was
 * deleted, without retrying.
 */
import { expect, it } from 'vitest'
import { artifacts, useBrowser } from './browser.js'
import { newProfile, openEditor, people, startEditorRelay, typeAtEnd, waitForConnection, waitForSaveState, waitForText } from './editor-page.js'

const browser = useBrowser()

it('shows an API PUT without a reload and the deleted notice after an API DELETE', async () => {
  const relay = await startEditorRelay()
  const context = await newProfile(browser(), people.ada, { viewport: { width: 1000, height: 560 } })
  const page = await openEditor(context, relay, 'report')
  let loads = 0
  page.on('load', () => loads++)
  await typeAtEnd(page, 'Title\nfirst draft\nthe end')
  await waitForSaveState(page, 'saved')
  // The cursor sits in "Title", which the API leaves as it is.
  await page.keyboard.press('Control+Home')
  await page.keyboard.press('End')

  const put = await fetch(`${relay.url}/api/documents/report/text`, {
    method: 'PUT', headers: { 'content-type': 'text/plain' }, body: 'Title\nsecond draft, from the API\nthe end'
  })
  expect(put.status).toBe(200)
  await waitForText(page, 'Title\nsecond draft, from the API\nthe end')
  expect(loads).toBe(0)
  // Typing goes where the cursor was: after "Title".
  await page.keyboard.type('!')
  await waitForText(page, 'Title!\nsecond draft, from the API\nthe end')
  await waitForSaveState(page, 'saved')
  await page.screenshot({ path: new URL('api-put.png', artifacts).pathname })

  const deleted = await fetch(`${relay.url}/api/documents/report`, { method: 'DELETE' })
  expect(deleted.status).toBe(200)
  const notice = page.getByTestId('refusal-notice')
  await notice.waitFor()
  expect(await notice.textContent()).toContain('This document was deleted.')
  await waitForConnection(page, 'closed')
  expect(await page.getByTestId('status').textContent()).toBe('Disconnected: document deleted')
  expect(await page.locator('.cm-content').getAttribute('contenteditable')).toBe('false')
  await page.screenshot({ path: new URL('api-deleted.png', artifacts).pathname })
})
