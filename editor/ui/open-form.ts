/**
 * The form that opens a document by name, and the link that starts a new
 * one.
 */
import { documentNameProblem, documentPath, newDocumentName } from '../collab/document-name.js'
import type { RecentDocuments } from '../collab/recent-documents.js'

/**
 * On submit of `form` (whose `name` field holds a document name), goes to
 * that document's page, or shows why the name cannot be used in `error`.
 * A name no document has yet is not created there: the page asks first.
 */
export function openByName (form: HTMLFormElement, error: HTMLElement): void {
  const field = form.elements.namedItem('name') as HTMLInputElement
  field.addEventListener('input', () => { error.hidden = true })
  form.addEventListener('submit', (event) => {
    event.preventDefault()
    const name = field.value.trim()
    const problem = documentNameProblem(name)
    if (problem !== null) {
      error.textContent = problem
      error.hidden = false
      field.focus()
      return
    }
    location.assign(documentPath(name))
  })
}

/**
 * Makes `link` start a new document with a fresh random name, noted in
 * `recent` as opened here so that it opens at once.
 */
export function newDocumentOnClick (link: HTMLAnchorElement, recent: RecentDocuments): void {
  link.addEventListener('click', (event) => {
    event.preventDefault()
    const name = newDocumentName()
    recent.opened(name)
    location.assign(documentPath(name))
  })
}
