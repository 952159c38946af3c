/**
 * The form that opens a document by name, creating it if it is new.
 */
import { documentNameProblem, documentPath } from '../collab/document-name.js'

/**
 * On submit of `form` (whose `name` field holds a document name), goes to
 * that document's page, or shows why the name cannot be used in `error`.
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
