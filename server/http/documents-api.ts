/**
 * The document API: JSON over HTTP for listing, reading, replacing,
 * deleting and restoring documents. The contract is `openapi.ts` (served at
 * `/api/openapi.json`); every error is `{ "error": { "code", "message" } }`
 * with a code from `api-errors.ts`.
 *
 *   GET    /api/documents?after=&limit=     list (operator)
 *   GET    /api/documents/{name}            one document (read)
 *   DELETE /api/documents/{name}            delete, restorable for a while (operator)
 *   POST   /api/documents/{name}/restore    undo a delete (operator)
 *   GET    /api/documents/{name}/text       the text, text/plain (read)
 *   PUT    /api/documents/{name}/text       replace the text, text/plain (write)
 *   …      /api/documents/{name}/versions…  history (`versions-api.ts`)
 *
 * Names are path segments, URL-encoded (`team%2Fnotes`), under the same rule
 * as WebSocket room names. A text replacement goes through the document's
 * room like a client's edit: checked against the document's budgets, stored
 * before anyone sees it, sent to the people connected at once and published
 * to the other processes; the answer comes once it is durable.
 *
 * With access control on, every route needs `Authorization: Bearer <token>`:
 * reads a token whose `doc` covers the document, PUT a write token, and the
 * operator routes an operator token (`perm` write, `doc` `*`). Without it the
 * API is as open as the WebSocket.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { grantCovers, isOperator, TokenError, type AccessGrant, type TokenAuthority } from '../auth/tokens.js'
import { bearerToken } from '../transport/upgrade.js'
import { InvalidRoomNameError, queryParams, roomNameFromUrl } from '../transport/room-name.js'
import { RegistryClosedError, RoomLimitError, type RoomOpener, type RoomRegistry } from '../rooms/registry.js'
import { RoomClosedError } from '../rooms/room.js'
import { ProtocolError } from '../protocol/errors.js'
import { textName } from '../protocol/document.js'
import { CorruptDocumentError, DeletedDocumentError, type DocStore, type DocumentCatalog, type DocumentInfo } from '../storage/store.js'
import type { Logger } from '../log.js'
import { allow, ApiError, sendApiError, sendJson } from './api-errors.js'
import { withStoredDocument } from './stored-document.js'
import { versionsApi } from './versions-api.js'
import type { HistoryRecorder } from '../rooms/history.js'
import { openApiDocument } from './openapi.js'
import type { ApiHandler } from './token-api.js'

/** What the document API needs from the relay. */
export interface DocumentsApiOptions {
  readonly registry: RoomRegistry
  readonly store: DocStore
  /** Null when the server runs open. */
  readonly authority: TokenAuthority | null
  /** The client address a request is counted under (as for WebSocket upgrades). */
  readonly addressOf: (req: IncomingMessage) => string
  readonly logger: Logger
  readonly maxRoomNameLength: number
  /** Largest PUT body, in bytes: the same as the largest WebSocket message. */
  readonly maxMessageBytes: number
  /** How long a deleted document can be restored before it is purged. */
  readonly deletedRetentionSeconds: number
  /** Records versions on request; null when the store keeps no history. */
  readonly history: HistoryRecorder | null
}

/** The running API: its request handler and its purge timer. */
export interface DocumentsApi {
  /** Answers `/api/openapi.json` and `/api/documents…`; resolves false for other paths. */
  readonly handle: ApiHandler
  /** Stops the purge timer. */
  stop (): void
}

/** Most documents one listing page holds. */
export const maxPageSize = 1000

/** Documents a listing page holds when `limit` is not given. */
const defaultPageSize = 100

/** How often deleted documents past their retention are looked for. */
const purgeSweepMs = 10 * 60 * 1000

/** Most documents one sweep purges: the rest wait for the next one. */
const purgePerSweep = 100

const collectionPath = '/api/documents'

