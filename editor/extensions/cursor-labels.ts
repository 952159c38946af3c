/**
 * When remote cursors show their names: for a moment after their person
 * types or moves, then they fold into a small flag (the pointer over a
 * cursor shows its name again). Names shown at once near each other on
 * one line are stacked instead of piled on top of each other.
 */
import type { Extension } from '@codemirror/state'
import { ViewPlugin, type EditorView } from '@codemirror/view'
import type { Awareness } from 'y-protocols/awareness'
import { cssRgb } from '../collab/colours.js'

/**
 * The person a cursor widget belongs to, as it draws them: colour and name.
 * The colour is compared as `rgb(…)`, which is how the browser may write
 * a `#rrggbb` back into the widget's style attribute.
 */
function widgetKey (color: string, name: string): string {
  return `${/^#[0-9a-f]{6}$/i.test(color) ? cssRgb(color) : color}\n${name}`
}

/** The highest level a label is lifted to; more overlapping labels share it. */
const maxStack = 3

/** Where a shown label sits, to stack those that would overlap. */
interface LabelBox {
  readonly caret: HTMLElement
  readonly top: number
  readonly left: number
  readonly right: number
  readonly height: number
}

/** What one measurement reads: the cursors drawn, where they and their labels are, and who is active now. */
interface Reading {
  readonly carets: HTMLElement[]
  readonly boxes: Map<HTMLElement, DOMRect>
  /** Top of the editor's visible area: a label lifted above it would be cut off. */
  readonly visibleTop: number
  readonly active: Set<string>
}

/**
 * Marks the remote cursors (y-codemirror.next's `.cm-ySelectionCaret`)
 * of people who moved or typed in the last `shownMs` (default 2.5 s)
 * with `data-active`, which shows their name, and sets `data-label-stack`
 * (1 to 3) on those whose names would overlap one shown before them on
 * the same line, which lifts them by that many label heights; where that
 * would lift a name out of sight, it goes below the line instead (-1 to -3). It never
 * touches their style attribute, which holds their colour (and which the
 * appearance rules match).
 */
export function cursorLabels (awareness: Awareness, shownMs = 2500): Extension {
  return ViewPlugin.define((view: EditorView) => {
    // Each person's last cursor, and until when their name shows.
    const seen = new Map<number, { cursor: string, until: number }>()
    let timer: ReturnType<typeof setTimeout> | undefined

    const measure = {
      key: 'coedit-cursor-labels',
      read: (): Reading => {
        const now = Date.now()
        const active = new Set<string>()
        for (const [clientId, { until }] of seen) {
          const user = awareness.getStates().get(clientId)?.user as { name?: unknown, color?: unknown } | undefined
          if (until > now && typeof user?.name === 'string' && typeof user.color === 'string') active.add(widgetKey(user.color, user.name))
        }
        const carets = [...view.contentDOM.querySelectorAll<HTMLElement>('.cm-ySelectionCaret')]
        const boxes = new Map<HTMLElement, DOMRect>()
        for (const caret of carets) {
          const label = caret.querySelector<HTMLElement>('.cm-ySelectionInfo')
          const at = caret.getBoundingClientRect()
          if (label) boxes.set(caret, new DOMRect(at.left, at.top, label.offsetWidth, label.offsetHeight))
        }
        return { carets, boxes, active, visibleTop: view.scrollDOM.getBoundingClientRect().top }
      },
      write: ({ carets, boxes, active, visibleTop }: Reading): void => {
        const shown: LabelBox[] = []
        for (const caret of carets) {
          const color = /background-color:\s*([^;]+)/.exec(caret.getAttribute('style') ?? '')?.[1].trim() ?? ''
          const name = caret.querySelector('.cm-ySelectionInfo')?.textContent ?? ''
          const isActive = active.has(widgetKey(color, name))
          caret.toggleAttribute('data-active', isActive)
          const box = boxes.get(caret)
          if (!isActive || !box) {
            caret.removeAttribute('data-label-stack')
            continue
          }
          shown.push({ caret, top: box.top, left: box.left, right: box.left + box.width, height: box.height })
        }
        // Left to right on each line, each label takes the lowest level free of overlaps.
        shown.sort((a, b) => a.top - b.top || a.left - b.left)
        const levels = new Map<LabelBox, number>()
        // A label that would rise out of sight (names on the first line, say) goes below the line instead.
        for (const label of shown) {
          const taken = new Set(shown.filter((other) => levels.has(other) && Math.abs(other.top - label.top) < 2 && other.right + 4 > label.left).map((other) => levels.get(other)))
          let level = 0
          while (taken.has(level)) level++
          if (level > 0 && label.top - (Math.min(level, maxStack) + 1) * (label.height + 2) < visibleTop) {
            level = -1
            while (taken.has(level)) level--
          }
          levels.set(label, level)
          if (level === 0) label.caret.removeAttribute('data-label-stack')
          else label.caret.setAttribute('data-label-stack', String(Math.sign(level) * Math.min(Math.abs(level), maxStack)))
        }
      }
    }

    /** Redraws the marks now, and again when the next shown name is due to fold. */
    const schedule = (): void => {
      clearTimeout(timer)
      const now = Date.now()
      const next = Math.min(...[...seen.values()].map(({ until }) => until).filter((until) => until > now))
      if (Number.isFinite(next)) timer = setTimeout(schedule, next - now + 20)
      view.requestMeasure(measure)
    }

    const onChange = ({ added, updated, removed }: { added: number[], updated: number[], removed: number[] }): void => {
      const now = Date.now()
      for (const clientId of removed) seen.delete(clientId)
      for (const clientId of [...added, ...updated]) {
        if (clientId === awareness.clientID) continue
        const cursor = JSON.stringify(awareness.getStates().get(clientId)?.cursor ?? null)
        const before = seen.get(clientId)
        if (before?.cursor !== cursor) seen.set(clientId, { cursor, until: cursor === 'null' ? 0 : now + shownMs })
      }
      schedule()
    }
    awareness.on('change', onChange)
    return {
      // The editor redraws cursors when the text or layout changes; their marks go with them.
      update: () => view.requestMeasure(measure),
      destroy: () => {
        clearTimeout(timer)
        awareness.off('change', onChange)
      }
    }
  })
}
