/**
 * The editor page: the document named by the URL (a new one for `/`),
 * opened with the access its link grants, synced through the relay, with
 * its people, connection and save state.
 */
import * as Y from 'yjs'
import { Compartment, EditorState } from '@codemirror/state'
import { EditorView } from '@codemirror/view'
import { documentNameFromPath, documentPath, newDocumentName } from './collab/document-name.js'
import { openDocument, relayUrl } from './collab/connection.js'
import { keepAccess, resolveAccess, tokenQueryParam, type AccessProblem } from './collab/access.js'
import { VersionsClient } from './collab/versions.js'
import { restoreText } from './collab/restore.js'
import { loadIdentity, onIdentityStored, personId, randomIdentity, saveIdentity, type Identity } from './collab/identity.js'
import { keepColourDistinct, publishIdentity, reappearOnReconnect, watchPeople } from './collab/presence.js'
import { watchConnection, type ConnectionState } from './collab/status.js'
import { retryOnReturn } from './collab/reconnect.js'
import { trackSaved, type SaveState } from './collab/saved.js'
import { addressWithoutAccess, requestShareLinks } from './collab/share-links.js'
import { watchRefusal } from './collab/refusal.js'
import { editing } from './extensions/editing.js'
import { collaboration } from './extensions/collaboration.js'
import { appearance } from './extensions/appearance.js'
import { cursorLabels } from './extensions/cursor-labels.js'
import { viewOnly } from './extensions/view-only.js'
import { connectionBadge } from './ui/connection-badge.js'
import { savedBadge } from './ui/saved-badge.js'
import { refusalLabels, showRefusal } from './ui/refusal-notice.js'
import { peopleList } from './ui/people-list.js'
import { askIdentity } from './ui/name-dialog.js'
import { copyOnClick } from './ui/share-button.js'
import { showAddressDialog, showShareDialog } from './ui/share-dialog.js'
import { accessProblemLabels, showAccessProblem } from './ui/access-notice.js'
import { openByName } from './ui/open-form.js'
import { warnBeforeLeaving } from './ui/unload-guard.js'
import { historyPanel } from './ui/history-panel.js'

/** The page element marked `data-testid="<testId>"`; the page is broken without it. */
function element<T extends HTMLElement = HTMLElement> (testId: string): T {
  const found = document.querySelector<T>(`[data-testid="${testId}"]`)
  if (!found) throw new Error(`the page lacks [data-testid="${testId}"]`)
  return found
}

/** The document this page shows; on `/`, a new one, whose path replaces `/` in the address bar. */
function documentName (): string {
  const named = documentNameFromPath(location.pathname)
  if (named !== null) return named
  const name = newDocumentName()
  history.replaceState(null, '', documentPath(name))
  return name
}

/** Shows only why the document cannot be opened; nothing connects. */
function refuse (problem: AccessProblem): void {
  for (const part of ['share', 'history', 'status', 'saved', 'people', 'name-button', 'editor']) element(part).hidden = true
  showAccessProblem(element('access-notice'), problem, true)
}

