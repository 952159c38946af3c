/**
 * The page at `/`: the documents opened on this device, newest first, to
 * open again or remove from the list; and, where anyone may create
 * documents, ways to start one: empty (optionally named) or from a file.
 * Where access control is on, documents open through links only: the page
 * says so, and how operators make links.
 */
import { documentNameProblem, documentPath, newDocumentName } from '../collab/document-name.js'
import type { RecentDocuments, RecentDocument } from '../collab/recent-documents.js'
import { documentTitle } from '../collab/title.js'
import { readTextFile } from '../collab/text-file.js'
import './documents-page.css'

/** How the page is shown. */
export interface DocumentsPageOptions {
  /** The documents this device opened. */
  readonly recent: RecentDocuments
  /** True where access control is on: no creating here, documents open through links. */
  readonly linksOnly: boolean
  /** The relay's origin, for creating a document from a file and for the operator's command. */
  readonly origin: string
}

/** Fills `container` with the documents page and shows it. */
export function showDocumentsPage (container: HTMLElement, options: DocumentsPageOptions): void {
  const { recent, linksOnly } = options
  const heading = make('h1', 'documents-heading', 'Your documents')
  const removedNote = make('p', 'documents-removed')
  removedNote.setAttribute('role', 'status')
  removedNote.dataset.testid = 'removed-note'
  removedNote.hidden = true
  const list = make('ul', 'recent-list')
  list.dataset.testid = 'recent-list'
  const empty = make('p', 'recent-empty', linksOnly
    ? 'Documents you open through a link on this device appear here.'
    : 'Documents you open or create on this device appear here.')
  empty.dataset.testid = 'recent-empty'

  const render = (): void => {
    const entries = recent.list()
    list.replaceChildren(...entries.map((entry) => recentItem(entry, () => {
      recent.remove(entry.name)
      removedNote.textContent = `Removed “${entry.title}” from this device's list. The document itself is not deleted; anyone with its link can still open it.`
      removedNote.hidden = false
      render()
    })))
    list.hidden = entries.length === 0
    empty.hidden = entries.length > 0
  }
  render()

  const start = linksOnly ? linksExplanation(options.origin) : creation(options)
  container.replaceChildren(heading, start, removedNote, list, empty)
  container.hidden = false
}

/** A document of the list: its title linking to it, its name, when it was last opened, and a remove button. */
function recentItem (entry: RecentDocument, remove: () => void): HTMLLIElement {
  const item = make('li', 'recent-item')
  item.dataset.testid = 'recent-item'
  item.dataset.name = entry.name
  const link = make('a', 'recent-title', entry.title)
  link.href = entry.link ?? documentPath(entry.name)
  link.dataset.testid = 'recent-title'
  const details = make('span', 'recent-details')
  const name = make('span', 'recent-name', entry.name)
  const when = make('time', 'recent-when', `opened ${ago(entry.openedAtMs)}`)
  when.dateTime = new Date(entry.openedAtMs).toISOString()
  when.title = new Date(entry.openedAtMs).toLocaleString()
  details.append(name, ' · ', when)
  if (entry.link !== null) details.append(' · ', make('span', 'recent-link', 'with its link'))
  const button = make('button', 'recent-remove', 'Remove')
  button.type = 'button'
  button.dataset.testid = 'remove-recent'
  button.title = "Remove from this device's list (the document is not deleted)"
  button.setAttribute('aria-label', `Remove “${entry.title}” from this device's list`)
  button.addEventListener('click', remove)
  item.append(link, button, details)
  return item
}

