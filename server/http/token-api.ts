/**
 * The token endpoints the editor uses to open documents through links and
 * to make links, in every mode: with access control (`AUTH_SECRET` or
 * `AUTH_PUBLIC_KEY`) and without (an open server, whose links grant exactly
 * their permission while a plain address grants editing).
 *
 *   GET  /api/info    → { auth, canMint, anonymous }: whether tokens are required,
 *                       whether the server makes links (always, now), and what a
 *                       connection without a token may do ('write' on an open server, else 'none')
 *   POST /api/token   Authorization: Bearer <link token>
 *                     → { token, expiresAt }: a session token with the same rights,
 *                       living `sessionTokenTtlSeconds`, never past the link's expiry
 *   POST /api/share   Authorization: Bearer <token> (optional on an open server),
 *                     body { "doc": name, "expiresIn": seconds | null }
 *                     → { edit?, view, expiresAt }: link tokens for that one document.
 *                       A write token (or none, on an open server) gets both; a read
 *                       token only a view link, so a reader can pass on nothing more.
 *                       `expiresIn` null asks for links that never expire, absent for
 *                       `shareTokenTtlSeconds`; either way never past the presented
 *                       token's own expiry, so sharing cannot extend anyone's access.
 *                       `expiresAt` is null for links that never expire.
 *
 * Budget: a body is at most `maxBodyBytes`; each client address may make
 * `shareRequestsPerSecond` requests of `/api/token` and `/api/share` a second
 * (bursts of `shareRequestBurst`), answering 429 beyond. Neither endpoint
 * stores anything: a request costs a signature check and at most two signatures.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { grantCovers, TokenError, type AccessGrant, type TokenAuthority } from '../auth/tokens.js'
import { bearerToken } from '../transport/upgrade.js'
import { TokenBucket } from '../transport/rate-limit.js'

/** What the endpoints need from the relay. */
export interface TokenApiOptions {
  /** Verifies and mints: the access-control authority, or on an open server the server's own. */
  readonly authority: TokenAuthority
  /** Whether access control is on (a connection needs a token). */
  readonly tokenRequired: boolean
  readonly sessionTokenTtlSeconds: number
  /** Life of share links when the request names none. */
  readonly shareTokenTtlSeconds: number
  /** The client address a request is budgeted under. */
  readonly addressOf: (req: IncomingMessage) => string
}

/** Answers one request under `/api/`; resolves false for a path that is not its own. */
export type ApiHandler = (req: IncomingMessage, res: ServerResponse, path: string) => Promise<boolean>

/** Largest request body read, in bytes. */
const maxBodyBytes = 4096

/** Longest `expiresIn` a share request may ask for: ten years, in seconds. */
const maxShareExpiresInSeconds = 10 * 365 * 24 * 3600

/** Requests of `/api/token` and `/api/share` one client address may make a second, and in a burst. */
const shareRequestsPerSecond = 20
const shareRequestBurst = 100

/** Most client addresses budgeted at once; past it the budgets start afresh (bounds memory). */
const maxBudgetedAddresses = 10_000

/** Builds the handler for `/api/info`, `/api/token` and `/api/share`. */
export function tokenApi (options: TokenApiOptions): ApiHandler {
  const { authority, tokenRequired } = options
  const budgets = new Map<string, TokenBucket>()
  const withinBudget = (req: IncomingMessage): boolean => {
    const address = options.addressOf(req)
    let bucket = budgets.get(address)
    if (!bucket) {
      if (budgets.size >= maxBudgetedAddresses) budgets.clear()
      bucket = new TokenBucket(shareRequestsPerSecond, shareRequestBurst)
      budgets.set(address, bucket)
    }
    return bucket.take(1)
  }
  return async (req, res, path) => {
    if (path === '/api/info' && req.method === 'GET') {
      json(res, 200, { auth: tokenRequired, canMint: authority.canMint, anonymous: tokenRequired ? 'none' : 'write' })
      return true
    }
    if (path !== '/api/token' && path !== '/api/share') return false
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'POST' }).end()
      return true
    }
    if (!authority.canMint) {
      json(res, 404, { error: 'access tokens are not issued by this server' })
      return true
    }
    if (!withinBudget(req)) {
      json(res, 429, { error: 'too many requests for links from your address; try again in a moment' })
      return true
    }
    try {
      const presented = bearerToken(req.headers.authorization)
      if (path === '/api/token') {
        const grant = await authority.verify(presented ?? '')
        const ttl = Math.min(options.sessionTokenTtlSeconds, secondsUntil(grant.expiresAtMs))
        const token = await authority.mint(grant, ttl)
        json(res, 200, { token, expiresAt: new Date(Date.now() + ttl * 1000).toISOString() })
        return true
      }
      // On an open server anyone may edit without a token; a token that is presented still bounds what is made.
      const grant: AccessGrant | null = presented === null && !tokenRequired ? null : await authority.verify(presented ?? '')
      const body = await readJson(req)
      const doc = typeof body.doc === 'string' ? body.doc : ''
      if (!doc || doc.endsWith('*') || (grant && !grantCovers(grant, doc))) throw new TokenError('forbidden', 'the token does not open this document')
      const expiresIn = body.expiresIn === undefined ? options.shareTokenTtlSeconds : body.expiresIn
      if (expiresIn !== null && !(Number.isInteger(expiresIn) && (expiresIn as number) >= 1 && (expiresIn as number) <= maxShareExpiresInSeconds)) {
        json(res, 400, { error: `expiresIn must be whole seconds from 1 to ${maxShareExpiresInSeconds}, or null for links that never expire` })
        return true
      }
      const expiresAtMs = earliest(expiresIn === null ? null : Date.now() + (expiresIn as number) * 1000, grant?.expiresAtMs ?? null)
      const ttl = expiresAtMs === null ? null : secondsUntil(expiresAtMs)
      const canEdit = grant === null || grant.permission === 'write'
      const [view, edit] = await Promise.all([
        authority.mint({ doc, permission: 'read', name: null }, ttl),
        canEdit ? authority.mint({ doc, permission: 'write', name: null }, ttl) : undefined
      ])
      json(res, 200, { edit, view, expiresAt: expiresAtMs === null ? null : new Date(expiresAtMs).toISOString() })
    } catch (err) {
      if (err instanceof TokenError) json(res, err.status, { error: err.message, code: err.code })
      else if (err instanceof SyntaxError) json(res, 400, { error: 'the body must be JSON like {"doc": "name", "expiresIn": 604800}' })
      else throw err
    }
    return true
  }
}

/** Seconds from now until `atMs`; infinite for null (never). */
function secondsUntil (atMs: number | null): number {
  return atMs === null ? Infinity : (atMs - Date.now()) / 1000
}

/** The earlier of two expiries, where null is never. */
function earliest (a: number | null, b: number | null): number | null {
  if (a === null) return b
  if (b === null) return a
  return Math.min(a, b)
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
