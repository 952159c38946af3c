/**
 * What the page says when the name it was opened with belongs to no
 * document yet: nothing is created until the person asks for it.
 */
import { documentPath, similarNames } from '../collab/document-name.js'
import type { RecentDocument } from '../collab/recent-documents.js'
import './documents-page.css'

/**
 * Fills `notice` with "No document named “name” yet", a button to create
 * it (which calls `create`), a link back to the documents page, and links
 * to those of `known` (the documents this device opened) whose names are
 * close to `name`.
 */
export function showMissingNotice (notice: HTMLElement, name: string, known: readonly RecentDocument[], create: () => void): void {
  const suggestions = similarNames(name, known.map((entry) => entry.name)).map((similar) => known.find((entry) => entry.name === similar)!)
  const message = document.createElement('p')
  message.className = 'missing-message'
  message.textContent = `No document named “${name}” yet.`
  const parts: HTMLElement[] = [message]

  if (suggestions.length > 0) {
    const suggestion = document.createElement('p')
    suggestion.className = 'missing-suggestions'
    suggestion.dataset.testid = 'missing-suggestions'
    suggestion.append('Did you mean ')
    suggestions.forEach((entry, index) => {
      if (index > 0) suggestion.append(index === suggestions.length - 1 ? ' or ' : ', ')
      const link = document.createElement('a')
      link.href = entry.link ?? documentPath(entry.name)
      link.dataset.testid = 'missing-suggestion'
      link.textContent = entry.name
      if (entry.title !== entry.name) link.title = entry.title
      suggestion.append(link)
    })
    suggestion.append('?')
    parts.push(suggestion)
  }

  const actions = document.createElement('div')
  actions.className = 'missing-actions'
  const createButton = document.createElement('button')
  createButton.type = 'button'
  createButton.className = 'primary'
  createButton.dataset.testid = 'create-missing'
  createButton.textContent = 'Create it'
  createButton.addEventListener('click', create)
  const back = document.createElement('a')
  back.href = '/'
  back.dataset.testid = 'back-to-documents'
  back.textContent = 'Back to your documents'
  actions.append(createButton, back)
  parts.push(actions)

  notice.replaceChildren(...parts)
  notice.hidden = false
  createButton.focus()
}
