/**
 * The editor page: the document named by the URL, opened with the access
 * its link grants, synced through the relay, with its people, connection
 * and save state; at `/`, the documents opened on this device.
 */
import * as Y from 'yjs'
import { Compartment, EditorState } from '@codemirror/state'
import { EditorView } from '@codemirror/view'
import { documentNameFromPath } from './collab/document-name.js'
import { openDocument, relayUrl } from './collab/connection.js'
import { keepAccess, readClaims, resolveAccess, tokenQueryParam, type AccessProblem } from './collab/access.js'
import { VersionsClient } from './collab/versions.js'
import { restoreText } from './collab/restore.js'
import { loadIdentity, onIdentityStored, personId, randomIdentity, saveIdentity, type Identity } from './collab/identity.js'
import { keepColourDistinct, publishIdentity, reappearOnReconnect, watchPeople } from './collab/presence.js'
import { watchConnection, type ConnectionState } from './collab/status.js'
import { retryOnReturn } from './collab/reconnect.js'
import { trackSaved, type SaveState } from './collab/saved.js'
import { trackSyncProgress } from './collab/sync-progress.js'
import { saveDisplay } from './collab/save-display.js'
import { offlineStoreName, openOfflineCopy } from './collab/offline-store.js'
import { Heartbeat } from './collab/heartbeat.js'
import { Traffic } from './collab/traffic.js'
import { publishAway } from './collab/away.js'
import { watchRefusal } from './collab/refusal.js'
import { editing } from './extensions/editing.js'
import { collaboration } from './extensions/collaboration.js'
import { appearance } from './extensions/appearance.js'
import { cursorLabels } from './extensions/cursor-labels.js'
import { viewOnly } from './extensions/view-only.js'
import { separateUndoSteps } from './extensions/undo-steps.js'
import { connectionBadge } from './ui/connection-badge.js'
import { savedBadge } from './ui/saved-badge.js'
import { connectionInspector } from './ui/connection-inspector.js'
import { refusalLabels, showRefusal } from './ui/refusal-notice.js'
import { peopleList } from './ui/people-list.js'
import { askIdentity } from './ui/name-dialog.js'
import { shareOnClick } from './ui/share-dialog.js'
import { accessProblemLabels, showAccessProblem } from './ui/access-notice.js'
import { newDocumentOnClick, openByName } from './ui/open-form.js'
import { RecentDocuments } from './collab/recent-documents.js'
import { documentExists } from './collab/document-exists.js'
import { watchTitle } from './collab/title.js'
import { markdownRendererOnce } from './collab/export.js'
import { showDocumentsPage } from './ui/documents-page.js'
import { showMissingNotice } from './ui/missing-notice.js'
import { documentMenu } from './ui/document-menu.js'
import { livePreview } from './ui/preview.js'
import { warnBeforeLeaving } from './ui/unload-guard.js'
import { historyPanel } from './ui/history-panel.js'
import { toolbar } from './ui/toolbar.js'
import { loadingProgress } from './ui/loading-progress.js'

/** The page element marked `data-testid="<testId>"`; the page is broken without it. */
function element<T extends HTMLElement = HTMLElement> (testId: string): T {
  const found = document.querySelector<T>(`[data-testid="${testId}"]`)
  if (!found) throw new Error(`the page lacks [data-testid="${testId}"]`)
  return found
}

/** The parts of the page that show one open document. */
const documentParts = ['share', 'history', 'inspect', 'saved', 'people', 'name-button', 'editor']

/** Shows only why the document cannot be opened; nothing connects. */
function refuse (problem: AccessProblem): void {
  for (const part of documentParts) element(part).hidden = true
  showAccessProblem(element('access-notice'), problem, true)
}

/** The documents page at `/`; where access control is on, it creates nothing. */
async function home (recent: RecentDocuments): Promise<void> {
  for (const part of [...documentParts, 'doc-name', 'footer']) element(part).hidden = true
  document.title = 'Your documents · coedit'
  // Without a link, the access of no document: open where anyone may create documents, denied where links are needed.
  const access = await resolveAccess('', new URL('/', location.origin))
  showDocumentsPage(element('documents-page'), { recent, linksOnly: access.kind !== 'open', origin: location.origin })
}

