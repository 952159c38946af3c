/**
 * What the page says when the relay refuses the document for good: why,
 * that the last change is not stored, and what the person can do.
 */
import type { Refusal } from '../collab/refusal.js'
import { copyOnClick } from './share-button.js'

/** The explanation of each refusal. */
const explanations: Record<Refusal, string> = {
  'too-large': 'This document has reached its size limit; your last change was not saved. ' +
    'Your text is still shown here: copy it to keep it, or reload to see the document as it is stored.',
  'content-refused': 'This server does not accept that content; your last change was not saved. ' +
    'Your text is still shown here: copy it to keep it, or reload to see the document as it is stored.',
  unavailable: 'This document cannot be opened: its stored data is damaged. Ask the operator of this server. ' +
    'What is shown here is not saved; copy it to keep it.',
  deleted: 'This document was deleted. The operator of this server can restore it for a while; until then it cannot be opened. ' +
    'What is shown here is not saved; copy it to keep it.'
}

/** Few words on each refusal, for the connection indicator. */
export const refusalLabels: Record<Refusal, string> = {
  'too-large': 'size limit reached',
  'content-refused': 'content refused',
  unavailable: 'document unavailable',
  deleted: 'document deleted'
}

/**
 * Shows `refusal` in `notice` as a banner above the document, with a button
 * that copies `text()` (the text as this page holds it, unsaved changes
 * included) and one that reloads the page.
 */
export function showRefusal (notice: HTMLElement, refusal: Refusal, text: () => string): void {
  const message = document.createElement('p')
  message.textContent = explanations[refusal]
  const copy = document.createElement('button')
  copy.type = 'button'
  copy.textContent = 'Copy your text'
  copy.dataset.testid = 'refusal-copy'
  copyOnClick(copy, text, 'Copy your text:')
  const reload = document.createElement('button')
  reload.type = 'button'
  reload.textContent = 'Reload'
  reload.addEventListener('click', () => location.reload())
  const actions = document.createElement('span')
  actions.className = 'notice-actions'
  actions.append(copy, reload)
  notice.replaceChildren(message, actions)
  notice.dataset.refusal = refusal
  notice.hidden = false
}
