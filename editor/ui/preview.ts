/**
 * The rendered Markdown beside the editor (or instead of it on a narrow
 * screen), kept up to date while shown: at most four times a second, and
 * less often for a document that takes long to render.
 */
import type { MarkdownRenderer } from '../collab/export.js'
import './document-menu.css'

/** The preview of one document. */
export interface LivePreview {
  /** Whether it is shown now. */
  readonly shown: boolean
  /** Shows it when hidden, hides it when shown; answers whether it is shown now. */
  toggle (): boolean
}

/** Shortest time between two renderings while people type, in ms. */
const renderEveryMs = 250

/**
 * How many times the last rendering took the preview waits before the next
 * one: rendering a long document takes at most a fifth of the page's time.
 */
const renderCostFactor = 4

/**
 * Makes `panel` the preview of the text `text()` returns, rendered by the
 * renderer `renderer()` loads. `subscribe` registers a change listener.
 * While the preview is shown, the page's `<body>` carries
 * `data-preview`, which the layout uses; while hidden, nothing renders.
 */
export function livePreview (
  panel: HTMLElement,
  renderer: () => Promise<MarkdownRenderer>,
  text: () => string,
  subscribe: (onChange: () => void) => void
): LivePreview {
  let shown = false
  let timer: ReturnType<typeof setTimeout> | undefined
  let lastRenderMs = 0
  const render = async (): Promise<void> => {
    try {
      const toHtml = await renderer()
      const started = performance.now()
      const html = toHtml(text())
      lastRenderMs = performance.now() - started
      // markdown-it with raw HTML off escapes everything typed: what it returns holds only its own markup.
      if (shown) panel.innerHTML = html
    } catch {
      if (shown) panel.textContent = 'The preview could not be loaded. Check your connection and try again.'
    }
  }
  subscribe(() => {
    if (!shown || timer !== undefined) return
    timer = setTimeout(() => {
      timer = undefined
      void render()
    }, Math.max(renderEveryMs, lastRenderMs * renderCostFactor))
  })
  return {
    get shown () { return shown },
    toggle () {
      shown = !shown
      panel.hidden = !shown
      document.body.toggleAttribute('data-preview', shown)
      if (shown) void render()
      else panel.replaceChildren()
      return shown
    }
  }
}
