/**
 * The Share dialog: the sharer chooses what the link allows, "Can view"
 * (chosen first, the safer one) or "Can edit", and how long it works; the
 * dialog shows the link the relay made for that choice, says in capitals
 * what anyone holding it can do, and marks an edit link in a colour and
 * icon of its own. Someone who may only view the document can only make
 * view links. On a relay without access control it says so: the plain
 * address lets anyone edit there.
 */
import './share-dialog.css'
import type { Permission } from '../collab/access.js'
import { defaultShareExpirySeconds, linkFor, requestShareLinks, shareExpiries, type ShareLinks, type ShareRequest } from '../collab/share-links.js'
import { copyOnClick } from './share-button.js'

/** What the dialog needs to know about the page that shares. */
export interface ShareContext extends ShareRequest {
  /** Whether the sharer may edit; a reader can make view links only. */
  readonly canEdit: boolean
  /** Whether the relay runs with access control; without it, the plain address lets anyone edit. */
  readonly accessControl: boolean
}

/** What each permission's link is called, what it lets do, and the icon that marks it. */
const choices: Record<Permission, { readonly label: string, readonly statement: [string, string, string], readonly icon: string }> = {
  read: {
    label: 'Can view',
    statement: ['Anyone with this link can only ', 'VIEW', ' this document. They see every change but cannot make any.'],
    // An eye.
    icon: 'M1.5 12S5.5 5 12 5s10.5 7 10.5 7-4 7-10.5 7S1.5 12 1.5 12Zm10.5 3.5a3.5 3.5 0 1 0 0-7 3.5 3.5 0 0 0 0 7Z'
  },
  write: {
    label: 'Can edit',
    statement: ['Anyone with this link can ', 'EDIT', ' this document: change or delete any of its text.'],
    // A pencil.
    icon: 'M4 20h4L19.5 8.5a2.83 2.83 0 0 0-4-4L4 16v4Zm9.5-13.5 4 4'
  }
}

/**
 * Makes `button` open the Share dialog in `dialog` (an empty `<dialog>`) for
 * `context`, and gives the focus back to `button` when the dialog closes.
 */
export function shareOnClick (button: HTMLButtonElement, dialog: HTMLDialogElement, context: ShareContext): void {
  button.textContent = 'Share'
  button.title = context.canEdit ? 'Make a link to view or to edit this document' : 'Make a link to view this document'
  button.addEventListener('click', () => {
    showShareDialog(dialog, context)
    dialog.addEventListener('close', () => button.focus(), { once: true })
  })
}

/**
 * Opens `dialog` as a modal that makes a link to the document of `context`:
 * a view link until the sharer chooses "Can edit", expiring after the
 * chosen time (7 days until another is chosen).
 */
