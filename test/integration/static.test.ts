/**
 * The editor's files over real HTTP: compressed for browsers that take it,
 * byte for byte the same once decompressed, and never compressed for those
 * that do not.
 */
import { describe, expect, it } from 'vitest'
import { request } from 'node:http'
import { brotliDecompressSync, gunzipSync } from 'node:zlib'
import { startEditorRelay } from '../e2e/editor-page.js'

/** GET `url` with `acceptEncoding`, without any decoding by the client. */
async function get (url: string, acceptEncoding?: string): Promise<{ status: number, headers: Record<string, string | string[] | undefined>, body: Buffer }> {
  return await new Promise((resolve, reject) => {
    const req = request(url, { headers: acceptEncoding === undefined ? {} : { 'accept-encoding': acceptEncoding } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }))
    })
    req.on('error', reject)
    req.end()
  })
}

describe('the editor files', () => {
  it('sends the script Brotli- or gzip-compressed as the browser asks, and the same bytes once decompressed', async () => {
    const relay = await startEditorRelay()
    const page = await get(`${relay.url}/`)
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(page.body.toString())?.[1]
    expect(script).toBeDefined()
    const plain = await get(`${relay.url}${script}`)
    expect(plain.headers['content-encoding']).toBeUndefined()
    expect(plain.body.length).toBeGreaterThan(100_000)

    const br = await get(`${relay.url}${script}`, 'gzip, deflate, br')
    expect(br.headers['content-encoding']).toBe('br')
    expect(br.headers.vary).toBe('accept-encoding')
    expect(Number(br.headers['content-length'])).toBe(br.body.length)
    expect(brotliDecompressSync(br.body).equals(plain.body)).toBe(true)
    expect(br.body.length).toBeLessThan(plain.body.length * 0.4)

    const gz = await get(`${relay.url}${script}`, 'gzip;q=1.0, br;q=0')
    expect(gz.headers['content-encoding']).toBe('gzip')
    expect(gunzipSync(gz.body).equals(plain.body)).toBe(true)

    expect((await get(`${relay.url}${script}`, 'identity')).headers['content-encoding']).toBeUndefined()
    // The page itself is compressed too, and still revalidated on every load.
    const compressedPage = await get(`${relay.url}/d/notes`, 'br')
    expect(compressedPage.headers['cache-control']).toBe('no-cache')
    expect(brotliDecompressSync(compressedPage.body).toString()).toBe(page.body.toString())
  })
})
