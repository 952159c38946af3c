/**
 * Links that let others into a document, made by the relay for someone who
 * may edit it (`POST /api/share`).
 */
import { documentPath } from './document-name.js'
import { tokenQueryParam } from './access.js'

/** A pair of fresh links to one document. */
export interface ShareLinks {
  /** Opens the document for editing. */
  readonly edit: string
  /** Opens the document read-only. */
  readonly view: string
  /** When both links stop working. */
  readonly expiresAt: Date
}

/** The page address that opens document `name` at `origin` with `token`. */
export function linkTo (origin: string, name: string, token: string): string {
  return `${origin}${documentPath(name)}?${tokenQueryParam}=${encodeURIComponent(token)}`
}

/**
 * Asks the relay at `origin` for an edit link and a view link to document
 * `name`, showing it the link token `link` (which must allow writing).
 * Rejects with the relay's explanation when it refuses.
 */
export async function requestShareLinks (origin: string, name: string, link: string): Promise<ShareLinks> {
  const response = await fetch(`${origin}/api/share`, {
    method: 'POST',
    headers: { authorization: `Bearer ${link}`, 'content-type': 'application/json' },
    body: JSON.stringify({ doc: name })
  })
  const body = await response.json().catch(() => ({})) as { edit?: unknown, view?: unknown, expiresAt?: unknown, error?: unknown }
  if (!response.ok || typeof body.edit !== 'string' || typeof body.view !== 'string' || typeof body.expiresAt !== 'string') {
    throw new Error(typeof body.error === 'string' ? body.error : `the server answered ${response.status}`)
  }
  return { edit: linkTo(origin, name, body.edit), view: linkTo(origin, name, body.view), expiresAt: new Date(body.expiresAt) }
}

/**
 * The page address `href` without its access token: it opens the document
 * for no one who has no access of their own.
 */
export function addressWithoutAccess (href: string): string {
  const url = new URL(href)
  url.searchParams.delete(tokenQueryParam)
  return url.href
}
