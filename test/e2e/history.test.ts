/**
 * The History panel in headless Chromium against a real relay: it lists
 * the versions with their names and authors, shows one read-only with what
 * changed since marked, names the document as it is, and restores an old
 * version as an edit of the page: another page watching sees the text
 * change, and the restorer takes it back with Ctrl+Z.
 */
import { expect, it } from 'vitest'
import { artifacts, useBrowser } from './browser.js'
import type { Page } from 'playwright-core'
import { editorText, newProfile, openEditor, people, startEditorRelay, typeAtEnd, waitForSaveState } from './editor-page.js'

const browser = useBrowser()

/**
 * Waits until the editor in `page` shows exactly `text`, reading it from
 * here. (`waitForText` of editor-page.ts hands Playwright a string that
 * evaluates to a function, which counts as true at once: it never waits.)
 */
async function untilText (page: Page, text: string): Promise<void> {
  const deadline = Date.now() + 10_000
  let shown = await editorText(page)
  while (shown !== text) {
    if (Date.now() > deadline) throw new Error(`the editor shows ${JSON.stringify(shown)}, not ${JSON.stringify(text)}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
    shown = await editorText(page)
  }
}

it('restores an old version while another page watches, and the restorer undoes it', async () => {
  const relay = await startEditorRelay({ versionQuietMs: 60_000 })
  const ada = await openEditor(await newProfile(browser(), people.ada, { viewport: { width: 1100, height: 640 } }), relay, 'plan')
  const bob = await openEditor(await newProfile(browser(), people.bob), relay, 'plan')

  await typeAtEnd(ada, 'Goals\nship the relay\nwrite the docs')
  await waitForSaveState(ada, 'saved')
  await untilText(bob, 'Goals\nship the relay\nwrite the docs')
  await ada.getByTestId('history').click()
  await ada.getByTestId('history-name').fill('First plan')
  await ada.getByTestId('history-name-save').click()
  await ada.getByTestId('history-version').filter({ hasText: 'First plan' }).waitFor()

  // Bob rewrites the plan.
  await bob.click('.cm-content')
  await bob.keyboard.press('Control+End')
  await bob.keyboard.press('Shift+Home')
  await bob.keyboard.type('test everything')
  await waitForSaveState(bob, 'saved')
  const rewritten = 'Goals\nship the relay\ntest everything'
  await untilText(ada, rewritten)

  const first = ada.getByTestId('history-version').filter({ hasText: 'First plan' })
  expect(await first.textContent()).toContain('Ada')
  await first.click()
  const preview = ada.getByTestId('history-preview')
  await preview.locator('.cm-history-removed', { hasText: 'write the docs' }).waitFor()
  await preview.locator('.cm-history-added', { hasText: 'test everything' }).waitFor()
  expect(await preview.locator('.cm-content').getAttribute('contenteditable')).toBe('false')
  await ada.screenshot({ path: new URL('history-panel.png', artifacts).pathname })

  await ada.getByTestId('history-restore').click()
  await untilText(bob, 'Goals\nship the relay\nwrite the docs')
  await ada.getByTestId('history-close').click()
  expect(await editorText(ada)).toBe('Goals\nship the relay\nwrite the docs')

  // The restore is Ada's own edit: her undo takes it back, for everyone.
  await ada.click('.cm-content')
  await ada.keyboard.press('Control+z')
  await untilText(ada, rewritten)
  await untilText(bob, rewritten)
  await waitForSaveState(ada, 'saved')
})