export function showShareDialog (dialog: HTMLDialogElement, context: ShareContext): void {
  let permission: Permission = 'read'
  let expirySeconds: number | null = defaultShareExpirySeconds
  let links: ShareLinks | null = null
  // Only the answer to the latest request is shown.
  let latest = 0

  const heading = document.createElement('h2')
  heading.textContent = 'Share this document'

  const choice = document.createElement('fieldset')
  choice.className = 'share-choice'
  const legend = document.createElement('legend')
  legend.textContent = 'People with the link'
  choice.append(legend)
  for (const option of context.canEdit ? ['read', 'write'] as const : ['read'] as const) {
    const label = document.createElement('label')
    label.dataset.permission = option
    const radio = document.createElement('input')
    radio.type = 'radio'
    radio.name = 'share-permission'
    radio.value = option
    radio.checked = option === permission
    radio.dataset.testid = option === 'read' ? 'share-choice-view' : 'share-choice-edit'
    radio.addEventListener('change', () => {
      permission = option
      show()
    })
    label.append(radio, icon(choices[option].icon), choices[option].label)
    choice.append(label)
  }

  const statement = document.createElement('p')
  statement.className = 'share-statement'
  statement.dataset.testid = 'share-statement'

  const field = document.createElement('input')
  field.readOnly = true
  field.dataset.testid = 'share-link'
  field.setAttribute('aria-label', 'Link')
  field.addEventListener('focus', () => field.select())
  const copy = document.createElement('button')
  copy.type = 'button'
  copy.dataset.testid = 'share-copy'
  copyOnClick(copy, () => field.value, undefined, () => permission === 'write' ? 'Copy edit link' : 'Copy view link')
  const row = document.createElement('div')
  row.className = 'share-row'
  row.append(field, copy)

  const expiry = document.createElement('label')
  expiry.className = 'share-expiry-choice'
  const select = document.createElement('select')
  select.dataset.testid = 'share-expiry-select'
  for (const { label, seconds } of shareExpiries) {
    const option = new Option(label, seconds === null ? 'never' : String(seconds), false, seconds === expirySeconds)
    select.append(option)
  }
  select.addEventListener('change', () => {
    expirySeconds = select.value === 'never' ? null : Number(select.value)
    make()
  })
  expiry.append('Link works for ', select)
  const until = document.createElement('p')
  until.className = 'hint share-until'
  until.dataset.testid = 'share-expiry'

  const parts: HTMLElement[] = [heading, choice, statement, row, expiry, until]
  if (!context.canEdit) parts.push(note('share-reader-note', 'Your own link lets you view only, so you can share view links only.'))
  if (!context.accessControl) {
    parts.push(note('share-open-note', 'This server runs without access control: the plain address of this document, without any link, lets anyone edit it. A view link keeps people from editing only while they do not know that address.'))
  }
  const problem = document.createElement('p')
  problem.className = 'share-problem'
  problem.setAttribute('role', 'alert')
  problem.hidden = true
  const done = document.createElement('button')
  done.type = 'button'
  done.className = 'primary'
  done.textContent = 'Done'
  done.addEventListener('click', () => dialog.close())
  const buttons = document.createElement('div')
  buttons.className = 'dialog-buttons'
  buttons.append(done)
  dialog.replaceChildren(...parts, problem, buttons)

  /** Shows the link of the chosen permission, or that it is being made. */
  function show (): void {
    dialog.dataset.permission = permission
    const [before, emphasis, after] = choices[permission].statement
    const strong = document.createElement('strong')
    strong.textContent = emphasis
    const words = document.createElement('span')
    words.append(before, strong, after)
    statement.replaceChildren(icon(choices[permission].icon), words)
    const link = links ? linkFor(links, permission) : null
    field.value = link ?? ''
    field.placeholder = links ? '' : 'Making the link…'
    copy.disabled = link === null
    delete copy.dataset.copied
    copy.textContent = permission === 'write' ? 'Copy edit link' : 'Copy view link'
    until.textContent = !links
      ? ''
      : links.expiresAt === null
        ? 'The link never expires.'
        : `The link works until ${links.expiresAt.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' })}${shortened(links.expiresAt) ? ', when your own link ends' : ''}.`
  }

  /** Whether the relay made the links end earlier than chosen: the sharer's own link ends first. */
  function shortened (expiresAt: Date): boolean {
    return expirySeconds === null || expiresAt.getTime() < Date.now() + expirySeconds * 1000 - 60_000
  }

  /** Asks the relay for links with the chosen expiry. */
  function make (): void {
    const request = ++latest
    links = null
    problem.hidden = true
    show()
    requestShareLinks(context, expirySeconds).then((made) => {
      if (request !== latest) return
      links = made
      show()
    }, (err: unknown) => {
      if (request !== latest) return
      problem.textContent = `No link could be made: ${(err as Error).message}`
      problem.hidden = false
    })
  }

  make()
  dialog.showModal()
}

/** A paragraph of `text` with test id `testId`, set apart from the link. */
function note (testId: string, text: string): HTMLElement {
  const paragraph = document.createElement('p')
  paragraph.className = `share-note ${testId}`
  paragraph.dataset.testid = testId
  paragraph.textContent = text
  return paragraph
}

/** A 24×24 stroked icon drawn by the SVG path `d`, hidden from screen readers (the words beside it say the same). */
function icon (d: string): SVGSVGElement {
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg')
  svg.setAttribute('viewBox', '0 0 24 24')
  svg.setAttribute('aria-hidden', 'true')
  svg.classList.add('share-icon')
  const path = document.createElementNS('http://www.w3.org/2000/svg', 'path')
  path.setAttribute('d', d)
  svg.append(path)
  return svg
}