/** Who may call a route: anyone whose token opens the document, a writer of it, or an operator. */
type Access = 'read' | 'write' | 'operator'

/**
 * Builds the API over `options.store`'s catalog and starts a timer that
 * purges documents deleted longer than `deletedRetentionSeconds` ago, at
 * most `purgePerSweep` per sweep (a deleted document read or restored past
 * its retention is purged then, too).
 */
export function documentsApi (options: DocumentsApiOptions): DocumentsApi {
  const { registry, store, authority, logger } = options
  const catalog = store.catalog
  const retentionMs = options.deletedRetentionSeconds * 1000
  const expired = (deletedAtMs: number): boolean => deletedAtMs < Date.now() - retentionMs

  let sweeping = false
  const sweep = (): void => {
    if (!catalog || sweeping) return
    sweeping = true
    catalog.purge(Date.now() - retentionMs, purgePerSweep).then((names) => {
      if (names.length > 0) logger.info('document.purged', { documents: names.length })
    }, (err) => logger.warn('document.purge-failed', { error: err as Error })).finally(() => { sweeping = false })
  }
  const timer = setInterval(sweep, purgeSweepMs)
  timer.unref()

  const needCatalog = (): DocumentCatalog => {
    if (!catalog) throw new ApiError('unavailable', 'this store cannot list or delete documents')
    return catalog
  }

  /** The request's verified bearer token; null when the server runs open. Throws unauthorized. */
  const authenticate = async (req: IncomingMessage): Promise<AccessGrant | null> => {
    if (!authority) return null
    try {
      return await authority.verify(bearerToken(req.headers.authorization) ?? '')
    } catch (err) {
      if (err instanceof TokenError) throw new ApiError('unauthorized', err.message, { 'www-authenticate': 'Bearer' })
      throw err
    }
  }

  /** Throws forbidden unless `grant` allows `access` to `name` (null: the whole collection); an open server (null grant) allows all. */
  const authorize = (grant: AccessGrant | null, access: Access, name: string | null): void => {
    if (!grant) return
    if (access === 'operator') {
      if (!isOperator(grant)) throw new ApiError('forbidden', 'this needs an operator token: write access to every document (doc "*")')
    } else if (name === null || !grantCovers(grant, name)) {
      throw new ApiError('forbidden', 'the access token does not open this document')
    } else if (access === 'write' && grant.permission !== 'write') {
      throw new ApiError('forbidden', 'the access token is read-only')
    }
  }

  /** A document that is deleted: gone while it can be restored, not found once purged (purging it now if due). */
  const deletedError = async (name: string, deletedAtMs: number): Promise<ApiError> => {
    if (expired(deletedAtMs)) {
      await catalog?.purge(Date.now() - retentionMs, 1, name)
      return new ApiError('not-found', `no document named "${name}"`)
    }
    return new ApiError('gone', `document "${name}" was deleted at ${new Date(deletedAtMs).toISOString()}; an operator can restore it until ${new Date(deletedAtMs + retentionMs).toISOString()}`)
  }

  const view = (info: DocumentInfo): Record<string, unknown> => ({
    name: info.name,
    bytes: info.bytes,
    changedAt: info.changedAtMs === null ? null : new Date(info.changedAtMs).toISOString(),
    deletedAt: info.deletedAtMs === null ? null : new Date(info.deletedAtMs).toISOString(),
    connections: registry.get(info.name)?.size ?? 0
  })

  const list = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    authorize(await authenticate(req), 'operator', null)
    const params = queryParams(req.url ?? '')
    const after = params.get('after')
    const limitText = params.get('limit') ?? String(defaultPageSize)
    if (!/^\d{1,4}$/.test(limitText) || Number(limitText) < 1 || Number(limitText) > maxPageSize) {
      throw new ApiError('bad-request', `limit must be a whole number from 1 to ${maxPageSize}`)
    }
    const limit = Number(limitText)
    const page = await needCatalog().page(after === '' ? null : after, limit + 1)
    const more = page.length > limit
    const shown = page.slice(0, limit)
    sendJson(res, 200, {
      documents: shown.filter((info) => info.deletedAtMs === null || !expired(info.deletedAtMs)).map(view),
      next: more ? shown[shown.length - 1].name : null
    })
  }

  /** The document `name` as stored; throws not-found or gone. */
  const describe = async (name: string): Promise<DocumentInfo> => {
    const info = await needCatalog().describe(name)
    if (!info) throw new ApiError('not-found', `no document named "${name}"`)
    if (info.deletedAtMs !== null) throw await deletedError(name, info.deletedAtMs)
    return info
  }

  const readText = async (name: string): Promise<string> => {
    const room = registry.get(name)
    if (room) {
      const text = room.text
      // The write-ahead rule: show nothing before it is stored.
      await room.whenDurable()
      if (registry.get(name) === room) return text
    }
    return await withStoredDocument(store, registry, name, (doc) => doc.getText(textName).toString())
  }

  /** On whose behalf `req` loads a room. */
  const openerOf = (req: IncomingMessage, grant: AccessGrant | null): RoomOpener => {
    const token = bearerToken(req.headers.authorization)
    return { address: options.addressOf(req), tokenId: grant && token ? token.slice(token.lastIndexOf('.') + 1) : null }
  }

  const versions = versionsApi(options)

  const writeText = async (req: IncomingMessage, res: ServerResponse, name: string, grant: AccessGrant | null): Promise<void> => {
    const type = req.headers['content-type']
    if (type !== undefined && !/^text\/plain(\s*;|$)/i.test(type)) throw new ApiError('bad-request', 'the body must be text/plain (UTF-8)')
    const body = await readBody(req, options.maxMessageBytes)
    let text: string
    try {
      text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(body)
    } catch {
      throw new ApiError('bad-request', 'the body is not valid UTF-8')
    }
    const changed = await registry.replaceText(name, text, openerOf(req, grant))
    sendJson(res, 200, { name, changed })
  }

  const remove = async (res: ServerResponse, name: string): Promise<void> => {
    const deletedAtMs = Date.now()
    if (!await needCatalog().markDeleted(name, deletedAtMs)) {
      await describe(name) // throws not-found or gone
      throw new ApiError('conflict', `document "${name}" changed state meanwhile; try again`)
    }
    await registry.closeDeleted(name, true)
    logger.info('document.deleted', { document: name })
    sendJson(res, 200, { name, deletedAt: new Date(deletedAtMs).toISOString(), restorableUntil: new Date(deletedAtMs + retentionMs).toISOString() })
  }

  const restore = async (res: ServerResponse, name: string): Promise<void> => {
    const info = await needCatalog().describe(name)
    if (!info) throw new ApiError('not-found', `no document named "${name}"`)
    if (info.deletedAtMs === null) throw new ApiError('conflict', `document "${name}" is not deleted`)
    if (expired(info.deletedAtMs)) throw await deletedError(name, info.deletedAtMs)
    if (!await needCatalog().restore(name)) throw new ApiError('conflict', `document "${name}" is not deleted`)
    logger.info('document.restored', { document: name })
    sendJson(res, 200, view({ ...info, deletedAtMs: null }))
  }

  const route = async (req: IncomingMessage, res: ServerResponse, path: string): Promise<void> => {
    const method = req.method ?? 'GET'
    if (path === collectionPath || path === `${collectionPath}/`) {
      allow(method, ['GET'])
      await list(req, res)
      return
    }
    const parts = path.slice(collectionPath.length + 1).split('/')
    if (parts.length >= 2 && parts[1] === 'versions') {
      const grant = await authenticate(req)
      const name = documentName(parts[0], options.maxRoomNameLength)
      await versions({
        req,
        res,
        name,
        rest: parts.slice(2),
        authorize: (access) => authorize(grant, access, name),
        describe: () => describe(name),
        body: (maxBytes) => readBody(req, maxBytes),
        opener: openerOf(req, grant)
      })
      return
    }
    const action = parts.length === 1 ? '' : parts.length === 2 ? parts[1] : null
    if (action === null || !['', 'text', 'restore'].includes(action)) throw new ApiError('not-found', 'no such endpoint')
    if (action === '') allow(method, ['GET', 'DELETE'])
    else if (action === 'text') allow(method, ['GET', 'PUT'])
    else allow(method, ['POST'])
    const access: Access = action === 'restore' || method === 'DELETE' ? 'operator' : method === 'PUT' ? 'write' : 'read'
    // The token first: a caller without a valid one learns nothing, not even whether a name is valid.
    const grant = await authenticate(req)
    const name = documentName(parts[0], options.maxRoomNameLength)
    authorize(grant, access, name)
    if (action === 'text' && method === 'GET') {
      const text = await readText(name)
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' }).end(text)
    } else if (action === 'text') {
      await writeText(req, res, name, grant)
    } else if (action === 'restore') {
      await restore(res, name)
    } else if (method === 'DELETE') {
      await remove(res, name)
    } else {
      sendJson(res, 200, view(await describe(name)))
    }
  }

  const handle: ApiHandler = async (req, res, path) => {
    if (path === '/api/openapi.json') {
      if (req.method !== 'GET') sendApiError(res, new ApiError('method-not-allowed', 'use GET', { allow: 'GET' }))
      else sendJson(res, 200, openApiDocument)
      return true
    }
    if (path !== collectionPath && !path.startsWith(`${collectionPath}/`)) return false
    try {
      await route(req, res, path)
    } catch (err) {
      const error = asApiError(err)
      if (error.code === 'internal' || error.code === 'unavailable') logger.error('api.error', { path, error: err as Error })
      if (!res.headersSent) {
        // A body left unread would otherwise be taken for the next request on this connection.
        if (!req.complete) res.setHeader('connection', 'close')
        sendApiError(res, error)
      }
    }
    return true
  }

  return { handle, stop: () => clearInterval(timer) }
}

