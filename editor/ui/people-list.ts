/**
 * The people in the document, in the header: as many as fit on one line,
 * each a badge in their colour with their name, then a "+N" button that
 * opens the list of everyone.
 */
import type { Person } from '../collab/presence.js'
import { colourName } from '../collab/colours.js'
import { paintPersonColour } from './person-colour.js'

/** The first letter of each of the first two words of `name`, upper-cased. */
function initials (name: string): string {
  return name.split(' ').slice(0, 2).map((word) => [...word][0] ?? '').join('').toUpperCase()
}

/** How a person is named in the list: their name, marked "(you)" for this page's person. */
function shownName (person: Person): string {
  return person.self ? `${person.name} (you)` : person.name
}

/** What a screen reader says of a person besides their name: colour, away, tabs. */
function details (person: Person): string {
  const parts = [colourName(person.color)]
  if (person.away) parts.push('away')
  if (person.pages > 1) parts.push(`${person.pages} tabs`)
  return parts.join(', ')
}

/** One person: a round badge with their initials, their name, "(away)" when away, and their colour in words for screen readers. */
function personItem (person: Person, testId: string): HTMLLIElement {
  const item = document.createElement('li')
  item.className = 'person'
  item.dataset.testid = testId
  if (person.self) item.dataset.self = ''
  if (person.away) item.dataset.away = ''
  item.dataset.color = person.color
  item.title = `${shownName(person)}: ${details(person)}`
  const badge = document.createElement('span')
  badge.className = 'avatar'
  paintPersonColour(badge, person.color)
  badge.textContent = initials(person.name)
  badge.setAttribute('aria-hidden', 'true')
  const name = document.createElement('span')
  name.className = 'person-name'
  name.textContent = shownName(person)
  item.append(badge, name)
  if (person.away) item.append(textSpan('person-away', ' (away)'))
  item.append(textSpan('visually-hidden', `, ${details(person)}`))
  return item
}

function textSpan (className: string, text: string): HTMLSpanElement {
  const span = document.createElement('span')
  span.className = className
  span.textContent = text
  return span
}

/**
 * Makes `list` (the header's `<ul>`) show people; returns the function that
 * shows a new list of them. It adds after `list` the "+N" button
 * (`data-testid="people-more"`) and the popover it opens with everyone
 * (`data-testid="people-all"`, items `data-testid="person-entry"`). The
 * header keeps the items `data-testid="person"` of everyone and hides those
 * that do not fit, again whenever the header changes size.
 */
export function peopleList (list: HTMLUListElement): (people: readonly Person[]) => void {
  const all = document.createElement('div')
  all.id = 'people-all'
  all.className = 'people-all'
  all.dataset.testid = 'people-all'
  all.setAttribute('popover', '')
  const heading = document.createElement('h2')
  heading.id = 'people-all-heading'
  all.setAttribute('aria-labelledby', heading.id)
  const allList = document.createElement('ul')
  all.append(heading, allList)

  const more = document.createElement('button')
  more.type = 'button'
  more.className = 'people-more'
  more.dataset.testid = 'people-more'
  more.setAttribute('popovertarget', all.id)
  more.hidden = true
  list.after(more, all)
  // Opens under the button, inside the window.
  all.addEventListener('toggle', () => {
    const button = more.getBoundingClientRect()
    all.style.top = `${button.bottom + 6}px`
    all.style.right = `${Math.max(8, document.documentElement.clientWidth - button.right)}px`
  })

  /** Shows every header item, then hides from the end those that stick out, counting them on the button. */
  const fit = (): void => {
    const items = [...list.children] as HTMLElement[]
    for (const item of items) item.hidden = false
    let hidden = 0
    more.hidden = true
    while (list.scrollWidth > list.clientWidth + 0.5 && hidden < items.length) {
      hidden++
      items[items.length - hidden].hidden = true
      more.hidden = false
      more.textContent = `+${hidden}`
    }
    more.setAttribute('aria-label', `Everyone here (${hidden} more)`)
  }
  // Room changes with the window and with what else the header shows (connection, save state).
  const resized = new ResizeObserver(fit)
  resized.observe(list)
  if (list.parentElement) resized.observe(list.parentElement)

  return (people) => {
    list.replaceChildren(...people.map((person) => personItem(person, 'person')))
    const count = people.length === 1 ? 'Only you are here' : `${people.length} people here`
    list.setAttribute('aria-label', count)
    heading.textContent = count
    allList.replaceChildren(...people.map((person) => personItem(person, 'person-entry')))
    fit()
  }
}
