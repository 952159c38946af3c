/**
 * The formatting toolbar: one row of icon buttons above the text for
 * Markdown formatting, undo, redo and search, so a phone without a
 * keyboard can do what the keys do. Each button runs the same command as
 * its key, so it is one undo step.
 */
import type * as Y from 'yjs'
import type { Extension, StateCommand } from '@codemirror/state'
import { EditorView, ViewPlugin, type ViewUpdate } from '@codemirror/view'
import { openSearchPanel } from '@codemirror/search'
import {
  cycleHeading, insertLink, toggleBold, toggleBulletList, toggleCode, toggleItalic, toggleNumberedList, toggleQuote
} from '../extensions/markdown-commands.js'
import { icon } from './icon.js'
import './toolbar.css'

/** One button: its name, its key as CodeMirror writes it (if any), its icon's SVG path, and what it does. */
interface ToolbarButton {
  readonly label: string
  readonly key: string | null
  readonly macKey?: string
  readonly icon: string
  /** Whether it changes the text, and so disappears in a read-only editor. */
  readonly edits: boolean
  readonly run: (view: EditorView) => void
}

/** Runs a formatting command and gives the text the focus back, for typing on. */
function format (command: StateCommand): (view: EditorView) => void {
  return (view) => {
    command(view)
    view.focus()
  }
}

/**
 * The buttons, in order: the formatting ones (`null` is a gap between
 * groups), which may scroll sideways on a narrow screen, and the tools,
 * which stay in view.
 */
function buttons (undoManager: Y.UndoManager): { formatting: Array<ToolbarButton | null>, tools: ToolbarButton[] } {
  const formatting: Array<ToolbarButton | null> = [
    { label: 'Bold', key: 'Mod-b', icon: 'M7 5h6a3.5 3.5 0 0 1 0 7H7zM7 12h7a3.5 3.5 0 0 1 0 7H7z', edits: true, run: format(toggleBold) },
    { label: 'Italic', key: 'Mod-i', icon: 'M10 5h8M6 19h8M14 5l-4 14', edits: true, run: format(toggleItalic) },
    { label: 'Heading', key: null, icon: 'M6 5v14M17 5v14M6 12h11', edits: true, run: format(cycleHeading) },
    { label: 'Link', key: 'Mod-k', icon: 'M10 14a4 4 0 0 0 5.7 0l3-3a4 4 0 0 0-5.7-5.7l-1 1M14 10a4 4 0 0 0-5.7 0l-3 3a4 4 0 0 0 5.7 5.7l1-1', edits: true, run: format(insertLink) },
    null,
    { label: 'Bulleted list', key: null, icon: 'M10 6h10M10 12h10M10 18h10M4.5 6h.01M4.5 12h.01M4.5 18h.01', edits: true, run: format(toggleBulletList) },
    { label: 'Numbered list', key: null, icon: 'M11 6h9M11 12h9M11 18h9M4 4.5h1.5V9M4 9h3M4 14.5a1.5 1.5 0 0 1 3 .5L4 19h3', edits: true, run: format(toggleNumberedList) },
    { label: 'Quote', key: null, icon: 'M5 18c2-1 3-3 3-5.5V7H4v5h4M14 18c2-1 3-3 3-5.5V7h-4v5h4', edits: true, run: format(toggleQuote) },
    { label: 'Code', key: null, icon: 'M8 7l-5 5 5 5M16 7l5 5-5 5', edits: true, run: format(toggleCode) }
  ]
  const tools: ToolbarButton[] = [
    { label: 'Undo', key: 'Mod-z', icon: 'M9 14L4 9l5-5M4 9h10.5a5.5 5.5 0 0 1 0 11H11', edits: true, run: () => { undoManager.undo() } },
    { label: 'Redo', key: 'Mod-y', macKey: 'Mod-Shift-z', icon: 'M15 14l5-5-5-5M20 9H9.5a5.5 5.5 0 0 0 0 11H13', edits: true, run: () => { undoManager.redo() } },
    { label: 'Search', key: 'Mod-f', icon: 'M11 18a7 7 0 1 0 0-14 7 7 0 0 0 0 14zM20 20l-4-4', edits: false, run: (view) => { openSearchPanel(view) } }
  ]
  return { formatting, tools }
}

/** Whether the page runs on an Apple system, whose Mod key is Cmd. */
function onMac (): boolean {
  return /Mac|iPhone|iPad|iPod/.test(navigator.platform || navigator.userAgent)
}

/** `key` (`Mod-Shift-z`) as the tooltip shows it: `Ctrl+Shift+Z`, or `⇧⌘Z` on a Mac. */
function shortcutLabel (key: string, mac: boolean): string {
  const parts = key.split('-')
  const last = parts.pop()!.toUpperCase()
  if (mac) {
    const symbols: Record<string, string> = { Ctrl: '⌃', Alt: '⌥', Shift: '⇧', Mod: '⌘', Cmd: '⌘' }
    return ['Ctrl', 'Alt', 'Shift', 'Mod', 'Cmd'].filter((part) => parts.includes(part)).map((part) => symbols[part]).join('') + last
  }
  return [...parts.map((part) => part === 'Mod' ? 'Ctrl' : part), last].join('+')
}

