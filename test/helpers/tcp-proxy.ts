/**
 * A TCP proxy on 127.0.0.1 (port 0) in front of a PostgreSQL server, for
 * fault injection: the test decides when the database connection breaks,
 * down to the message the client is sending. It reads the frontend side of
 * PostgreSQL's wire protocol (a startup message without a type byte, then
 * messages of a 1-byte type and an int32 length that counts itself) to tell
 * messages apart; what the server sends is passed on unread.
 *
 * Contract:
 * - Pass-through (the initial state, and after `restore`): bytes flow both
 *   ways unchanged; closing or resetting one side closes the other.
 * - `cutWhen(predicate)`: the first frontend message on any connection for
 *   which `predicate` holds cuts every connection (both sockets destroyed),
 *   and the proxy then refuses new connections until `restore`. The message
 *   itself reaches the server first only with `{ forward: true }` — then
 *   the server may well act on it (a `COMMIT` may commit) although the
 *   client never hears back. The promise resolves with that message.
 * - `hang()`: nothing is forwarded either way on any connection, current or
 *   new, and nothing is closed; bytes that arrive meanwhile are held, in
 *   order, and go out on `restore`. A side that closes still closes the other.
 * - `refuse()`: new connections are accepted and destroyed at once (the
 *   client sees its connection reset); open ones keep working.
 * - `restore()`: back to pass-through; disarms a `cutWhen` that has not fired.
 * - `close()`: destroys every connection and stops listening.
 * Only Query ('Q') and Parse ('P') messages are held back whole until
 * complete (so `sql` can be read); every other message streams through, so a
 * large Bind costs the proxy no memory.
 */
import { createServer, connect, type Server, type Socket } from 'node:net'

/** One message a client sent to the server. */
export interface FrontendMessage {
  /** The type byte as a character ('Q' query, 'P' parse, 'B' bind, 'E' execute, 'S' sync…); '' for startup messages. */
  readonly type: string
  /** The SQL text of a Query or Parse message; null for other messages. */
  readonly sql: string | null
}

/** A proxy in front of one PostgreSQL server. */
export interface TcpProxy {
  /** The port it listens on, on 127.0.0.1. */
  readonly port: number
  /** Bytes clients sent through the proxy so far. */
  readonly bytesFromClients: number
  /** Connections open through the proxy. */
  readonly connections: number
  /** Called with every frontend message, as its type byte (and for 'Q'/'P' its text) arrives. */
  onMessage: (message: FrontendMessage) => void
  /** `connectionString` with its host and port replaced by the proxy's. */
  url (connectionString: string): string
  /** Cuts every connection at the first message matching `predicate`, then refuses connections (see the module comment). */
  cutWhen (predicate: (message: FrontendMessage) => boolean, options?: { readonly forward?: boolean }): Promise<FrontendMessage>
  /** Stops forwarding in both directions without closing anything. */
  hang (): void
  /** Resets new connections; open ones keep working. */
  refuse (): void
  /** Passes everything through again, held bytes first. */
  restore (): void
  /** Destroys every connection and stops listening. */
  close (): Promise<void>
}

interface Cut {
  readonly predicate: (message: FrontendMessage) => boolean
  readonly forward: boolean
  resolve (message: FrontendMessage): void
}

/** A piece of the client's byte stream: a message start (with the message) or the rest of a body. */
interface Piece {
  readonly message: FrontendMessage | null
  readonly bytes: Buffer
}

const sslRequestCode = 80877103
const gssEncRequestCode = 80877104

/**
 * Splits a client's byte stream into pieces at message boundaries. A piece
 * that starts a message carries it; Query and Parse messages come whole.
 */
class FrontendReader {
  private startup = true
  /** Bytes of a header (or a whole Query/Parse) not complete yet. */
  private partial = Buffer.alloc(0)
  /** Bytes of the current streamed body still to come. */
  private streaming = 0

