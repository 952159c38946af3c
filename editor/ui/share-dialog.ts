/**
 * The dialogs that hand out links to the document: an edit link and a
 * view-only link made for it, or, where the page cannot make links, its
 * address without the page's own access.
 */
import type { ShareLinks } from '../collab/share-links.js'
import { copyOnClick } from './share-button.js'

/**
 * Opens `dialog` (an empty `<dialog>`) as a modal that says it is making
 * links, then shows the two links from `links`, each with a copy button,
 * and when they stop working, or why no links could be made.
 */
export function showShareDialog (dialog: HTMLDialogElement, links: Promise<ShareLinks>): void {
  const body = openDialog(dialog, 'Share this document')
  body.textContent = 'Making links…'
  links.then((made) => {
    const expiry = document.createElement('p')
    expiry.className = 'hint'
    expiry.dataset.testid = 'share-expiry'
    expiry.textContent = `Anyone with a link can open the document until ${made.expiresAt.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' })}.`
    body.replaceChildren(
      linkRow('Can edit', 'share-edit', made.edit),
      linkRow('Can only view', 'share-view', made.view),
      expiry
    )
  }, (err: unknown) => {
    body.replaceChildren(problem(`No links could be made: ${(err as Error).message}`))
  })
}

/**
 * Opens `dialog` (an empty `<dialog>`) as a modal that shows `address`, the
 * document's address without any access token, with a button that copies
 * it, and says why it carries no access: the page's own link is its
 * holder's, and may open more than this document, last longer than a link
 * made to share, or set its holder's name.
 */
export function showAddressDialog (dialog: HTMLDialogElement, address: string): void {
  const body = openDialog(dialog, 'Link to this document')
  const why = document.createElement('p')
  why.className = 'hint'
  why.dataset.testid = 'share-address-hint'
  why.textContent = 'This link does not carry your access: your own link is yours alone. ' +
    'Others need their own link to open the document; ask its owner for one.'
  body.replaceChildren(linkRow('Address', 'share-address', address), why)
}

/** Fills `dialog` with `title`, an empty body (returned) and a Done button, and opens it as a modal. */
function openDialog (dialog: HTMLDialogElement, title: string): HTMLElement {
  const heading = document.createElement('h2')
  heading.textContent = title
  const body = document.createElement('div')
  body.className = 'share-body'
  const done = document.createElement('button')
  done.type = 'button'
  done.className = 'primary'
  done.textContent = 'Done'
  done.addEventListener('click', () => dialog.close())
  const buttons = document.createElement('div')
  buttons.className = 'dialog-buttons'
  buttons.append(done)
  dialog.replaceChildren(heading, body, buttons)
  dialog.showModal()
  return body
}

/** A labelled read-only field holding `url`, and a button that copies it; test ids `<testId>-link` and `<testId>-copy`. */
function linkRow (title: string, testId: string, url: string): HTMLElement {
  const label = document.createElement('label')
  label.className = 'share-link'
  const caption = document.createElement('span')
  caption.textContent = title
  const field = document.createElement('input')
  field.readOnly = true
  field.value = url
  field.dataset.testid = `${testId}-link`
  field.addEventListener('focus', () => field.select())
  const copy = document.createElement('button')
  copy.type = 'button'
  copy.textContent = 'Copy'
  copy.dataset.testid = `${testId}-copy`
  copyOnClick(copy, () => url)
  const row = document.createElement('span')
  row.className = 'share-row'
  row.append(field, copy)
  label.append(caption, row)
  return label
}

function problem (text: string): HTMLElement {
  const paragraph = document.createElement('p')
  paragraph.className = 'share-problem'
  paragraph.setAttribute('role', 'alert')
  paragraph.textContent = text
  return paragraph
}
