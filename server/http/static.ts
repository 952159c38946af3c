/**
 * Serves the built editor: files from one folder, and `index.html` for `/`
 * and every document page (`/d/<name>`), compressed with Brotli or gzip
 * when the browser takes it (the editor's script is about a third of its
 * size gzipped).
 */
import { readFile, stat } from 'node:fs/promises'
import { join, normalize, extname, sep } from 'node:path'
import { promisify } from 'node:util'
import { brotliCompress, constants as zlibConstants, gzip } from 'node:zlib'
import type { IncomingMessage, ServerResponse } from 'node:http'

const brotli = promisify(brotliCompress)
const gzipped = promisify(gzip)

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

/** Types worth compressing: text. Images and fonts are compressed already. */
const compressible = new Set(['.html', '.js', '.css', '.svg', '.json', '.webmanifest', '.map'])

/** A file as served: its bytes, and for text its Brotli and gzip encodings. */
interface Prepared {
  readonly mtimeMs: number
  readonly size: number
  readonly identity: Buffer
  readonly br: Buffer | null
  readonly gzip: Buffer | null
}

/** Reads `file` and compresses it if it is text (once per version of the file: callers cache the result). */
async function prepare (file: string, mtimeMs: number, size: number): Promise<Prepared> {
  const identity = await readFile(file)
  if (!compressible.has(extname(file)) || identity.length < 1024) return { mtimeMs, size, identity, br: null, gzip: null }
  const [br, gz] = await Promise.all([
    brotli(identity, { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 9, [zlibConstants.BROTLI_PARAM_SIZE_HINT]: identity.length } }),
    gzipped(identity, { level: 9 })
  ])
  return { mtimeMs, size, identity, br, gzip: gz }
}

/** The encoding to send for `accept` (an Accept-Encoding header): br, then gzip, else none. */
function pickEncoding (accept: string | undefined, prepared: Prepared): 'br' | 'gzip' | null {
  if (accept === undefined) return null
  const offered = new Set<string>()
  for (const part of accept.split(',')) {
    const [name, ...params] = part.split(';').map((piece) => piece.trim().toLowerCase())
    const quality = params.find((param) => param.startsWith('q='))
    if (name !== '' && (quality === undefined || Number(quality.slice(2)) > 0)) offered.add(name)
  }
  if (prepared.br && offered.has('br')) return 'br'
  if (prepared.gzip && offered.has('gzip')) return 'gzip'
  return null
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
  /** Files read and compressed, by path; a file is prepared again when its size or time changes. */
  const prepared = new Map<string, Promise<Prepared>>()
  return async (req, res, path) => {
    const page = path === '/' || path.startsWith('/d/')
    const file = page ? join(base, 'index.html') : normalize(join(base, path))
    if (!file.startsWith(base)) return false
    let served: Prepared
    try {
      const info = await stat(file)
      if (!info.isFile()) return false
      let entry = prepared.get(file)
      const known = entry && await entry
      if (!known || known.mtimeMs !== info.mtimeMs || known.size !== info.size) {
        entry = prepare(file, info.mtimeMs, info.size)
        prepared.set(file, entry)
        entry.catch(() => prepared.delete(file))
      }
      served = await (entry as Promise<Prepared>)
    } catch {
      if (page) {
        res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' })
        res.end('The editor is not built. Run `npm run build` (or `npm start`).\n')
        return true
      }
      return false
    }
    const encoding = pickEncoding(req.headers['accept-encoding'], served)
    const body = encoding === 'br' ? served.br as Buffer : encoding === 'gzip' ? served.gzip as Buffer : served.identity
    const headers: Record<string, string | number> = {
      'content-type': contentTypes[extname(file)] ?? 'application/octet-stream',
      'content-length': body.length,
      'cache-control': path.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
      'x-content-type-options': 'nosniff',
      // The editor loads only its own code and talks only to its own origin ('self' covers ws: and
      // wss: there); CodeMirror injects style elements, hence inline styles.
      'content-security-policy': "default-src 'self'; connect-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
      'referrer-policy': 'no-referrer'
    }
    if (served.br) headers.vary = 'accept-encoding'
    if (encoding) headers['content-encoding'] = encoding
    res.writeHead(200, headers)
    res.end(req.method === 'HEAD' ? undefined : body)
    return true
  }
}
