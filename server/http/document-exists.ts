/**
 * Whether a document exists, so the editor can say "no document by that
 * name yet" instead of opening a blank one for a mistyped name:
 *
 *   GET /api/exists/{name}   → { "exists": boolean }
 *
 * A document exists when its room is open in this process or the store
 * holds it (not marked deleted): one in-memory lookup, then at most one
 * catalog lookup. With access control on, it needs
 * `Authorization: Bearer <token>` whose `doc` covers the name, so a token
 * tells nothing about names outside it. Errors are the document API's
 * (`api-errors.ts`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { grantCovers, TokenError, type AccessGrant, type TokenAuthority } from '../auth/tokens.js'
import { bearerToken } from '../transport/upgrade.js'
import { InvalidRoomNameError, roomNameFromUrl } from '../transport/room-name.js'
import type { RoomRegistry } from '../rooms/registry.js'
import type { DocStore } from '../storage/store.js'
import { allow, ApiError, sendApiError, sendJson } from './api-errors.js'
import type { ApiHandler } from './token-api.js'

/** What the endpoint needs from the relay. */
export interface DocumentExistsOptions {
  readonly registry: RoomRegistry
  readonly store: DocStore
  /** Null when the server runs open. */
  readonly authority: TokenAuthority | null
  readonly maxRoomNameLength: number
}

const prefix = '/api/exists/'

/** Builds the handler for `/api/exists/{name}`; it resolves false for other paths. */
export function documentExistsApi (options: DocumentExistsOptions): ApiHandler {
  const { registry, store, authority } = options
  const answer = async (req: IncomingMessage, res: ServerResponse, segment: string): Promise<void> => {
    allow(req.method ?? 'GET', ['GET'])
    // The token first: a caller without a valid one learns nothing, not even whether a name is valid.
    const grant = authority ? await verified(authority, req) : null
    const name = documentName(segment, options.maxRoomNameLength)
    if (grant && !grantCovers(grant, name)) throw new ApiError('forbidden', 'the access token does not open this document')
    if (registry.get(name)) {
      sendJson(res, 200, { exists: true })
      return
    }
    if (!store.catalog) throw new ApiError('unavailable', 'this store cannot tell which documents it holds')
    const info = await store.catalog.describe(name)
    sendJson(res, 200, { exists: info !== null && info.deletedAtMs === null })
  }
  return async (req, res, path) => {
    if (!path.startsWith(prefix)) return false
    try {
      await answer(req, res, path.slice(prefix.length))
    } catch (err) {
      if (!(err instanceof ApiError)) throw err
      sendApiError(res, err)
    }
    return true
  }
}

/** The request's verified bearer token; unauthorized without a valid one. */
async function verified (authority: TokenAuthority, req: IncomingMessage): Promise<AccessGrant> {
  try {
    return await authority.verify(bearerToken(req.headers.authorization) ?? '')
  } catch (err) {
    if (err instanceof TokenError) throw new ApiError('unauthorized', err.message, { 'www-authenticate': 'Bearer' })
    throw err
  }
}

/** The document name in an encoded path segment; bad-request when it breaks the room-name rule. */
function documentName (segment: string, maxLength: number): string {
  if (segment.includes('/')) throw new ApiError('bad-request', 'encode "/" in a document name as %2F')
  try {
    return roomNameFromUrl(`/${segment}`, maxLength)
  } catch (err) {
    if (err instanceof InvalidRoomNameError) throw new ApiError('bad-request', err.message.replace('room name', 'document name'))
    throw err
  }
}
