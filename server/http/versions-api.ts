/**
 * The history routes of the document API (`documents-api.ts` routes them
 * here, after checking the name and the token):
 *
 *   GET  /api/documents/{name}/versions                 list, oldest first (read)
 *   POST /api/documents/{name}/versions                 record the document now, `{ "name" }` (write)
 *   GET  /api/documents/{name}/versions/{id}/text       a version's text, text/plain (read)
 *   POST /api/documents/{name}/versions/{id}/restore    make the text that version's (write)
 *
 * A restore is a forward edit through the document's room, like a PUT of
 * the text: collaborators see it at once and can keep editing, and the
 * history keeps what was there before.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import * as Y from 'yjs'
import type { RoomOpener, RoomRegistry } from '../rooms/registry.js'
import type { HistoryRecorder } from '../rooms/history.js'
import { applyStoredDocument, textName } from '../protocol/document.js'
import type { DocStore } from '../storage/store.js'
import type { VersionInfo, VersionStore } from '../storage/versions.js'
import { allow, ApiError, sendJson } from './api-errors.js'
import { withStoredDocument } from './stored-document.js'

/** What the history routes need from the relay. */
export interface VersionsApiOptions {
  readonly registry: RoomRegistry
  readonly store: DocStore
  /** Null when the store keeps no history. */
  readonly history: HistoryRecorder | null
}

/** One history request, its name and token already checked by the document API. */
export interface VersionRequest {
  readonly req: IncomingMessage
  readonly res: ServerResponse
  /** The document. */
  readonly name: string
  /** The path segments after `versions`, decoded neither. */
  readonly rest: readonly string[]
  /** Throws forbidden unless the token allows reading (or writing) the document. */
  authorize (access: 'read' | 'write'): void
  /** Throws not-found or gone unless the document is stored and not deleted. */
  describe (): Promise<unknown>
  /** The request body, at most `maxBytes`; too-large past it. */
  body (maxBytes: number): Promise<Buffer>
  /** On whose behalf a room is loaded for a restore. */
  readonly opener: RoomOpener
}

/** Longest version name, in characters. */
export const maxVersionNameLength = 200

/** Largest body `POST …/versions` takes. */
const maxCreateBodyBytes = 4096

/** Answers one history request; throws `ApiError` (or the registry's and store's errors) for the caller to answer. */
export function versionsApi (options: VersionsApiOptions): (request: VersionRequest) => Promise<void> {
  const { registry, store, history } = options
  const versions: VersionStore | undefined = store.versions

  const needVersions = (): { versions: VersionStore, history: HistoryRecorder } => {
    if (!versions || !history) throw new ApiError('unavailable', 'this store keeps no history')
    return { versions, history }
  }

  const view = (version: VersionInfo): Record<string, unknown> => ({
    id: version.id,
    createdAt: new Date(version.createdAtMs).toISOString(),
    name: version.name,
    seq: version.seq,
    authors: version.authors
  })

  const versionText = async (name: string, idText: string): Promise<string> => {
    const id = /^[1-9]\d{0,14}$/.test(idText) ? Number(idText) : null
    const update = id === null ? null : await needVersions().versions.read(name, id)
    if (update === null) throw new ApiError('not-found', `document "${name}" has no version ${idText}`)
    const doc = new Y.Doc({ gc: true })
    try {
      applyStoredDocument(doc, { snapshot: update, updates: [], seq: 0 }, name)
      return doc.getText(textName).toString()
    } finally {
      doc.destroy()
    }
  }

  /** Records the document now, named `versionName`: from its room when loaded here, else from the store. */
  const create = async (name: string, versionName: string): Promise<VersionInfo | null> => {
    const { history } = needVersions()
    const room = registry.get(name)
    if (room) return await history.record(room, versionName)
    return await withStoredDocument(store, registry, name, async (doc, stored) => await history.recordStored(name, doc, stored.seq, versionName))
  }

  return async (request) => {
    const { req, res, name, rest } = request
    const method = req.method ?? 'GET'
    if (rest.length === 0) {
      allow(method, ['GET', 'POST'])
      if (method === 'GET') {
        request.authorize('read')
        await request.describe()
        sendJson(res, 200, { versions: (await needVersions().versions.list(name)).map(view) })
        return
      }
      request.authorize('write')
      const versionName = parseName(await request.body(maxCreateBodyBytes))
      await request.describe()
      const version = await create(name, versionName)
      if (!version) throw new ApiError('conflict', `document "${name}" changed meanwhile; try again`)
      sendJson(res, 201, view(version))
      return
    }
    if (rest.length !== 2 || !['text', 'restore'].includes(rest[1])) throw new ApiError('not-found', 'no such endpoint')
    if (rest[1] === 'text') {
      allow(method, ['GET'])
      request.authorize('read')
      await request.describe()
      const text = await versionText(name, rest[0])
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' }).end(text)
      return
    }
    allow(method, ['POST'])
    request.authorize('write')
    await request.describe()
    const text = await versionText(name, rest[0])
    const changed = await registry.replaceText(name, text, request.opener)
    sendJson(res, 200, { name, version: Number(rest[0]), changed })
  }
}

/** The `name` of a `POST …/versions` body: `{ "name": "…" }`, 1 to `maxVersionNameLength` characters. */
function parseName (body: Buffer): string {
  let parsed: unknown
  try {
    parsed = JSON.parse(body.toString('utf8'))
  } catch {
    throw new ApiError('bad-request', 'the body must be JSON: { "name": "…" }')
  }
  const name = typeof parsed === 'object' && parsed !== null ? (parsed as { name?: unknown }).name : undefined
  if (typeof name !== 'string' || name.trim() === '' || name.length > maxVersionNameLength) {
    throw new ApiError('bad-request', `"name" must be a non-empty string of at most ${maxVersionNameLength} characters`)
  }
  return name.trim()
}
