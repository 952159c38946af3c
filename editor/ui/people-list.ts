/**
 * The list of people in the document, in the header.
 */
import type { Person } from '../collab/presence.js'

/** The first letter of each of the first two words of `name`, upper-cased. */
function initials (name: string): string {
  return name.split(' ').slice(0, 2).map((word) => [...word][0] ?? '').join('').toUpperCase()
}

/**
 * Replaces the items of `list` with one per person: a round badge in their
 * colour with their initials, and their name (marked "(you)" for this page).
 */
export function showPeople (list: HTMLElement, people: readonly Person[]): void {
  const items = people.map((person) => {
    const item = document.createElement('li')
    item.className = 'person'
    item.dataset.testid = 'person'
    if (person.self) item.dataset.self = ''
    item.title = person.self ? `${person.name} (you)` : person.name
    const badge = document.createElement('span')
    badge.className = 'avatar'
    badge.style.backgroundColor = person.color
    badge.textContent = initials(person.name)
    badge.setAttribute('aria-hidden', 'true')
    const name = document.createElement('span')
    name.className = 'person-name'
    name.textContent = person.self ? `${person.name} (you)` : person.name
    item.append(badge, name)
    return item
  })
  list.replaceChildren(...items)
  list.setAttribute('aria-label', people.length === 1 ? 'Only you are here' : `${people.length} people here`)
}