/** The document name in an encoded path segment; bad-request when it breaks the room-name rule. */
function documentName (segment: string, maxLength: number): string {
  try {
    return roomNameFromUrl(`/${segment}`, maxLength)
  } catch (err) {
    if (err instanceof InvalidRoomNameError) throw new ApiError('bad-request', err.message.replace('room name', 'document name'))
    throw err
  }
}

/** The error answered for `err`, thrown by a route, the registry, a room or the store. */
function asApiError (err: unknown): ApiError {
  if (err instanceof ApiError) return err
  if (err instanceof DeletedDocumentError) return new ApiError('gone', `document "${err.document}" was deleted at ${new Date(err.deletedAtMs).toISOString()}`)
  if (err instanceof ProtocolError && err.code === 'too-large') return new ApiError('too-large', err.message)
  if (err instanceof ProtocolError && err.code === 'content-refused') return new ApiError('content-refused', err.message)
  if (err instanceof CorruptDocumentError) return new ApiError('unavailable', 'the document\'s stored data is damaged; it was not changed')
  if (err instanceof RoomLimitError || err instanceof RoomClosedError) return new ApiError('unavailable', err.message, { 'retry-after': '1' })
  if (err instanceof RegistryClosedError) return new ApiError('unavailable', 'the server is shutting down', { 'retry-after': '1' })
  return new ApiError('internal', 'internal error')
}

/** Reads a request body of at most `maxBytes`; too-large past it. */
async function readBody (req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'])
  if (declared > maxBytes) throw new ApiError('too-large', `the body may hold at most ${maxBytes} bytes`)
  const chunks: Buffer[] = []
  let length = 0
  for await (const chunk of req) {
    length += (chunk as Buffer).length
    if (length > maxBytes) throw new ApiError('too-large', `the body may hold at most ${maxBytes} bytes`)
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks, length)
}
