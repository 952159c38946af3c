/**
 * Find and replace: CodeMirror's search state and commands behind a panel
 * of the page's own look, which counts the matches ("3 of 12") and finds
 * as you type. In a read-only editor it finds but offers no replacing.
 */
import { EditorSelection, type EditorState, type Extension } from '@codemirror/state'
import { EditorView, keymap, runScopeHandlers, type Command, type Panel, type ViewUpdate } from '@codemirror/view'
import {
  SearchQuery, closeSearchPanel, findNext, findPrevious, getSearchQuery, openSearchPanel, replaceAll, replaceNext,
  search, searchKeymap, setSearchQuery
} from '@codemirror/search'
import { icon } from '../ui/icon.js'
import './find-panel.css'

/** Matches counted at most; beyond, the count says "10000+". */
const countLimit = 10_000

/** Where the matches of `query` are and which of them the main selection covers (-1 for none), up to `countLimit` of them. */
function countMatches (state: EditorState, query: SearchQuery): { total: number, current: number } {
  const { from, to } = state.selection.main
  let total = 0
  let current = -1
  const cursor = query.getCursor(state)
  for (let match = cursor.next(); !match.done && total < countLimit; match = cursor.next()) {
    if (match.value.from === from && match.value.to === to) current = total
    total++
  }
  return { total, current }
}

/**
 * What the match count says: "3 of 12" with a match selected, "12 matches"
 * without, "No matches", "Invalid pattern" for a regular expression that
 * does not compile, nothing for an empty query.
 */
export function matchCountLabel (state: EditorState, query: SearchQuery): string {
  if (query.search === '') return ''
  if (!query.valid) return 'Invalid pattern'
  const { total, current } = countMatches(state, query)
  const shown = total >= countLimit ? `${countLimit}+` : String(total)
  if (total === 0) return 'No matches'
  if (current >= 0) return `${current + 1} of ${shown}`
  return total === 1 ? '1 match' : `${shown} matches`
}

/** The first match of `query` at or after `pos`, or else the first one at all. */
function matchFrom (state: EditorState, query: SearchQuery, pos: number): { from: number, to: number } | null {
  const after = query.getCursor(state, pos).next()
  if (!after.done) return after.value
  const first = query.getCursor(state).next()
  return first.done ? null : first.value
}

/** An element with attributes and children. */
function element<K extends keyof HTMLElementTagNameMap> (tag: K, attributes: Record<string, string>, ...children: Array<Node | string>): HTMLElementTagNameMap[K] {
  const made = document.createElement(tag)
  for (const [name, value] of Object.entries(attributes)) made.setAttribute(name, value)
  made.append(...children)
  return made
}

/** The panel: a find row (field with count, previous, next, options, close) and a replace row. */
class FindPanel implements Panel {
  readonly dom: HTMLElement
  readonly top = true
  private query: SearchQuery
  private readonly searchField: HTMLInputElement
  private readonly replaceField: HTMLInputElement
  private readonly replaceRow: HTMLElement
  private readonly count: HTMLElement
  private readonly options: Record<'caseSensitive' | 'wholeWord' | 'regexp', HTMLButtonElement>

  constructor (private readonly view: EditorView) {
    this.query = getSearchQuery(view.state)
    this.searchField = element('input', {
      type: 'search', name: 'search', placeholder: 'Find', 'aria-label': 'Find', 'main-field': 'true',
      autocomplete: 'off', spellcheck: 'false', enterkeyhint: 'search'
    })
    this.replaceField = element('input', {
      type: 'text', name: 'replace', placeholder: 'Replace with', 'aria-label': 'Replace with',
      autocomplete: 'off', spellcheck: 'false', enterkeyhint: 'done'
    })
    this.count = element('span', { class: 'cm-find-count', 'data-testid': 'find-count', role: 'status', 'aria-live': 'polite' })
    const option = (label: string, text: string): HTMLButtonElement =>
      element('button', { type: 'button', class: 'cm-find-option', 'aria-pressed': 'false', 'aria-label': label, title: label }, text)
    this.options = {
      caseSensitive: option('Match case', 'Aa'),
      wholeWord: option('Whole words', 'W'),
      regexp: option('Regular expression', '.*')
    }
    const action = (name: string, label: string, key: string | null, content: Node | string, run: Command): HTMLButtonElement => {
      const button = element('button', { type: 'button', name, 'aria-label': label, title: key === null ? label : `${label} (${key})` }, content)
      button.addEventListener('click', () => run(view))
      return button
    }
    this.replaceRow = element('div', { class: 'cm-find-row cm-find-replace' },
      this.replaceField,
      action('replaceNext', 'Replace this match', 'Enter', 'Replace', replaceNext),
      action('replaceAll', 'Replace all matches', null, 'All', replaceAll)
    )
    this.dom = element('div', { class: 'cm-find', role: 'search', 'aria-label': 'Find and replace' },
      element('div', { class: 'cm-find-row' },
        element('div', { class: 'cm-find-field' }, this.searchField, this.count),
        action('prev', 'Previous match', 'Shift+Enter', icon('M6 15l6-6 6 6'), findPrevious),
        action('next', 'Next match', 'Enter', icon('M6 9l6 6 6-6'), findNext),
        element('div', { class: 'cm-find-options' }, this.options.caseSensitive, this.options.wholeWord, this.options.regexp),
        action('close', 'Close', 'Escape', icon('M6 6l12 12M18 6L6 18'), closeSearchPanel)
      ),
      this.replaceRow
    )
    this.searchField.addEventListener('input', () => this.commit(true))
    this.replaceField.addEventListener('input', () => this.commit(false))
    for (const button of Object.values(this.options)) {
      button.addEventListener('click', () => {
        button.setAttribute('aria-pressed', String(button.getAttribute('aria-pressed') !== 'true'))
        this.commit(true)
      })
    }
    this.dom.addEventListener('keydown', (event) => this.keydown(event))
    this.show(this.query)
    this.showReadOnly(view.state)
  }