async function start (name: string, recent: RecentDocuments): Promise<void> {
  document.title = `${name} · coedit`
  element('doc-name').textContent = name
  element('doc-name').title = name
  openByName(element<HTMLFormElement>('open-form'), element('open-error'))
  newDocumentOnClick(element<HTMLAnchorElement>('new-document'), recent)

  const access = await resolveAccess(name, new URL(location.href))
  // Opening another document by name needs a link to it once access control is on.
  if (access.kind === 'denied' || (access.kind === 'link' && access.accessControl)) element('footer').hidden = true
  if (access.kind === 'denied') {
    refuse(access.problem)
    return
  }
  const link = access.kind === 'link' ? access : null
  // A name this device never opened, reached without a link made for it, may be a typo: ask before making it.
  const madeFor = link !== null && readClaims(link.link)?.doc === name
  if (recent.get(name) === null && !madeFor && await documentExists(location.origin, name, link?.token ?? null) === false) {
    for (const part of documentParts) element(part).hidden = true
    showMissingNotice(element('missing-notice'), name, recent.list(), () => {
      recent.opened(name, link === null ? null : location.href)
      location.reload()
    })
    return
  }
  recent.opened(name, link === null ? null : location.href)
  const readOnly = link?.permission === 'read'
  const { doc, text, provider, awareness, outgoing } = openDocument(name, relayUrl(location), { token: link?.token ?? null, wantsSaved: !readOnly })
  // Only a page that edits keeps a copy in the browser: a view-only page has nothing of its own to keep.
  const copy = readOnly ? null : await openOfflineCopy(offlineStoreName(relayUrl(location), name), doc)
  const traffic = new Traffic(outgoing, provider)
  const heartbeat = new Heartbeat(provider, outgoing, window)

  // A name set by the link is shown and published, but never stored: it belongs to the link.
  const fixedName = link?.name ?? null
  const kept = loadIdentity(localStorage)
  let own: Identity = kept ?? randomIdentity()
  const person = personId(localStorage)
  const publish = (): void => publishIdentity(awareness, fixedName === null ? own : { ...own, name: fixedName }, person)
  keepColourDistinct(awareness)
  /** Takes on `chosen`: all of it, or only its colour where the link fixes the name. */
  const adopt = (chosen: Identity): void => {
    own = fixedName === null ? chosen : { ...own, color: chosen.color }
    publish()
  }
  const useIdentity = (chosen: Identity): void => {
    adopt(chosen)
    saveIdentity(localStorage, own)
  }
  if (fixedName === null) useIdentity(own)
  else publish()
  // Chosen in another tab: this one shows it too (it is already stored).
  onIdentityStored(window, localStorage, adopt)

  const undoManager = new Y.UndoManager(text)
  const editable = new Compartment()
  const view = new EditorView({
    parent: element('editor'),
    state: EditorState.create({
      doc: text.toString(),
      extensions: [
        collaboration(text, awareness, undoManager),
        separateUndoSteps(undoManager),
        editing(readOnly ? 'This document is empty.' : 'Start writing… Markdown works here, and everyone with the link edits along.'),
        appearance(),
        toolbar(element('toolbar'), undoManager),
        cursorLabels(awareness),
        // Tab indents; the hint says how to leave the text by keyboard (Escape, then Tab).
        EditorView.contentAttributes.of({ 'aria-describedby': 'editor-keys-hint' }),
        editable.of(readOnly ? viewOnly() : [])
      ]
    })
  })

  const onTextChange = (listener: () => void): () => void => {
    text.observe(listener)
    return () => text.unobserve(listener)
  }
  let title = name
  watchTitle(onTextChange, () => view.state.doc.iterLines(), name, (seen) => {
    title = seen
    document.title = `${seen} · coedit`
    recent.retitle(name, seen)
  })
  const renderer = markdownRendererOnce()
  documentMenu(element('document-menu'), {
    text: () => text.toString(),
    title: () => title,
    renderer,
    preview: livePreview(element('preview'), renderer, () => text.toString(), onTextChange),
    printView: element('print-view')
  })

  let connection: ConnectionState = { kind: 'connecting' }
  let saveState: SaveState = 'saved'
  let pending = 0
  // Until the first sync nothing is known to be stored: the badge says so instead of "Saved".
  let loaded = false
  // Why the page stopped connecting for good, in few words; null while it keeps connecting.
  let stopped: string | null = null
  const showSaveState = savedBadge(element('saved'))
  const showConnection = connectionBadge(element('status'), element<HTMLButtonElement>('retry'), () => provider.retryNow())
  /** The connection as the page shows it: closed for good once the page stopped connecting. */
  const shownConnection = (): ConnectionState => stopped === null ? connection : { kind: 'closed', reason: stopped }
  const showStatus = (): void => {
    showConnection(shownConnection())
    // Nothing more will be stored: what is not confirmed now never will be.
    if (!readOnly) showSaveState(saveDisplay({ pending, loaded, stopped: stopped !== null, connected: connection.kind === 'connected', keptOnDevice: copy !== null }), pending)
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
    trackSaved(doc, provider, outgoing, (state, waiting) => {
      saveState = state
      pending = waiting
      copy?.notePending(waiting)
      showStatus()
    }, copy !== null ? { restored: copy.pending, isReplay: (origin) => origin === copy.origin } : {})
  }
  watchPeople(awareness, peopleList(element<HTMLUListElement>('people')))
  reappearOnReconnect(provider)
  watchRefusal(provider, (refusal) => {
    // Merged again, the copy would bring back a deleted document, or be refused on every visit: its text is kept apart, to be copied.
    if (refusal !== 'unavailable') copy?.setApart(text.toString())
    showRefusal(element('refusal-notice'), refusal, () => text.length === 0 && copy?.setApartText ? copy.setApartText : text.toString())
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
  trackSyncProgress(provider, loadingProgress(element('loading-progress')))
  publishAway(awareness, window, () => !provider.wsconnected)
  connectionInspector(element('inspector'), element<HTMLButtonElement>('inspect'), {
    traffic, heartbeat, awareness, connection: shownConnection
  })
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

  // Every page may share: a view link always, an edit link where it may edit; never the page's own token.
  shareOnClick(element<HTMLButtonElement>('share'), element<HTMLDialogElement>('share-dialog'), {
    origin: location.origin, name, token: link?.link ?? null, canEdit: !readOnly, accessControl: link?.accessControl ?? false
  })
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

const recent = new RecentDocuments(localStorage)
const named = documentNameFromPath(location.pathname)
void (named === null ? home(recent) : start(named, recent))