  read (chunk: Buffer): Piece[] {
    const pieces: Piece[] = []
    let data = this.partial.length > 0 ? Buffer.concat([this.partial, chunk]) : chunk
    this.partial = Buffer.alloc(0)
    while (data.length > 0) {
      if (this.streaming > 0) {
        const take = Math.min(this.streaming, data.length)
        pieces.push({ message: null, bytes: data.subarray(0, take) })
        this.streaming -= take
        data = data.subarray(take)
        continue
      }
      const headerLength = this.startup ? 4 : 5
      if (data.length < headerLength) break
      const length = data.readInt32BE(this.startup ? 0 : 1) // counts itself, not the type byte
      const total = length + (this.startup ? 0 : 1)
      if (this.startup) {
        if (data.length < Math.min(total, 8)) break
        const code = data.readInt32BE(4)
        if (code !== sslRequestCode && code !== gssEncRequestCode) this.startup = false
        pieces.push({ message: { type: '', sql: null }, bytes: data.subarray(0, Math.min(total, data.length)) })
        this.streaming = total - Math.min(total, data.length)
        data = data.subarray(Math.min(total, data.length))
        continue
      }
      const type = String.fromCharCode(data[0])
      if (type === 'Q' || type === 'P') {
        if (data.length < total) break
        const body = data.subarray(5, total)
        // Query: the text. Parse: a statement name, then the text; both NUL-terminated.
        const textStart = type === 'Q' ? 0 : body.indexOf(0) + 1
        const sql = body.subarray(textStart, body.indexOf(0, textStart)).toString('utf8')
        pieces.push({ message: { type, sql }, bytes: data.subarray(0, total) })
        data = data.subarray(total)
        continue
      }
      pieces.push({ message: { type, sql: null }, bytes: data.subarray(0, 5) })
      this.streaming = total - 5
      data = data.subarray(5)
    }
    if (data.length > 0) this.partial = Buffer.from(data)
    return pieces
  }
}

interface Pair {
  readonly client: Socket
  readonly server: Socket
  readonly reader: FrontendReader
  /** Bytes held while hung, per direction. */
  readonly toServer: Buffer[]
  readonly toClient: Buffer[]
  /** Set when the server side is ending gracefully after a forwarded last message. */
  draining: boolean
}

/** Starts a proxy to `target` (default PostgreSQL on 127.0.0.1:5432), listening on 127.0.0.1 port 0. */
export async function startTcpProxy (target: { host: string, port: number } = { host: '127.0.0.1', port: 5432 }): Promise<TcpProxy> {
  const pairs = new Set<Pair>()
  let mode: 'pass' | 'hang' | 'refuse' = 'pass'
  let cut: Cut | null = null
  let bytesFromClients = 0

  const destroy = (pair: Pair): void => {
    pairs.delete(pair)
    pair.client.destroy()
    if (!pair.draining) pair.server.destroy()
  }

  const cutAll = (): void => {
    for (const pair of [...pairs]) destroy(pair)
    mode = 'refuse'
  }

  const toServer = (pair: Pair, bytes: Buffer): void => {
    if (mode === 'hang') pair.toServer.push(Buffer.from(bytes))
    else pair.server.write(bytes)
  }

  const fromClient = (pair: Pair, chunk: Buffer): void => {
    bytesFromClients += chunk.length
    for (const piece of pair.reader.read(chunk)) {
      if (!pairs.has(pair)) return
      if (piece.message) {
        proxy.onMessage(piece.message)
        if (cut && cut.predicate(piece.message)) {
          const fired = cut
          cut = null
          if (fired.forward) {
            // The server gets the message, then end of stream: destroying would drop unsent bytes.
            pair.draining = true
            pair.server.end(piece.bytes)
          }
          cutAll()
          fired.resolve(piece.message)
          return
        }
      }
      toServer(pair, piece.bytes)
    }
  }

  const server: Server = createServer((client) => {
    client.on('error', () => {}) // a reset shows as 'close'
    if (mode === 'refuse') {
      client.destroy()
      return
    }
    const upstream = connect(target.port, target.host)
    upstream.on('error', () => {})
    const pair: Pair = { client, server: upstream, reader: new FrontendReader(), toServer: [], toClient: [], draining: false }
    pairs.add(pair)
    client.on('data', (chunk: Buffer) => fromClient(pair, chunk))
    upstream.on('data', (chunk: Buffer) => {
      if (mode === 'hang') pair.toClient.push(chunk)
      else client.write(chunk)
    })
    client.on('close', () => destroy(pair))
    upstream.on('close', () => destroy(pair))
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const port = (server.address() as { port: number }).port

  const proxy: TcpProxy = {
    port,
    get bytesFromClients () { return bytesFromClients },
    get connections () { return pairs.size },
    onMessage: () => {},
    url (connectionString) {
      const url = new URL(connectionString)
      url.hostname = '127.0.0.1'
      url.port = String(port)
      return url.toString()
    },
    cutWhen (predicate, options = {}) {
      return new Promise((resolve) => { cut = { predicate, forward: options.forward ?? false, resolve } })
    },
    hang () {
      mode = 'hang'
    },
    refuse () {
      mode = 'refuse'
    },
    restore () {
      mode = 'pass'
      cut = null
      for (const pair of pairs) {
        for (const bytes of pair.toServer.splice(0)) pair.server.write(bytes)
        for (const bytes of pair.toClient.splice(0)) pair.client.write(bytes)
      }
    },
    async close () {
      for (const pair of [...pairs]) destroy(pair)
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
  return proxy
}