  mount (): void {
    this.searchField.select()
  }

  update (update: ViewUpdate): void {
    const query = getSearchQuery(update.state)
    if (!query.eq(this.query)) this.show(query)
    else if (update.docChanged || update.selectionSet) this.count.textContent = matchCountLabel(update.state, query)
    if (update.state.readOnly !== update.startState.readOnly) this.showReadOnly(update.state)
  }

  /** Shows `query` in the fields and its matches in the count. */
  private show (query: SearchQuery): void {
    this.query = query
    if (this.searchField.value !== query.search) this.searchField.value = query.search
    if (this.replaceField.value !== query.replace) this.replaceField.value = query.replace
    this.options.caseSensitive.setAttribute('aria-pressed', String(query.caseSensitive))
    this.options.wholeWord.setAttribute('aria-pressed', String(query.wholeWord))
    this.options.regexp.setAttribute('aria-pressed', String(query.regexp))
    this.count.textContent = matchCountLabel(this.view.state, query)
  }

  private showReadOnly (state: EditorState): void {
    this.replaceRow.hidden = state.readOnly
  }

  /** Makes the fields the search query; with `seek`, selects the first match from the selection on, as a browser's find does. */
  private commit (seek: boolean): void {
    const pressed = (button: HTMLButtonElement): boolean => button.getAttribute('aria-pressed') === 'true'
    const query = new SearchQuery({
      search: this.searchField.value,
      replace: this.replaceField.value,
      caseSensitive: pressed(this.options.caseSensitive),
      wholeWord: pressed(this.options.wholeWord),
      regexp: pressed(this.options.regexp)
    })
    if (query.eq(this.query)) return
    const { state } = this.view
    const match = seek && query.valid ? matchFrom(state, query, state.selection.main.from) : null
    this.view.dispatch({
      effects: [setSearchQuery.of(query), ...match ? [EditorView.scrollIntoView(match.from, { y: 'center' })] : []],
      selection: match ? EditorSelection.single(match.from, match.to) : undefined,
      userEvent: match ? 'select.search' : undefined
    })
  }

  private keydown (event: KeyboardEvent): void {
    if (runScopeHandlers(this.view, event, 'search-panel')) {
      event.preventDefault()
    } else if (event.key === 'Enter' && event.target === this.searchField) {
      event.preventDefault()
      ;(event.shiftKey ? findPrevious : findNext)(this.view)
    } else if (event.key === 'Enter' && event.target === this.replaceField) {
      event.preventDefault()
      replaceNext(this.view)
    }
  }
}

/**
 * Opens the find panel (if closed) with the cursor in its replace field,
 * or in its find field when the editor is read-only.
 */
export const openReplacePanel: Command = (view) => {
  openSearchPanel(view)
  const field = view.dom.querySelector<HTMLInputElement>(`.cm-find input[name="${view.state.readOnly ? 'search' : 'replace'}"]`)
  field?.focus()
  field?.select()
  return true
}

/**
 * Search for the editor: the panel above the text, opened by Mod-f (find)
 * and Ctrl-h or, on a Mac, Cmd-Alt-f (replace); Enter and Shift-Enter step
 * through matches, F3 and Mod-g too, Escape closes. Also works read-only.
 */
export function findPanel (): Extension {
  return [
    search({ top: true, createPanel: (view) => new FindPanel(view) }),
    keymap.of([
      { key: 'Ctrl-h', mac: 'Cmd-Alt-f', run: openReplacePanel, scope: 'editor search-panel', preventDefault: true },
      ...searchKeymap
    ])
  ]
}
