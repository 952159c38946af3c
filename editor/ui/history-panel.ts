/**
 * The History panel: the document's versions, newest first, with when,
 * name and who edited; one selected shows read-only, with what changed
 * since it marked line by line (struck out: in the version, gone now;
 * underlined: added since). Writers can name the document as it is now and
 * restore the selected version.
 */
import { EditorState, RangeSetBuilder } from '@codemirror/state'
import { Decoration, EditorView, type DecorationSet } from '@codemirror/view'
import type { Version, VersionsClient } from '../collab/versions.js'
import { lineDiff } from '../collab/line-diff.js'
import { viewOnly } from '../extensions/view-only.js'

/** What the panel needs from the page. */
export interface HistoryPanelOptions {
  readonly versions: VersionsClient
  /** The document's text now. */
  readonly currentText: () => string
  /** Whether this page may name and restore versions. */
  readonly canWrite: boolean
  /** Makes the document's text `text`, as an edit of this page (so its undo takes it back). */
  readonly restore: (text: string) => void
}

const removed = Decoration.mark({ class: 'cm-history-removed' })
const added = Decoration.mark({ class: 'cm-history-added' })

/**
 * Makes `panel` (an empty `<aside>`) the History panel, opened and closed
 * by `toggle`, and closed by its Close button or Escape, which put the focus
 * back on `toggle`. It lists the versions each time it opens.
 */
export function historyPanel (panel: HTMLElement, toggle: HTMLButtonElement, options: HistoryPanelOptions): void {
  const heading = document.createElement('h2')
  heading.textContent = 'History'
  const close = button('Close', 'history-close')
  const top = element('div', 'history-top', heading, close)

  const nameField = document.createElement('input')
  nameField.placeholder = 'Name for the document as it is now'
  nameField.maxLength = 200
  nameField.dataset.testid = 'history-name'
  const nameButton = button('Name this version', 'history-name-save')
  nameButton.type = 'submit'
  const nameForm = element('form', 'history-name-form', nameField, nameButton)
  nameForm.hidden = !options.canWrite

  const list = element('ol', 'history-list')
  list.dataset.testid = 'history-list'
  const problem = element('p', 'history-problem')
  problem.setAttribute('role', 'alert')
  problem.hidden = true

  const caption = element('p', 'history-caption')
  const legend = element('p', 'hint history-legend')
  legend.append(element('span', 'cm-history-removed', 'struck out'), ': gone since · ', element('span', 'cm-history-added', 'underlined'), ': added since')
  const restoreButton = button('Restore this version', 'history-restore')
  restoreButton.className = 'primary'
  restoreButton.hidden = !options.canWrite
  const previewParent = element('div', 'history-preview-text')
  previewParent.dataset.testid = 'history-preview'
  // Made when a version is shown and destroyed when the panel closes: only the page's own editor stays.
  let preview: EditorView | null = null
  const previewBox = element('section', 'history-preview', caption, legend, previewParent, restoreButton)
  previewBox.hidden = true

  panel.replaceChildren(top, nameForm, problem, list, previewBox)

  let selected: { version: Version, text: string } | null = null
  const fail = (err: unknown): void => {
    problem.textContent = (err as Error).message
    problem.hidden = false
  }

  const show = (version: Version, text: string): void => {
    selected = { version, text }
    caption.textContent = `${describe(version)} — compared with now`
    // The version's lines and the lines added since, in document order, each marked.
    const parts = lineDiff(text, options.currentText())
    const builder = new RangeSetBuilder<Decoration>()
    let at = 0
    for (const part of parts) {
      if (part.kind !== 'same') builder.add(at, at + part.text.length, part.kind === 'removed' ? removed : added)
      at += part.text.length
    }
    const state = EditorState.create({
      doc: parts.map((part) => part.text).join(''),
      extensions: [viewOnly(), EditorView.lineWrapping, EditorView.decorations.of(builder.finish() as DecorationSet)]
    })
    if (preview) preview.setState(state)
    else preview = new EditorView({ parent: previewParent, state })
    previewBox.hidden = false
    for (const item of list.querySelectorAll('button')) item.setAttribute('aria-pressed', String(item.dataset.versionId === String(version.id)))
  }

  const refresh = async (): Promise<void> => {
    problem.hidden = true
    const versions = await options.versions.list()
    list.replaceChildren(...versions.map((version) => {
      const item = document.createElement('button')
      item.type = 'button'
      item.className = 'history-item'
      item.dataset.testid = 'history-version'
      item.dataset.versionId = String(version.id)
      item.setAttribute('aria-pressed', String(selected?.version.id === version.id))
      const when = element('span', 'history-when')
      when.textContent = version.createdAt.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' })
      const name = element('span', 'history-version-name')
      name.textContent = version.name ?? ''
      const authors = element('span', 'history-authors')
      authors.textContent = version.authors.length > 0 ? version.authors.join(', ') : 'no named editor'
      item.append(when, name, authors)
      item.addEventListener('click', () => {
        options.versions.text(version.id).then((text) => show(version, text), fail)
      })
      const row = document.createElement('li')
      row.append(item)
      return row
    }))
    if (versions.length === 0) list.replaceChildren(element('li', 'hint', 'No versions yet: one is kept once editing pauses.'))
  }

  const open = (): void => {
    panel.hidden = false
    toggle.setAttribute('aria-expanded', 'true')
    refresh().catch(fail)
  }
  const shut = (): void => {
    // Focus inside the panel would be lost with it: it goes back to the button that opens it.
    if (panel.contains(document.activeElement)) toggle.focus()
    preview?.destroy()
    preview = null
    selected = null
    previewBox.hidden = true
    panel.hidden = true
    toggle.setAttribute('aria-expanded', 'false')
  }
  toggle.addEventListener('click', () => { if (panel.hidden) open(); else shut() })
  close.addEventListener('click', shut)
  panel.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && !event.defaultPrevented) shut()
  })
  nameForm.addEventListener('submit', (event) => {
    event.preventDefault()
    const name = nameField.value.trim()
    if (name === '') return
    options.versions.create(name).then(() => {
      nameField.value = ''
      return refresh()
    }).catch(fail)
  })
  restoreButton.addEventListener('click', () => {
    if (!selected) return
    options.restore(selected.text)
    show(selected.version, selected.text)
  })
}

/** A version's line in captions: its name (or "Version n") and time. */
function describe (version: Version): string {
  const when = version.createdAt.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' })
  return `${version.name ?? `Version ${version.id}`}, ${when}`
}

function button (label: string, testId: string): HTMLButtonElement {
  const made = document.createElement('button')
  made.type = 'button'
  made.textContent = label
  made.dataset.testid = testId
  return made
}

function element<K extends keyof HTMLElementTagNameMap> (tag: K, className: string, ...children: Array<Node | string>): HTMLElementTagNameMap[K] {
  const made = document.createElement(tag)
  made.className = className
  made.append(...children)
  return made
}
