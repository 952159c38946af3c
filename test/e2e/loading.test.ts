/**
 * A page never claims "Saved" before its document has loaded: while the
 * relay is still reading the document from storage, the badge says
 * "Loading…".
 */
import { describe, expect, it } from 'vitest'
import type { DocStore } from '../../server/storage/store.js'
import { createMemoryStore } from '../../server/storage/memory.js'
import { useBrowser } from './browser.js'
import { newProfile, people, startEditorRelay, waitForConnection, waitForSaveState } from './editor-page.js'

const browser = useBrowser()

/** A memory store whose loads wait until `release()`. */
function heldLoads (): { store: DocStore, release: () => void } {
  const inner = createMemoryStore()
  let release!: () => void
  const gate = new Promise<void>((resolve) => { release = resolve })
  const store: DocStore = {
    load: async (name) => { await gate; return await inner.load(name) },
    append: (name, update) => inner.append(name, update),
    readSince: (name, seq) => inner.readSince(name, seq),
    replace: (name, snapshot) => inner.replace(name, snapshot),
    list: () => inner.list(),
    release: (name) => inner.release(name),
    ping: () => inner.ping(),
    close: () => inner.close()
  }
  return { store, release }
}

describe('the saved badge before the first sync', () => {
  it('says "Loading…" while the document loads, and "Saved" only once it has', async () => {
    const held = heldLoads()
    const relay = await startEditorRelay({ store: held.store })
    const page = await (await newProfile(browser(), people.ada)).newPage()
    await page.goto(`${relay.url}/d/slow`)
    // The socket is open, the document not yet loaded: the badge says so, never "Saved".
    await page.waitForFunction('() => document.querySelector(\'[data-testid="status"]\')?.dataset.state === "connecting"')
    expect(await page.getByTestId('saved').getAttribute('data-state')).toBe('loading')
    expect(await page.getByTestId('saved').textContent()).toBe('Loading…')
    held.release()
    await waitForConnection(page, 'connected')
    await waitForSaveState(page, 'saved')
  })
})
