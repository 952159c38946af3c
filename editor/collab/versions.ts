/**
 * The document's history as the page reads and writes it: the relay's
 * `/api/documents/{name}/versions` routes, with the page's own token.
 */

/** One version, as the relay lists it. */
export interface Version {
  readonly id: number
  readonly createdAt: Date
  /** Null for versions the relay recorded by itself. */
  readonly name: string | null
  readonly authors: readonly string[]
}

/** Calls the history routes of document `name` on `origin`, authorized by `token()` (null: the relay runs open). */
export class VersionsClient {
  constructor (private readonly origin: string, private readonly name: string, private readonly token: () => string | null) {}

  /** The versions, newest first. */
  async list (): Promise<Version[]> {
    const body = await this.call('GET', '') as { versions: Array<{ id: number, createdAt: string, name: string | null, authors: string[] }> }
    return body.versions.map((version) => ({ ...version, createdAt: new Date(version.createdAt) })).reverse()
  }

  /** Records the document as it is now, named `name`. */
  async create (name: string): Promise<void> {
    await this.call('POST', '', JSON.stringify({ name }))
  }

  /** The text of version `id`. */
  async text (id: number): Promise<string> {
    return await this.call('GET', `/${id}/text`) as string
  }

  private async call (method: string, path: string, body?: string): Promise<unknown> {
    const headers: Record<string, string> = {}
    const token = this.token()
    if (token !== null) headers.authorization = `Bearer ${token}`
    if (body !== undefined) headers['content-type'] = 'application/json'
    const response = await fetch(`${this.origin}/api/documents/${encodeURIComponent(this.name)}/versions${path}`, { method, headers, body, cache: 'no-store' })
    const json = (response.headers.get('content-type') ?? '').startsWith('application/json')
    const answer: unknown = json ? await response.json() : await response.text()
    if (!response.ok) {
      const message = json ? (answer as { error?: { message?: string } }).error?.message : undefined
      throw new Error(message ?? `the server answered ${response.status}`)
    }
    return answer
  }
}
