/**
 * Serves the built editor: files from one folder, and `index.html` for `/`
 * and every document page (`/d/<name>`).
 */
import { readFile, stat } from 'node:fs/promises'
import { join, normalize, extname, sep } from 'node:path'
import type { IncomingMessage, ServerResponse } from 'node:http'

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.webmanifest': 'application/manifest+json',
  '.woff2': 'font/woff2',
  '.map': 'application/json'
}

/** A request handler for the editor's files; answers false when the path is not its own. */
export type StaticHandler = (req: IncomingMessage, res: ServerResponse, path: string) => Promise<boolean>

/**
 * Serves files below `root`. Paths outside it are never read. Files under
 * `/assets/` carry content hashes in their names and are cached for a year;
 * the page itself is revalidated on every load.
 */
export function serveEditor (root: string): StaticHandler {
  const base = normalize(root + sep)
  return async (req, res, path) => {
    const page = path === '/' || path.startsWith('/d/')
    const file = page ? join(base, 'index.html') : normalize(join(base, path))
    if (!file.startsWith(base)) return false
    let body: Buffer
    try {
      if (!(await stat(file)).isFile()) return false
      body = await readFile(file)
    } catch {
      if (page) {
        res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' })
        res.end('The editor is not built. Run `npm run build` (or `npm start`).\n')
        return true
      }
      return false
    }
    res.writeHead(200, {
      'content-type': contentTypes[extname(file)] ?? 'application/octet-stream',
      'content-length': body.length,
      'cache-control': path.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
      'x-content-type-options': 'nosniff',
      // The editor loads only its own code and talks only to its own origin ('self' covers ws: and
      // wss: there); CodeMirror injects style elements, hence inline styles.
      'content-security-policy': "default-src 'self'; connect-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
      'referrer-policy': 'no-referrer'
    })
    res.end(req.method === 'HEAD' ? undefined : body)
    return true
  }
}
