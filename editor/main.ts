/**
 * The editor page: the document named by the URL (a new one for `/`),
 * synced through the relay, with its people, connection and save state.
 */
import { EditorState } from '@codemirror/state'
import { EditorView } from '@codemirror/view'
import { documentNameFromPath, documentPath, newDocumentName } from './collab/document-name.js'
import { openDocument, relayUrl } from './collab/connection.js'
import { loadIdentity, randomIdentity, saveIdentity, type Identity } from './collab/identity.js'
import { publishIdentity, reappearOnReconnect, watchPeople } from './collab/presence.js'
import { watchConnection } from './collab/status.js'
import { trackSaved, type SaveState } from './collab/saved.js'
import { editing } from './extensions/editing.js'
import { collaboration } from './extensions/collaboration.js'
import { appearance } from './extensions/appearance.js'
import { showConnection } from './ui/connection-badge.js'
import { savedBadge } from './ui/saved-badge.js'
import { showPeople } from './ui/people-list.js'
import { askIdentity } from './ui/name-dialog.js'
import { copyLinkOnClick } from './ui/share-button.js'
import { openByName } from './ui/open-form.js'
import { warnBeforeLeaving } from './ui/unload-guard.js'

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

function start (): void {
  const name = documentName()
  document.title = `${name} · coedit`
  element('doc-name').textContent = name
  element('doc-name').title = name

  const { doc, text, provider, awareness } = openDocument(name, relayUrl(location))
  const kept = loadIdentity(localStorage)
  let identity: Identity = kept ?? randomIdentity()
  let saveState: SaveState = 'saved'
  const useIdentity = (chosen: Identity): void => {
    identity = chosen
    saveIdentity(localStorage, identity)
    publishIdentity(awareness, identity)
  }

  useIdentity(identity)
  watchConnection(provider, (state) => showConnection(element('status'), state))
  const showSaveState = savedBadge(element('saved'))
  trackSaved(doc, provider, (state) => {
    saveState = state
    showSaveState(state)
  })
  watchPeople(awareness, (people) => showPeople(element('people'), people))
  reappearOnReconnect(provider)
  provider.connect()

  const view = new EditorView({
    parent: element('editor'),
    state: EditorState.create({
      doc: text.toString(),
      extensions: [
        collaboration(text, awareness),
        editing('Start writing… Markdown works here, and everyone with the link edits along.'),
        appearance()
      ]
    })
  })

  const editIdentity = async (title: string, cancel: string): Promise<void> => {
    const chosen = await askIdentity(element<HTMLDialogElement>('name-dialog'), identity, { title, cancel })
    if (chosen) useIdentity(chosen)
    view.focus()
  }
  element('name-button').addEventListener('click', () => {
    void editIdentity('Your name', 'Cancel')
  })
  copyLinkOnClick(element<HTMLButtonElement>('share'))
  openByName(element<HTMLFormElement>('open-form'), element('open-error'))
  warnBeforeLeaving(() => saveState === 'saving')

  // The name is asked for once; closing the dialog keeps the random one, already stored.
  if (kept === null) void editIdentity('Welcome! What should others call you?', 'Keep this name')
  else view.focus()
}

start()
