/**
 * Access to a document through a link.
 *
 * A person opens a document through a link, `/d/<name>?token=<link token>`.
 * Where the relay can mint tokens, the page trades the link token for a
 * short-lived session token (`POST /api/token`) and connects with that; the
 * relay ends the connection with close code 4401 when it expires, and the
 * page gets a fresh one and connects again. Elsewhere it connects with the
 * link token itself.
 *
 * On a relay without access control, a page without a token may edit; a
 * page with one gets exactly what it grants (a view link stays read-only),
 * and a token the relay refuses keeps the page closed, as with access
 * control: a link never opens more than it says.
 *
 * The page reads a token's claims only to show them (permission, name,
 * document); the relay checks every token.
 */
import type { ReconnectingProvider } from './reconnect.js'

/** Close code with which the relay ends a connection whose token has expired. */
export const tokenExpiredCloseCode = 4401

/** The query parameter that carries a token, in the page address and in the relay's. */
export const tokenQueryParam = 'token'

/** What a token allows in its document. */
export type Permission = 'read' | 'write'

/** Why the page cannot open (or stay in) the document. */
export type AccessProblem = 'no-link' | 'link-expired' | 'link-invalid' | 'other-document'

/** Access through a link token. */
export interface LinkAccess {
  readonly kind: 'link'
  /** The link token, from the page address. */
  readonly link: string
  readonly permission: Permission
  /** The name the link gives its holder; null lets them choose. */
  readonly name: string | null
  /** Whether the relay trades link tokens for session tokens (it holds a signing key). */
  readonly canMint: boolean
  /** Whether the relay runs with access control; without it, the document's plain address lets anyone edit. */
  readonly accessControl: boolean
  /** The token to connect with: a session token where the relay mints them, else the link token. */
  readonly token: string
}

/** What the page may do in a document, settled before it connects. */
export type Access =
  | { readonly kind: 'open' }
  | LinkAccess
  | { readonly kind: 'denied', readonly problem: AccessProblem }

/** The relay refused a token; `problem` says why in the page's terms. */
export class AccessRefusedError extends Error {
  override readonly name = 'AccessRefusedError'
  constructor (readonly problem: AccessProblem, message: string) {
    super(message)
  }
}

/** The claims of a token the page shows; unchecked. */
export interface TokenClaims {
  /** An exact document name, or a prefix followed by `*`. */
  readonly doc: string
  readonly permission: Permission
  readonly name: string | null
}

/** Longest display name the relay takes from a token, in characters. */
const maxTokenNameLength = 100

/** The link token in a page address's query string (`?token=…`), or null. */
export function linkTokenFrom (search: string): string | null {
  const token = new URLSearchParams(search).get(tokenQueryParam)
  return token === null || token === '' ? null : token
}

/**
 * The claims of a JWT, decoded without checking its signature, or null when
 * it is no JWT or lacks `doc` or `perm`.
 */
export function readClaims (token: string): TokenClaims | null {
  const payload = token.split('.')[1]
  if (payload === undefined) return null
  let claims: unknown
  try {
    const binary = atob(payload.replace(/-/g, '+').replace(/_/g, '/'))
    claims = JSON.parse(new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0))))
  } catch {
    return null
  }
  if (typeof claims !== 'object' || claims === null) return null
  const { doc, perm, name } = claims as Record<string, unknown>
  if (typeof doc !== 'string' || doc === '' || (perm !== 'read' && perm !== 'write')) return null
  return { doc, permission: perm, name: typeof name === 'string' && name !== '' ? name.slice(0, maxTokenNameLength) : null }
}

/** Whether a token's `doc` claim opens document `name`: the same name, or a prefix ending in `*` that `name` starts with. */
export function claimOpens (doc: string, name: string): boolean {
  return doc.endsWith('*') ? name.startsWith(doc.slice(0, -1)) : doc === name
}

/** Longest wait between two tries to reach the relay while the page loads. */
const maxRetryDelayMs = 5_000

/**
 * Settles how the page at `pageUrl` opens document `name`: asks the relay
 * whether access control is on (`GET /api/info`), reads the link token from
 * the address if there is one and, where the relay mints them, trades it
 * for a session token (which checks it). Without a token the page may edit
 * on a relay without access control and is denied on one with it. Never
 * rejects: while the relay cannot be reached it tries again, waiting up to
 * 5 s between tries.
 */
export async function resolveAccess (name: string, pageUrl: URL): Promise<Access> {
  const info = await retrying(() => fetchInfo(pageUrl.origin))
  const link = linkTokenFrom(pageUrl.search)
  if (link === null) return info.auth ? { kind: 'denied', problem: 'no-link' } : { kind: 'open' }
  const claims = readClaims(link)
  if (claims === null) return { kind: 'denied', problem: 'link-invalid' }
  if (!claimOpens(claims.doc, name)) return { kind: 'denied', problem: 'other-document' }
  let token = link
  if (info.canMint) {
    try {
      token = await retrying(() => requestSessionToken(pageUrl.origin, link))
    } catch (err) {
      if (err instanceof AccessRefusedError) return { kind: 'denied', problem: err.problem }
      throw err
    }
  }
  return { kind: 'link', link, permission: claims.permission, name: claims.name, canMint: info.canMint, accessControl: info.auth, token }
}

