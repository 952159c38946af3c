/**
 * What the page says when it cannot open the document, or can no longer
 * keep it open.
 */
import type { AccessProblem } from '../collab/access.js'

/** The explanation of each problem, and what to do about it. */
const explanations: Record<AccessProblem, string> = {
  'no-link': 'This document needs a link with access. Ask its owner for one.',
  'link-expired': 'Your link has expired; ask for a new one.',
  'link-invalid': 'This link does not work; ask for a new one.',
  'other-document': 'Your link opens another document. Ask the owner of this one for a link to it.'
}

/** Few words on each problem, for the connection indicator. */
export const accessProblemLabels: Record<AccessProblem, string> = {
  'no-link': 'no access',
  'link-expired': 'link expired',
  'link-invalid': 'link not valid',
  'other-document': 'no access'
}

/**
 * Shows why the page cannot open the document in `notice`. With `blocking`
 * (nothing of the document is shown) it fills the page; otherwise it is a
 * banner above the document.
 */
export function showAccessProblem (notice: HTMLElement, problem: AccessProblem, blocking: boolean): void {
  notice.textContent = explanations[problem]
  notice.dataset.problem = problem
  notice.classList.toggle('blocking', blocking)
  notice.hidden = false
}