async function start (): Promise<void> {
  const name = documentName()
  document.title = `${name} · coedit`
  element('doc-name').textContent = name
  element('doc-name').title = name
  openByName(element<HTMLFormElement>('open-form'), element('open-error'))

  const access = await resolveAccess(name, new URL(location.href))
  // Opening another document by name needs a link to it once access control is on.
  if (access.kind !== 'open') element('footer').hidden = true
  if (access.kind === 'denied') {
    refuse(access.problem)
    return
  }
  const link = access.kind === 'link' ? access : null
  const readOnly = link?.permission === 'read'
  const { doc, text, provider, awareness, outgoing } = openDocument(name, relayUrl(location), { token: link?.token ?? null, wantsSaved: !readOnly })

  // A name set by the link is shown and published, but never stored: it belongs to the link.
  const fixedName = link?.name ?? null
  const kept = loadIdentity(localStorage)
  let own: Identity = kept ?? randomIdentity()
  const person = personId(localStorage)
  const publish = (): void => publishIdentity(awareness, fixedName === null ? own : { ...own, name: fixedName }, person)
  keepColourDistinct(awareness)
  const useIdentity = (chosen: Identity): void => {
    own = fixedName === null ? chosen : { ...own, color: chosen.color }
    saveIdentity(localStorage, own)
    publish()
  }
  if (fixedName === null) useIdentity(own)
  else publish()
  // Chosen in another tab: this one shows it too (it is already stored).
  onIdentityStored(window, localStorage, (chosen) => {
    own = fixedName === null ? chosen : { ...own, color: chosen.color }
    publish()
  })

  const undoManager = new Y.UndoManager(text)
  const editable = new Compartment()
  const view = new EditorView({
    parent: element('editor'),
    state: EditorState.create({
      doc: text.toString(),
      extensions: [
        collaboration(text, awareness, undoManager),
        editing(readOnly ? 'This document is empty.' : 'Start writing… Markdown works here, and everyone with the link edits along.'),
        appearance(),
        cursorLabels(awareness),
        // Tab indents; the hint says how to leave the text by keyboard (Escape, then Tab).
        EditorView.contentAttributes.of({ 'aria-describedby': 'editor-keys-hint' }),
        editable.of(readOnly ? viewOnly() : [])
      ]
    })
  })

  let connection: ConnectionState = { kind: 'connecting' }
  let saveState: SaveState = 'saved'
  // Until the first sync nothing is known to be stored: the badge says so instead of "Saved".
  let loaded = false
  // Why the page stopped connecting for good, in few words; null while it keeps connecting.
  let stopped: string | null = null
  const showSaveState = savedBadge(element('saved'))
  const showConnection = connectionBadge(element('status'), element<HTMLButtonElement>('retry'), () => provider.retryNow())
  const showStatus = (): void => {
    showConnection(stopped === null ? connection : { kind: 'closed', reason: stopped })
    // Nothing more will be stored: what is not confirmed now never will be.
    if (!readOnly) showSaveState(stopped !== null && saveState === 'saving' ? 'unsaved' : !loaded && saveState === 'saved' ? 'loading' : saveState)
  }
  /** Stops editing for good, saying why in `label`; the text stays visible. */
  const stop = (label: string): void => {
    stopped = label
    showStatus()
    view.dispatch({ effects: editable.reconfigure(viewOnly()) })
  }
  watchConnection(provider, (state) => {
    connection = state
    showStatus()
  })
  provider.on('sync', (synced: boolean) => {
    if (!synced || loaded) return
    loaded = true
    showStatus()
  })
  if (readOnly) {
    element('saved').hidden = true
    element('view-only').hidden = false
  } else {
    trackSaved(doc, provider, outgoing, (state) => {
      saveState = state
      showStatus()
    })
  }
  watchPeople(awareness, peopleList(element<HTMLUListElement>('people')))
  reappearOnReconnect(provider)
  watchRefusal(provider, (refusal) => {
    showRefusal(element('refusal-notice'), refusal, () => text.toString())
    stop(refusalLabels[refusal])
  })
  if (link) {
    keepAccess(provider, link, (problem: AccessProblem) => {
      showAccessProblem(element('access-notice'), problem, false)
      element('share').hidden = true
      stop(accessProblemLabels[problem])
    })
  }
  retryOnReturn(provider, window)
  provider.connect()

  /** Asks for the name and colour, then puts the focus on `returnTo`, or in the text. */
  const editIdentity = async (title: string, cancel: string, returnTo?: HTMLElement): Promise<void> => {
    const current = fixedName === null ? own : { ...own, name: fixedName }
    const chosen = await askIdentity(element<HTMLDialogElement>('name-dialog'), current, { title, cancel }, fixedName !== null)
    if (chosen) useIdentity(chosen)
    if (returnTo) returnTo.focus()
    else view.focus()
  }
  if (fixedName !== null) {
    const button = element('name-button')
    button.title = 'Change your colour'
    button.setAttribute('aria-label', 'Change your colour')
    const label = button.querySelector('.rename-label')
    if (label) label.textContent = ' Your colour'
  }
  element('name-button').addEventListener('click', () => {
    void editIdentity(fixedName === null ? 'Your name' : 'Your colour', 'Cancel', element('name-button'))
  })

  const share = element<HTMLButtonElement>('share')
  if (link?.permission === 'write' && link.canMint) {
    share.textContent = 'Share'
    share.title = 'Make a link to edit and a link to view this document'
    share.addEventListener('click', () => {
      showShareDialog(element<HTMLDialogElement>('share-dialog'), requestShareLinks(location.origin, name, link.link))
    })
  } else if (link) {
    // The page's own token is its holder's: it may open more than this document, or set their name.
    share.title = "Copy this document's address, without your access"
    share.addEventListener('click', () => {
      showAddressDialog(element<HTMLDialogElement>('share-dialog'), addressWithoutAccess(location.href))
    })
  } else {
    copyOnClick(share, () => addressWithoutAccess(location.href))
  }
  warnBeforeLeaving(() => saveState === 'saving')

  historyPanel(element('history-panel'), element<HTMLButtonElement>('history'), {
    // The token the page connects with now (a session token is renewed as it runs out).
    versions: new VersionsClient(location.origin, name, () => provider.params[tokenQueryParam] ?? null),
    currentText: () => text.toString(),
    canWrite: !readOnly,
    restore: (version) => {
      if (stopped === null) restoreText(view, undoManager, version)
    }
  })

  // The name is asked for once; closing the dialog keeps the random one, already stored.
  if (kept === null && fixedName === null) void editIdentity('Welcome! What should others call you?', 'Keep this name')
  else view.focus()
}

void start()
