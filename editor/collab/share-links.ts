/**
 * Links that let others into a document, made by the relay
 * (`POST /api/share`): a view link, and for someone who may edit, an edit
 * link, both expiring when the sharer chose (or never), but never after the
 * sharer's own link.
 */
import { documentPath } from './document-name.js'
import { tokenQueryParam, type Permission } from './access.js'

/** Links to one document, made together. */
export interface ShareLinks {
  /** Opens the document for editing; null when the sharer may only view it. */
  readonly edit: string | null
  /** Opens the document read-only. */
  readonly view: string
  /** When both links stop working; null when they never do. */
  readonly expiresAt: Date | null
}

/** How long the links the sharer can choose from last, in seconds; null never expires. */
export const shareExpiries: ReadonlyArray<{ readonly label: string, readonly seconds: number | null }> = [
  { label: '1 day', seconds: 86_400 },
  { label: '7 days', seconds: 7 * 86_400 },
  { label: '30 days', seconds: 30 * 86_400 },
  { label: 'Never', seconds: null }
]

/** The expiry chosen until the sharer picks another: 7 days. */
export const defaultShareExpirySeconds = 7 * 86_400

/** Who asks for links, and for which document. */
export interface ShareRequest {
  /** The relay's origin, e.g. `https://notes.example`. */
  readonly origin: string
  /** The document's name. */
  readonly name: string
  /** The sharer's own link token; null where the relay needs none (it runs open). */
  readonly token: string | null
}

/** The page address that opens document `name` at `origin` with `token`. */
export function linkTo (origin: string, name: string, token: string): string {
  return `${origin}${documentPath(name)}?${tokenQueryParam}=${encodeURIComponent(token)}`
}

/** The link of `links` that grants `permission`; null for an edit link the sharer cannot make. */
export function linkFor (links: ShareLinks, permission: Permission): string | null {
  return permission === 'write' ? links.edit : links.view
}

/**
 * Asks the relay for links to `request.name` that expire in `expiresInSeconds`
 * (null: never). Rejects with the relay's explanation when it refuses.
 */
export async function requestShareLinks (request: ShareRequest, expiresInSeconds: number | null): Promise<ShareLinks> {
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  if (request.token !== null) headers.authorization = `Bearer ${request.token}`
  const response = await fetch(`${request.origin}/api/share`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ doc: request.name, expiresIn: expiresInSeconds })
  })
  const body = await response.json().catch(() => ({})) as { edit?: unknown, view?: unknown, expiresAt?: unknown, error?: unknown }
  if (!response.ok || typeof body.view !== 'string' || (typeof body.expiresAt !== 'string' && body.expiresAt !== null)) {
    throw new Error(typeof body.error === 'string' ? body.error : `the server answered ${response.status}`)
  }
  return {
    edit: typeof body.edit === 'string' ? linkTo(request.origin, request.name, body.edit) : null,
    view: linkTo(request.origin, request.name, body.view),
    expiresAt: typeof body.expiresAt === 'string' ? new Date(body.expiresAt) : null
  }
}