/** Creating a document: empty, named or not, or from a file. */
function creation (options: DocumentsPageOptions): HTMLElement {
  const { recent, origin } = options
  const section = make('section', 'documents-create')
  const form = make('form', 'create-form')
  form.dataset.testid = 'create-form'
  form.autocomplete = 'off'
  const field = make('input', 'create-name')
  field.name = 'name'
  field.placeholder = 'Name (optional)'
  field.maxLength = 200
  field.setAttribute('aria-label', 'Name of the new document (optional)')
  field.dataset.testid = 'create-name'
  const create = make('button', 'primary', 'New document')
  create.type = 'submit'
  create.dataset.testid = 'create-document'
  const fromFile = make('button', 'from-file', 'New from file…')
  fromFile.type = 'button'
  fromFile.dataset.testid = 'new-from-file'
  fromFile.title = 'Start a document with the text of a Markdown or text file'
  const picker = make('input')
  picker.type = 'file'
  picker.accept = '.md,.markdown,.txt,text/plain,text/markdown'
  picker.hidden = true
  picker.dataset.testid = 'file-input'
  const problem = make('p', 'create-problem')
  problem.setAttribute('role', 'alert')
  problem.dataset.testid = 'create-problem'
  problem.hidden = true
  const say = (text: string | null): void => {
    problem.textContent = text
    problem.hidden = text === null
  }

  /** Goes to document `name`, noted as opened here first so that it opens at once. */
  const open = (name: string, title?: string): void => {
    recent.opened(name)
    if (title !== undefined) recent.retitle(name, title)
    location.assign(documentPath(name))
  }
  field.addEventListener('input', () => say(null))
  form.addEventListener('submit', (event) => {
    event.preventDefault()
    const name = field.value.trim()
    if (name === '') {
      open(newDocumentName())
      return
    }
    const trouble = documentNameProblem(name)
    if (trouble !== null) {
      say(trouble)
      field.focus()
      return
    }
    open(name)
  })
  fromFile.addEventListener('click', () => picker.click())
  picker.addEventListener('change', () => {
    const file = picker.files?.[0]
    picker.value = ''
    if (!file) return
    say(null)
    fromFile.disabled = true
    createFromFile(origin, file).then(({ name, title }) => open(name, title), (err: unknown) => {
      say((err as Error).message)
    }).finally(() => { fromFile.disabled = false })
  })
  form.append(field, create, fromFile, picker)
  section.append(form, problem)
  return section
}

/** Makes a new document holding the text of `file` (through the document API) and answers its name and title. */
async function createFromFile (origin: string, file: File): Promise<{ name: string, title: string }> {
  const text = await readTextFile(file)
  const name = newDocumentName()
  let response: Response
  try {
    response = await fetch(`${origin}/api/documents/${encodeURIComponent(name)}/text`, {
      method: 'PUT',
      headers: { 'content-type': 'text/plain; charset=utf-8' },
      body: text
    })
  } catch {
    throw new Error('The server could not be reached; try again.')
  }
  if (!response.ok) {
    const body = await response.json().catch(() => null) as { error?: { message?: unknown } } | null
    const reason = typeof body?.error?.message === 'string' ? `: ${body.error.message}` : ''
    throw new Error(`The server did not take the file (${response.status})${reason}.`)
  }
  return { name, title: documentTitle(text.split('\n'), file.name.replace(/\.[^.]*$/, '') || name) }
}

/** Where access control is on: how documents open, for people and for operators. */
function linksExplanation (origin: string): HTMLElement {
  const section = make('section', 'documents-links')
  section.dataset.testid = 'links-explanation'
  const people = make('p', undefined, 'On this server, documents open through links. Ask the person who shares a document for its link; the documents you open with one are kept below, on this device only.')
  const operators = make('p', undefined, 'Running this server? Make a link to a document with:')
  const command = make('code', 'documents-command', `npx coedit token --doc <name> --write --url ${origin}`)
  section.append(people, operators, command)
  return section
}

/** How long ago `ms` was, in words ("just now", "5 minutes ago", "yesterday"). */
function ago (ms: number): string {
  const elapsedSeconds = (Date.now() - ms) / 1000
  if (elapsedSeconds < 60) return 'just now'
  const words = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' })
  for (const [unit, seconds] of [['year', 31_536_000], ['month', 2_592_000], ['day', 86_400], ['hour', 3600]] as const) {
    if (elapsedSeconds >= seconds) return words.format(-Math.floor(elapsedSeconds / seconds), unit)
  }
  return words.format(-Math.floor(elapsedSeconds / 60), 'minute')
}

/** A new element with `className` and `text`. */
function make<K extends keyof HTMLElementTagNameMap> (tag: K, className?: string, text?: string): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag)
  if (className !== undefined) element.className = className
  if (text !== undefined) element.textContent = text
  return element
}
