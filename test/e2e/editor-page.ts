/**
 * The editor as the browser tests see it: a relay serving the built editor,
 * and a page driven through the DOM (`data-testid` attributes and
 * CodeMirror's own classes).
 */
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { Browser, BrowserContext, BrowserContextOptions, Page } from 'playwright-core'
import * as Y from 'yjs'
import type { Relay, RelayOptions } from '../../server/relay.js'
import type { DocStore } from '../../server/storage/store.js'
import { applyStoredDocument } from '../../server/protocol/document.js'
import { onTeardown, startTestRelay } from '../helpers/relay.js'

/** The built editor, as the tests' global setup (or `npm run build`) leaves it. */
export const editorDir = fileURLToPath(new URL('../../dist/editor', import.meta.url))

/** Starts a relay on 127.0.0.1 serving the built editor (port 0 unless given), closed after the test. */
export async function startEditorRelay (options: RelayOptions = {}): Promise<Relay> {
  if (!existsSync(`${editorDir}/index.html`)) {
    throw new Error(`the editor is not built: ${editorDir}/index.html is missing. Run the tests through \`npm test\` or \`npx vitest run\`, whose global setup builds it.`)
  }
  return await startTestRelay({ editorDir, ...options })
}

/** A name and colour as the editor keeps them in localStorage. */
export interface TestIdentity {
  readonly name: string
  readonly color: string
}

/** The people the browser tests play, each with a colour of the editor's palette. */
export const people = {
  ada: { name: 'Ada', color: '#c2255c' },
  bob: { name: 'Bob', color: '#1971c2' },
  carol: { name: 'Carol', color: '#2f7d3b' }
} satisfies Record<string, TestIdentity>


/**
 * A fresh browser profile, closed after the test. With `identity`, its pages
 * start as that person, as if the name had been chosen on an earlier visit.
 * Waits in it give up after 10 s.
 */
export async function newProfile (browser: Browser, identity?: TestIdentity, options: BrowserContextOptions = {}): Promise<BrowserContext> {
  const context = await browser.newContext(options)
  onTeardown(() => context.close())
  context.setDefaultTimeout(10_000)
  if (identity) await context.addInitScript(`localStorage.setItem('coedit.identity', ${JSON.stringify(JSON.stringify(identity))})`)
  return context
}

/** The page address of a document; with `token`, the link that carries that access token. */
export function documentUrl (relay: Relay, name: string, token?: string): string {
  const page = `${relay.url}/d/${encodeURIComponent(name)}`
  return token === undefined ? page : `${page}?token=${token}`
}

/** Waits until the connection indicator shows `state` (`connecting`, `connected`, `offline`, `closed`). */
export async function waitForConnection (page: Page, state: string): Promise<void> {
  await page.waitForSelector(`[data-testid="status"][data-state="${state}"]`)
}

/** Waits until the saved indicator shows `state`: `loading` before the first sync, `saved`, `saving`, `on-device` or `waiting` while offline (kept in the browser or in this tab only), `unsaved` once the page stopped connecting. */
export async function waitForSaveState (page: Page, state: 'saved' | 'saving' | 'unsaved' | 'loading' | 'on-device' | 'waiting'): Promise<void> {
  await page.waitForSelector(`[data-testid="saved"][data-state="${state}"]`)
}

/**
 * Makes the pages of `page` (or of every page of a profile) start as on a
 * device that opened document `name` before, so that a name the relay does
 * not know yet opens at once instead of asking whether to create it.
 */
export async function openedBefore (page: Page | BrowserContext, name: string): Promise<void> {
  await page.addInitScript(`(() => {
    const key = 'coedit.documents'
    const list = JSON.parse(localStorage.getItem(key) ?? '[]')
    if (!list.some((entry) => entry.name === ${JSON.stringify(name)})) {
      list.push({ name: ${JSON.stringify(name)}, title: ${JSON.stringify(name)}, openedAtMs: 0, link: null })
      localStorage.setItem(key, JSON.stringify(list))
    }
  })()`)
}

/**
 * Opens document `name` (through a link with `token`, if given) in a new
 * page of `context`, as on a device that opened it before (see
 * `openedBefore`), and waits until it is connected and in sync.
 */
export async function openEditor (context: BrowserContext, relay: Relay, name: string, token?: string): Promise<Page> {
  const page = await context.newPage()
  await openedBefore(page, name)
  await page.goto(documentUrl(relay, name, token))
  await waitForConnection(page, 'connected')
  return page
}

/** Puts the cursor at the end of the document and types `text` there, key by key. */
export async function typeAtEnd (page: Page, text: string, delayMs = 0): Promise<void> {
  await page.click('.cm-content')
  await page.keyboard.press('Control+End')
  await page.keyboard.type(text, { delay: delayMs })
}

/*
 * Code that runs in the page is written as expressions in strings: these
 * files compile without the DOM library.
 */

/**
 * The document text as the editor shows it: its lines, without the widgets
 * drawn inside them (other people's cursors and labels, the placeholder).
 */
const readEditorText = `[...document.querySelectorAll('.cm-content > .cm-line')].map((line) => {
  const copy = line.cloneNode(true)
  for (const widget of copy.querySelectorAll('.cm-ySelectionCaret, .cm-placeholder')) widget.remove()
  return copy.textContent
}).join('\\n')`

/** The text the editor in `page` shows now (see `readEditorText`). */
export async function editorText (page: Page): Promise<string> {
  return await page.evaluate(`(() => ${readEditorText})()`) as string
}

/**
 * Waits until the editor in `page` shows exactly `text` (for up to
 * `timeoutMs`), polling from here: the page's Content-Security-Policy (no
 * 'unsafe-eval') keeps Playwright from re-evaluating a predicate given as a
 * string inside the page, and a string that evaluates to a function would
 * count as true at once.
 */
export async function waitForText (page: Page, text: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let shown = await editorText(page)
  while (shown !== text) {
    if (Date.now() > deadline) throw new Error(`the editor shows ${JSON.stringify(shown)}, not ${JSON.stringify(text)}, after ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 25))
    shown = await editorText(page)
  }
}

/** The text of document `name` as durably stored in `store`. */
export async function storedText (store: DocStore, name: string): Promise<string> {
  const doc = new Y.Doc()
  try {
    applyStoredDocument(doc, await store.load(name), name)
    return doc.getText('text').toString()
  } finally {
    doc.destroy()
  }
}

/** An init script that counts, in the page, every WebSocket it creates, in `window.socketsMade`. */
export const countSockets = `
  window.socketsMade = 0
  window.WebSocket = class extends WebSocket {
    constructor (...args) {
      super(...args)
      window.socketsMade++
    }
  }`
