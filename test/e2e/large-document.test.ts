/**
 * The automerge-paper trace (260 000 edits, 311 KB as a Yjs update) opened in
 * the editor: it arrives in pieces while the page shows how far it has come,
 * ends with exactly the trace's text, and takes typing.
 */
import { describe, expect, it } from 'vitest'
import type { Page } from 'playwright-core'
import { createMemoryStore } from '../../server/storage/memory.js'
import { replayTrace } from '../../bench/trace.js'
import { waitFor } from '../helpers/relay.js'
import { useBrowser } from './browser.js'
import { documentUrl, newProfile, people, startEditorRelay, waitForConnection, waitForSaveState } from './editor-page.js'

const browser = useBrowser()

const tracePath = new URL('../../bench/data/automerge-paper.json.gz', import.meta.url).pathname

/**
 * Records in `window.progressSeen` every label the loading bar shows, as
 * the DOM changes: a fast local load may finish between two paints.
 */
const recordProgress = `window.progressSeen = [];
new MutationObserver(() => {
  const bar = document.querySelector('[data-testid="loading-progress"]');
  const label = bar && !bar.hidden ? bar.querySelector('.loading-progress-label').textContent : null;
  if (label !== null && window.progressSeen[window.progressSeen.length - 1] !== label) window.progressSeen.push(label);
}).observe(document, { subtree: true, childList: true, characterData: true, attributes: true });`

/** The whole text of the editor's document (CodeMirror draws only the lines in view). */
async function documentText (page: Page): Promise<string> {
  return await page.evaluate("document.querySelector('.cm-content').cmTile.view.state.doc.toString()") as string
}

describe('the automerge-paper trace in the editor', () => {
  it('loads with a progress bar, shows the trace\'s text, and takes typing', async () => {
    const trace = replayTrace(tracePath)
    const store = createMemoryStore()
    await store.append('paper', trace.update)
    const relay = await startEditorRelay({ store, maxSyncPieceBytes: 16 * 1024 })
    const context = await newProfile(browser(), people.ada)
    await context.addInitScript(recordProgress)
    const page = await context.newPage()
    await page.goto(documentUrl(relay, 'paper'))
    await waitForConnection(page, 'connected')
    await waitForSaveState(page, 'saved')
    await page.waitForSelector('[data-testid="loading-progress"]', { state: 'hidden' })
    const seen = await page.evaluate('window.progressSeen') as string[]
    const percents = seen.map((label) => Number(/^Loading (\d+)%…$/.exec(label)?.[1]))
    expect(percents[0]).toBe(0)
    expect(percents.some((percent) => percent > 0 && percent < 100)).toBe(true)
    expect(percents.every((percent, i) => i === 0 || percent >= percents[i - 1])).toBe(true)
    expect(await documentText(page)).toBe(trace.endContent)

    await page.click('.cm-content')
    await page.keyboard.press('Control+End')
    await page.keyboard.type(' The end.')
    const room = relay.registry.get('paper')!
    await waitFor(() => room.text === `${trace.endContent} The end.`, 10_000, 'the typed text at the relay')
    expect(await documentText(page)).toBe(`${trace.endContent} The end.`)
  })
})