/** `key` as `aria-keyshortcuts` writes it: `Control+Shift+Z`, `Meta+Z`. */
function ariaShortcut (key: string, mac: boolean): string {
  const names: Record<string, string> = { Mod: mac ? 'Meta' : 'Control', Ctrl: 'Control', Cmd: 'Meta', Alt: 'Alt', Shift: 'Shift' }
  const parts = key.split('-')
  const last = parts.pop()!.toUpperCase()
  return [...parts.map((part) => names[part] ?? part), last].join('+')
}

/** Arrow keys, Home and End move the focus along the toolbar's usable buttons (Tab enters and leaves it at one button). */
function roveFocus (container: HTMLElement, event: KeyboardEvent): void {
  const steps: Record<string, number> = { ArrowLeft: -1, ArrowRight: 1 }
  if (steps[event.key] === undefined && event.key !== 'Home' && event.key !== 'End') return
  const visible = [...container.querySelectorAll<HTMLButtonElement>('button')].filter((button) => !button.hidden && !button.disabled)
  const at = visible.indexOf(document.activeElement as HTMLButtonElement)
  const wanted = event.key === 'Home' ? 0 : event.key === 'End' ? visible.length - 1 : at + steps[event.key]
  const next = visible[Math.max(0, Math.min(visible.length - 1, wanted))]
  if (!next) return
  event.preventDefault()
  for (const button of visible) button.tabIndex = button === next ? 0 : -1
  next.focus()
}

/**
 * Fills `container` (a `role="toolbar"` element outside the editor) with
 * the toolbar for the editor this extension joins, and keeps it in step:
 * in a read-only editor only Search shows; Undo and Redo are disabled
 * while `undoManager` (the editor's `Y.UndoManager`) has nothing to undo
 * or redo. Buttons keep the editor's focus and selection when clicked.
 */
export function toolbar (container: HTMLElement, undoManager: Y.UndoManager): Extension {
  return ViewPlugin.define((view) => {
    const mac = onMac()
    const make = (spec: ToolbarButton | null): { spec: ToolbarButton | null, element: HTMLElement } => {
      if (spec === null) return { spec, element: Object.assign(document.createElement('span'), { className: 'toolbar-gap' }) }
      const button = document.createElement('button')
      button.type = 'button'
      button.className = 'toolbar-button'
      button.tabIndex = -1
      button.setAttribute('aria-label', spec.label)
      const key = mac ? spec.macKey ?? spec.key : spec.key
      button.title = key === null ? spec.label : `${spec.label} (${shortcutLabel(key, mac)})`
      if (key !== null) button.setAttribute('aria-keyshortcuts', ariaShortcut(key, mac))
      button.append(icon(spec.icon))
      // A click must not take the focus, nor so the selection, from the text.
      button.addEventListener('mousedown', (event) => event.preventDefault())
      button.addEventListener('click', () => spec.run(view))
      return { spec, element: button }
    }
    const { formatting, tools } = buttons(undoManager)
    const formattingGroup = Object.assign(document.createElement('div'), { className: 'toolbar-formatting' })
    const toolsGroup = Object.assign(document.createElement('div'), { className: 'toolbar-tools' })
    const made = [...formatting.map(make), ...tools.map(make)]
    formattingGroup.append(...made.slice(0, formatting.length).map(({ element }) => element))
    toolsGroup.append(...made.slice(formatting.length).map(({ element }) => element))
    container.replaceChildren(formattingGroup, toolsGroup)
    const keydown = (event: KeyboardEvent): void => roveFocus(container, event)
    container.addEventListener('keydown', keydown)
    const undo = made.find(({ spec }) => spec?.label === 'Undo')!.element as HTMLButtonElement
    const redo = made.find(({ spec }) => spec?.label === 'Redo')!.element as HTMLButtonElement

    const showHistory = (): void => {
      undo.disabled = !undoManager.canUndo()
      redo.disabled = !undoManager.canRedo()
    }
    const showReadOnly = (readOnly: boolean): void => {
      formattingGroup.hidden = readOnly
      for (const { spec, element } of made) element.hidden = readOnly && (spec === null || spec.edits)
      const first = made.find(({ element }) => element instanceof HTMLButtonElement && !element.hidden)?.element
      for (const { element } of made) if (element instanceof HTMLButtonElement) element.tabIndex = element === first ? 0 : -1
    }
    showHistory()
    showReadOnly(view.state.readOnly)
    const events = ['stack-item-added', 'stack-item-popped', 'stack-cleared'] as const
    for (const event of events) undoManager.on(event, showHistory)
    return {
      update (update: ViewUpdate) {
        if (update.state.readOnly !== update.startState.readOnly) showReadOnly(update.state.readOnly)
      },
      destroy () {
        for (const event of events) undoManager.off(event, showHistory)
        container.removeEventListener('keydown', keydown)
        container.replaceChildren()
      }
    }
  })
}
