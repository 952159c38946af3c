/**
 * The "Document" menu of the header: download as Markdown or HTML, print
 * the rendered document, and show its preview.
 */
import { exportFileName, standaloneHtml, type MarkdownRenderer } from '../collab/export.js'
import type { LivePreview } from './preview.js'
import { saveFile } from './save-file.js'
import './document-menu.css'

/** What the menu works on. */
export interface DocumentMenuOptions {
  /** The document's text now. */
  readonly text: () => string
  /** The document's title now (see `title.ts`): it names the files. */
  readonly title: () => string
  /** Loads the Markdown renderer (once). */
  readonly renderer: () => Promise<MarkdownRenderer>
  readonly preview: LivePreview
  /** Where the rendered document goes for printing; the print stylesheet shows only it. */
  readonly printView: HTMLElement
}

/**
 * Builds the menu inside `container`: a button that opens a list of
 * actions. The list closes after an action, on Escape, and on a click
 * elsewhere. Printing with the browser's own command prints the rendered
 * document too, once the renderer has loaded (opening the menu loads it);
 * before that, the text as typed.
 */
export function documentMenu (container: HTMLElement, options: DocumentMenuOptions): void {
  const { text, title, renderer, preview, printView } = options
  const button = document.createElement('button')
  button.type = 'button'
  button.className = 'document-menu-button'
  button.dataset.testid = 'document-menu-button'
  button.setAttribute('aria-haspopup', 'menu')
  button.setAttribute('aria-expanded', 'false')
  button.title = 'Download, print or preview this document'
  button.textContent = 'Document'
  const list = document.createElement('div')
  list.className = 'document-menu-list'
  list.setAttribute('role', 'menu')
  list.dataset.testid = 'document-menu-list'
  list.hidden = true

  let loaded: MarkdownRenderer | null = null
  const load = async (): Promise<MarkdownRenderer> => {
    loaded = await renderer()
    return loaded
  }
  const fillPrintView = (render: MarkdownRenderer | null): void => {
    if (render) {
      printView.innerHTML = render(text())
    } else {
      const pre = document.createElement('pre')
      pre.textContent = text()
      printView.replaceChildren(pre)
    }
  }
  window.addEventListener('beforeprint', () => fillPrintView(loaded))
  window.addEventListener('afterprint', () => printView.replaceChildren())

  const close = (): void => {
    list.hidden = true
    button.setAttribute('aria-expanded', 'false')
  }
  const item = (testId: string, label: string, run: () => void | Promise<void>, role = 'menuitem'): HTMLButtonElement => {
    const entry = document.createElement('button')
    entry.type = 'button'
    entry.setAttribute('role', role)
    entry.dataset.testid = testId
    entry.textContent = label
    entry.addEventListener('click', () => {
      close()
      void run()
    })
    list.append(entry)
    return entry
  }
  item('download-markdown', 'Download as Markdown (.md)', () => {
    saveFile(exportFileName(title(), 'md'), new Blob([text()], { type: 'text/markdown;charset=utf-8' }))
  })
  item('download-html', 'Download as HTML', async () => {
    const html = standaloneHtml(title(), (await load())(text()))
    saveFile(exportFileName(title(), 'html'), new Blob([html], { type: 'text/html;charset=utf-8' }))
  })
  item('print', 'Print…', async () => {
    fillPrintView(await load().catch(() => null))
    window.print()
  })
  const previewItem = item('toggle-preview', 'Preview', () => {
    previewItem.setAttribute('aria-checked', String(preview.toggle()))
    previewButton.setAttribute('aria-pressed', String(preview.shown))
  }, 'menuitemcheckbox')
  previewItem.setAttribute('aria-checked', 'false')

  // The preview is used often: a button of its own beside the menu too.
  const previewButton = document.createElement('button')
  previewButton.type = 'button'
  previewButton.className = 'preview-button'
  previewButton.dataset.testid = 'preview-button'
  previewButton.textContent = 'Preview'
  previewButton.title = 'Show the rendered Markdown beside the text'
  previewButton.setAttribute('aria-pressed', 'false')
  previewButton.addEventListener('click', () => {
    previewButton.setAttribute('aria-pressed', String(preview.toggle()))
    previewItem.setAttribute('aria-checked', String(preview.shown))
  })

  button.addEventListener('click', () => {
    const open = list.hidden
    list.hidden = !open
    button.setAttribute('aria-expanded', String(open))
    if (open) {
      void load().catch(() => {})
      list.querySelector<HTMLButtonElement>('button')?.focus()
    }
  })
  list.addEventListener('keydown', (event) => {
    const entries = [...list.querySelectorAll<HTMLButtonElement>('button')]
    const at = entries.indexOf(document.activeElement as HTMLButtonElement)
    if (event.key === 'Escape') {
      close()
      button.focus()
    } else if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault()
      entries[(at + (event.key === 'ArrowDown' ? 1 : entries.length - 1)) % entries.length]?.focus()
    }
  })
  document.addEventListener('pointerdown', (event) => {
    if (!container.contains(event.target as Node)) close()
  })
  container.replaceChildren(button, list, previewButton)
  container.hidden = false
}