/**
 * Keeps `provider` connected with a valid token for `access`. When the
 * relay ends the connection because the token expired (4401), or a
 * connection fails before it opens (a session token may have expired while
 * the page was offline), this gets a fresh session token with the link
 * token, puts it into `provider.params`, and lets the provider connect
 * again; edits made meanwhile stay in the document and sync then. The
 * first fresh token after a connection failed to open is tried at once
 * rather than after the provider's backoff (the old one may be all that
 * failed); later ones wait, until a connection opens again. When the
 * relay refuses the link token itself, or it expires where the relay does
 * not mint session tokens, this disconnects the provider and calls
 * `onLost` with the reason, once.
 */
export function keepAccess (provider: ReconnectingProvider, access: LinkAccess, onLost: (problem: AccessProblem) => void): void {
  const origin = new URL(provider.serverUrl.replace(/^ws/, 'http')).origin
  let renewing: Promise<void> | null = null
  let opened = false
  let lost = false
  const lose = (problem: AccessProblem): void => {
    if (lost) return
    lost = true
    provider.disconnect()
    onLost(problem)
  }
  const renew = (): Promise<void> => {
    renewing ??= requestSessionToken(origin, access.link).then((token) => {
      provider.params = { ...provider.params, [tokenQueryParam]: token }
    }).finally(() => { renewing = null })
    return renewing
  }
  // Any other failure (the relay unreachable) is left to the provider's retries, which come back here.
  const loseIfRefused = (err: unknown): void => {
    if (err instanceof AccessRefusedError) lose(err.problem)
  }

  // Whether a fresh token was tried at once since a connection last opened: once per outage, so a relay that keeps failing connections for another reason still gets the backoff.
  let retriedFresh = false
  provider.on('status', ({ status }) => {
    if (status !== 'connected') return
    opened = true
    retriedFresh = false
  })
  provider.on('connection-close', () => {
    const failedToOpen = !opened
    opened = false
    if (!failedToOpen || !access.canMint || lost) return
    renew().then(() => {
      if (retriedFresh) return
      retriedFresh = true
      provider.retryNow()
    }, loseIfRefused)
  })
  // The provider gives up after a 44xx close; a deliberate `connect()` resumes it.
  provider.on('closed', ({ code }) => {
    if (code !== tokenExpiredCloseCode || lost) return
    if (!access.canMint) {
      lose('link-expired')
      return
    }
    renew().then(() => provider.connect(), (err: unknown) => {
      loseIfRefused(err)
      if (!lost) provider.connect()
    })
  })
}

/** Whether the relay checks tokens, and whether it mints session tokens and share links. */
interface ServerInfo {
  readonly auth: boolean
  readonly canMint: boolean
}

async function fetchInfo (origin: string): Promise<ServerInfo> {
  const response = await fetch(`${origin}/api/info`, { cache: 'no-store' })
  if (!response.ok) throw new Error(`GET /api/info answered ${response.status}`)
  const body = await response.json() as Partial<ServerInfo>
  return { auth: body.auth === true, canMint: body.canMint === true }
}

/**
 * A session token for `link` from the relay at `origin`. Rejects with
 * `AccessRefusedError` when the relay refuses the link token, and with
 * another error when it cannot be reached or fails.
 */
async function requestSessionToken (origin: string, link: string): Promise<string> {
  const response = await fetch(`${origin}/api/token`, { method: 'POST', headers: { authorization: `Bearer ${link}` } })
  const body = await response.json().catch(() => ({})) as { token?: unknown, code?: unknown, error?: unknown }
  if (response.status === 401) {
    const problem: AccessProblem = body.code === 'expired' ? 'link-expired' : 'link-invalid'
    throw new AccessRefusedError(problem, typeof body.error === 'string' ? body.error : 'POST /api/token answered 401')
  }
  if (!response.ok || typeof body.token !== 'string') throw new Error(`POST /api/token answered ${response.status}`)
  return body.token
}

/** Runs `attempt` until it resolves or rejects with `AccessRefusedError`, waiting longer after each failure. */
async function retrying<T> (attempt: () => Promise<T>): Promise<T> {
  for (let delayMs = 250; ; delayMs = Math.min(delayMs * 2, maxRetryDelayMs)) {
    try {
      return await attempt()
    } catch (err) {
      if (err instanceof AccessRefusedError) throw err
      await new Promise((resolve) => setTimeout(resolve, delayMs))
    }
  }
}
