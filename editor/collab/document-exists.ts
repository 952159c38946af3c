/**
 * Asks the relay whether a document exists (`GET /api/exists/{name}`), so
 * the page can say so before it opens a blank one.
 */

/**
 * Whether document `name` exists on the relay at `origin`, asked with
 * `token` as bearer when access control needs one. Null when the relay
 * cannot tell (unreachable, an older relay, a store that cannot say): the
 * page then opens the document as before; this is a convenience, never a
 * lock.
 */
export async function documentExists (origin: string, name: string, token: string | null): Promise<boolean | null> {
  try {
    const response = await fetch(`${origin}/api/exists/${encodeURIComponent(name)}`, {
      cache: 'no-store',
      headers: token === null ? {} : { authorization: `Bearer ${token}` }
    })
    if (!response.ok) return null
    const body = await response.json() as { exists?: unknown }
    return typeof body.exists === 'boolean' ? body.exists : null
  } catch {
    return null
  }
}
