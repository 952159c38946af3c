/**
 * The token endpoints the editor uses when access control is on.
 *
 *   GET  /api/info    → { auth: boolean, canMint: boolean }
 *   POST /api/token   Authorization: Bearer <link token>
 *                     → { token, expiresAt }: a session token with the same rights,
 *                       living `sessionTokenTtlSeconds`, never past the link's expiry
 *   POST /api/share   Authorization: Bearer <write token>, body { "doc": name }
 *                     → { edit, view, expiresAt }: link tokens for that one document,
 *                       living `shareTokenTtlSeconds` but never past the presented token,
 *                       so sharing cannot extend anyone's access
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { grantCovers, TokenError, type TokenAuthority } from '../auth/tokens.js'
import { bearerToken } from '../transport/upgrade.js'

/** What the endpoints need from the relay. */
export interface TokenApiOptions {
  /** Null when the server runs open. */
  readonly authority: TokenAuthority | null
  readonly sessionTokenTtlSeconds: number
  readonly shareTokenTtlSeconds: number
}

/** Answers one request under `/api/`; resolves false for a path that is not its own. */
export type ApiHandler = (req: IncomingMessage, res: ServerResponse, path: string) => Promise<boolean>

/** Largest request body read, in bytes. */
const maxBodyBytes = 4096

/** Builds the handler for `/api/info`, `/api/token` and `/api/share`. */
export function tokenApi (options: TokenApiOptions): ApiHandler {
  const { authority } = options
  return async (req, res, path) => {
    if (path === '/api/info' && req.method === 'GET') {
      json(res, 200, { auth: authority !== null, canMint: authority?.canMint ?? false })
      return true
    }
    if (path !== '/api/token' && path !== '/api/share') return false
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'POST' }).end()
      return true
    }
    if (!authority?.canMint) {
      json(res, 404, { error: 'access tokens are not issued by this server' })
      return true
    }
    try {
      const grant = await authority.verify(bearerToken(req.headers.authorization) ?? '')
      if (path === '/api/token') {
        const ttl = Math.min(options.sessionTokenTtlSeconds, (grant.expiresAtMs - Date.now()) / 1000)
        const token = await authority.mint(grant, ttl)
        json(res, 200, { token, expiresAt: new Date(Date.now() + ttl * 1000).toISOString() })
        return true
      }
      if (grant.permission !== 'write') throw new TokenError('forbidden', 'only editors can share a document')
      const body = await readJson(req)
      const doc = typeof body.doc === 'string' ? body.doc : ''
      if (!doc || doc.endsWith('*') || !grantCovers(grant, doc)) throw new TokenError('forbidden', 'the token does not open this document')
      const ttl = Math.min(options.shareTokenTtlSeconds, (grant.expiresAtMs - Date.now()) / 1000)
      const [edit, view] = await Promise.all([
        authority.mint({ doc, permission: 'write', name: null }, ttl),
        authority.mint({ doc, permission: 'read', name: null }, ttl)
      ])
      json(res, 200, { edit, view, expiresAt: new Date(Date.now() + ttl * 1000).toISOString() })
    } catch (err) {
      if (err instanceof TokenError) json(res, err.status, { error: err.message, code: err.code })
      else if (err instanceof SyntaxError) json(res, 400, { error: 'the body must be JSON like {"doc": "name"}' })
      else throw err
    }
    return true
  }
}

function json (res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body))
}

async function readJson (req: IncomingMessage): Promise<Record<string, unknown>> {
  let text = ''
  for await (const chunk of req) {
    text += chunk
    if (text.length > maxBodyBytes) throw new SyntaxError('body too large')
  }
  const value = JSON.parse(text || '{}') as unknown
  if (typeof value !== 'object' || value === null) throw new SyntaxError('not an object')
  return value as Record<string, unknown>
}
