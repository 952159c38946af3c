/**
 * Input-to-paint latency of the editor in real Chromium, on the
 * automerge-paper trace (260 000 edits, 105 000 characters) beside a small
 * document: keys typed one at a time at the end and in the middle of each,
 * each measured in the page from the keydown event's timestamp to the first
 * task after the next animation frame (the frame that paints the key).
 * Prints medians and 95th percentiles in milliseconds, and how long each
 * page took from navigation until its document was loaded.
 *
 * Needs the built editor (`npm run build`) and Chromium at /usr/bin/chromium.
 *
 *   npx tsx scripts/input-to-paint.ts [keys per position, default 200] [trace file, default bench/data/automerge-paper.json.gz]
 */
import { fileURLToPath } from 'node:url'
import { chromium, type Page } from 'playwright-core'
import { replayTrace } from '../bench/trace.js'
import { startRelay } from '../server/relay.js'
import { createLogger } from '../server/log.js'
import { createMemoryStore } from '../server/storage/memory.js'
import * as Y from 'yjs'

const keys = Number(process.argv[2] ?? 200)
const tracePath = process.argv[3] ?? fileURLToPath(new URL('../bench/data/automerge-paper.json.gz', import.meta.url))
const editorDir = fileURLToPath(new URL('../dist/editor', import.meta.url))

/**
 * Installed before the page's own scripts: every keydown starts a sample
 * that ends in the first task after the next animation frame, when the
 * frame that shows the key has been painted.
 */
const measure = `window.inputToPaint = [];
addEventListener('keydown', (event) => {
  const start = event.timeStamp;
  requestAnimationFrame(() => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => window.inputToPaint.push(performance.now() - start);
    channel.port2.postMessage(null);
  });
}, true);`

function percentile (values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]
}

/** Types `count` letters one by one at the cursor, each after the previous one's sample is in. */
async function typeMeasured (page: Page, count: number): Promise<number[]> {
  await page.evaluate('window.inputToPaint.length = 0')
  for (let i = 0; i < count; i++) {
    await page.keyboard.press(String.fromCharCode(97 + (i % 26)))
    // The page's Content-Security-Policy rules out waitForFunction with a string: poll from here.
    while (await page.evaluate('window.inputToPaint.length') as number < i + 1) await new Promise((resolve) => setTimeout(resolve, 2))
  }
  return await page.evaluate('window.inputToPaint.slice()') as number[]
}

/** Puts the cursor at `where` of the document and scrolls it into view. */
async function placeCursor (page: Page, where: 'end' | 'middle'): Promise<void> {
  await page.click('.cm-content')
  await page.evaluate(`(() => {
    const view = document.querySelector('.cm-content').cmTile.view;
    const length = view.state.doc.length;
    const at = ${where === 'end' ? 'length' : 'Math.floor(length / 2)'};
    view.dispatch({ selection: { anchor: at }, scrollIntoView: true });
    view.focus();
  })()`)
}

const trace = replayTrace(tracePath)
const small = new Y.Doc()
small.getText('text').insert(0, trace.endContent.slice(0, 2000))
const store = createMemoryStore()
await store.append('paper', trace.update)
await store.append('small', Y.encodeStateAsUpdate(small))
const relay = await startRelay({ port: 0, host: '127.0.0.1', store, editorDir, logger: createLogger('error') })
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] })
try {
  console.log('| document | cursor | keys | median ms | p95 ms | opened in ms |')
  console.log('| --- | --- | --- | --- | --- | --- |')
  for (const name of ['small', 'paper']) {
    for (const where of ['end', 'middle'] as const) {
      const context = await browser.newContext({ viewport: { width: 1200, height: 800 } })
      await context.addInitScript(`localStorage.setItem('coedit.identity', JSON.stringify({ name: 'Ada', color: '#c2255c' }))`)
      await context.addInitScript(measure)
      const page = await context.newPage()
      const opening = performance.now()
      await page.goto(`${relay.url}/d/${name}`)
      await page.waitForSelector('[data-testid="saved"][data-state="saved"]', { timeout: 60_000 })
      const openedMs = performance.now() - opening
      await placeCursor(page, where)
      // A few keys first, so that first-use costs (JIT, layout caches) stay out of the figures.
      await typeMeasured(page, 10)
      const samples = await typeMeasured(page, keys)
      const label = name === 'paper' ? `automerge-paper (${trace.endContent.length} chars)` : 'small (2000 chars)'
      console.log(`| ${label} | ${where} | ${samples.length} | ${percentile(samples, 0.5).toFixed(1)} | ${percentile(samples, 0.95).toFixed(1)} | ${openedMs.toFixed(0)} |`)
      await context.close()
    }
  }
} finally {
  await browser.close()
  await relay.close()
}
