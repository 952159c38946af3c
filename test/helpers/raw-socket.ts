/**
 * Sockets below the stock client, for tests that misbehave on purpose: plain
 * TCP connections that write hand-made HTTP requests and WebSocket frames,
 * and `ws` sockets that send whatever bytes a test gives them. Every socket
 * is destroyed after the test that opened it.
 */
import { connect, type Socket } from 'node:net'
import { randomBytes } from 'node:crypto'
import WebSocket from 'ws'
import type { Relay } from '../../server/relay.js'
import { encodeSyncStep1, messageSync, syncStep2, syncUpdate } from '../../server/protocol/messages.js'
import { onTeardown } from './relay.js'

/** WebSocket opcodes (RFC 6455 §5.2). */
export const Opcode = {
  continuation: 0x0,
  text: 0x1,
  binary: 0x2,
  close: 0x8,
  ping: 0x9,
  pong: 0xa
} as const

/** The three reserved header bits, to set with `rsv`. */
export const Rsv = { rsv1: 0x40, rsv2: 0x20, rsv3: 0x10 } as const

/** One hand-made WebSocket frame. */
export interface FrameSpec {
  readonly opcode: number
  /** Defaults to empty. */
  readonly payload?: Uint8Array
  /** FIN bit; defaults to true. */
  readonly fin?: boolean
  /** Reserved bits (`Rsv.*` or-ed together); defaults to none. */
  readonly rsv?: number
  /** Whether to mask the payload as a client must; defaults to true. */
  readonly masked?: boolean
  /** The payload length written in the header, when it should lie; defaults to the payload's length. */
  readonly declaredLength?: number
}

/**
 * Encodes one frame exactly as described, valid or not. The header uses the
 * shortest length form for `declaredLength` (7 bits, 16 bits or 64 bits).
 */
export function encodeFrame (spec: FrameSpec): Buffer {
  const payload = Buffer.from(spec.payload ?? new Uint8Array(0))
  const length = spec.declaredLength ?? payload.length
  const masked = spec.masked ?? true
  const first = ((spec.fin ?? true) ? 0x80 : 0) | (spec.rsv ?? 0) | (spec.opcode & 0x0f)
  let header: Buffer
  if (length < 126) {
    header = Buffer.from([first, length])
  } else if (length < 0x10000) {
    header = Buffer.alloc(4)
    header[0] = first
    header[1] = 126
    header.writeUInt16BE(length, 2)
  } else {
    header = Buffer.alloc(10)
    header[0] = first
    header[1] = 127
    header.writeBigUInt64BE(BigInt(length), 2)
  }
  if (!masked) return Buffer.concat([header, payload])
  header[1] |= 0x80
  const mask = randomBytes(4)
  const body = Buffer.alloc(payload.length)
  for (let i = 0; i < payload.length; i++) body[i] = payload[i] ^ mask[i & 3]
  return Buffer.concat([header, mask, body])
}

/** The payload of a close frame: a 16-bit code and a UTF-8 reason. */
export function closePayload (code: number, reason = ''): Buffer {
  const payload = Buffer.alloc(2 + Buffer.byteLength(reason))
  payload.writeUInt16BE(code, 0)
  payload.write(reason, 2)
  return payload
}

/** A frame the server sent (servers never mask). */
export interface ServerFrame {
  readonly fin: boolean
  readonly opcode: number
  readonly payload: Buffer
}

/** A plain TCP connection to a relay, recording everything the server sends. */
export class RawConnection {
  private received = Buffer.alloc(0)
  private readonly waiters = new Set<() => void>()
  /** Whether the server ended or reset the connection. */
  ended = false
  /** Resolves once the connection is gone, whoever ended it. */
  readonly gone: Promise<void>

  constructor (readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.received = Buffer.concat([this.received, chunk])
      this.notify()
    })
    socket.on('error', () => {})
    this.gone = new Promise((resolve) => socket.once('close', () => {
      this.ended = true
      this.notify()
      resolve()
    }))
  }

  /** Everything the server sent so far. */
  get bytes (): Buffer {
    return this.received
  }

  /** Writes bytes as they are; resolves once the kernel took them (or the socket died). */
  async write (bytes: Uint8Array | string): Promise<void> {
    if (this.socket.destroyed) return
    await new Promise<void>((resolve) => this.socket.write(bytes, () => resolve()))
  }

  /** Resolves when `predicate` holds after some bytes arrived or the connection ended; rejects after `timeoutMs`. */
  async until (predicate: () => boolean, timeoutMs = 5_000, what = 'server bytes'): Promise<void> {
    if (predicate()) return
    await new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (!predicate()) return
        clearTimeout(timer)
        this.waiters.delete(check)
        resolve()
      }
      const timer = setTimeout(() => {
        this.waiters.delete(check)
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`))
      }, timeoutMs)
      this.waiters.add(check)
    })
  }

  private notify (): void {
    for (const waiter of [...this.waiters]) waiter()
  }
}

/** Opens a TCP connection to a relay's port on 127.0.0.1; destroyed after the test. */
export async function openTcp (relay: Relay): Promise<RawConnection> {
  const socket = connect({ host: '127.0.0.1', port: relay.port })
  onTeardown(() => { socket.destroy() })
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  return new RawConnection(socket)
}

/**
 * The start of a WebSocket upgrade request for `path`, up to and including
 * the blank line unless `complete` is false. `headers` are added as given.
 */
export function upgradeRequest (relay: Relay, path: string, headers: Record<string, string> = {}, complete = true): string {
  const lines = [
    `GET ${path} HTTP/1.1`,
    `Host: 127.0.0.1:${relay.port}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
    'Sec-WebSocket-Version: 13',
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`)
  ]
  return lines.join('\r\n') + (complete ? '\r\n\r\n' : '\r\n')
}

/** A raw TCP connection that finished the WebSocket handshake and reads the server's frames. */
export class RawWebSocket {
  private offset: number

  constructor (readonly connection: RawConnection, headerEnd: number) {
    this.offset = headerEnd
  }

  /** Writes one hand-made frame. */
  async send (spec: FrameSpec): Promise<void> {
    await this.connection.write(encodeFrame(spec))
  }

  /** Writes raw bytes (several frames, half a frame…). */
  async write (bytes: Uint8Array): Promise<void> {
    await this.connection.write(bytes)
  }

  /** Every complete frame the server sent since the handshake. */
  frames (): ServerFrame[] {
    const frames: ServerFrame[] = []
    const bytes = this.connection.bytes
    let at = this.offset
    for (;;) {
      if (bytes.length < at + 2) break
      const fin = (bytes[at] & 0x80) !== 0
      const opcode = bytes[at] & 0x0f
      let length = bytes[at + 1] & 0x7f
      let start = at + 2
      if (length === 126) {
        if (bytes.length < at + 4) break
        length = bytes.readUInt16BE(at + 2)
        start = at + 4
      } else if (length === 127) {
        if (bytes.length < at + 10) break
        length = Number(bytes.readBigUInt64BE(at + 2))
        start = at + 10
      }
      if (bytes.length < start + length) break
      frames.push({ fin, opcode, payload: bytes.subarray(start, start + length) })
      at = start + length
    }
    return frames
  }

  /**
   * Resolves with the code of the server's close frame, or null when the
   * connection ended without one. Rejects after `timeoutMs`.
   */
  async closeCode (timeoutMs = 5_000): Promise<number | null> {
    const closeFrame = (): ServerFrame | undefined => this.frames().find((f) => f.opcode === Opcode.close)
    await this.connection.until(() => closeFrame() !== undefined || this.connection.ended, timeoutMs, 'a close frame')
    const frame = closeFrame()
    if (!frame) return null
    return frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : 1005
  }
}

/** Thrown by `rawUpgrade` when the server answers the handshake with another status than 101. */
export class UpgradeRefused extends Error {
  constructor (readonly status: number) {
    super(`upgrade refused with HTTP ${status}`)
  }
}

/**
 * Performs the WebSocket handshake for `path` over a raw TCP connection.
 * Rejects with `UpgradeRefused` when the server answers with another status.
 */
export async function rawUpgrade (relay: Relay, path: string, headers: Record<string, string> = {}): Promise<RawWebSocket> {
  const connection = await openTcp(relay)
  await connection.write(upgradeRequest(relay, path, headers))
  const headerEnd = (): number => connection.bytes.indexOf('\r\n\r\n')
  await connection.until(() => headerEnd() !== -1 || connection.ended, 5_000, 'the handshake response')
  const status = httpStatus(connection.bytes)
  if (status !== 101) throw new UpgradeRefused(status)
  return new RawWebSocket(connection, headerEnd() + 4)
}

/** The status code of an HTTP response's first line, or 0 when there is none. */
export function httpStatus (response: Buffer): number {
  const match = /^HTTP\/1\.1 (\d{3})/.exec(response.subarray(0, 32).toString('latin1'))
  return match ? Number(match[1]) : 0
}

/** `ws://` URL of a room on a relay, with optional query parameters. */
export function roomUrl (relay: Pick<Relay, 'url'>, room: string, params: Record<string, string> = {}): string {
  const query = new URLSearchParams(params).toString()
  return `${relay.url.replace(/^http/, 'ws')}/${encodeURIComponent(room)}${query ? `?${query}` : ''}`
}

/**
 * Opens a `ws` socket (no Yjs behind it) to a room and resolves once it is
 * open; terminated after the test. Rejects with `UpgradeRefused` for a
 * refused handshake.
 */
export async function openWebSocket (relay: Pick<Relay, 'url'>, room: string, params: Record<string, string> = {}, options: WebSocket.ClientOptions = {}): Promise<WebSocket> {
  const socket = new WebSocket(roomUrl(relay, room, params), options)
  onTeardown(() => socket.terminate())
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve())
    socket.once('unexpected-response', (_req, res) => {
      reject(new UpgradeRefused(res.statusCode ?? 0))
      res.resume()
      socket.terminate()
    })
    socket.once('error', reject)
  })
  return socket
}

/** The HTTP status a WebSocket upgrade to a room gets (101 when it opens; the socket is then closed). */
export async function upgradeStatus (relay: Relay, room: string, params: Record<string, string> = {}, options: WebSocket.ClientOptions = {}): Promise<number> {
  try {
    const socket = await openWebSocket(relay, room, params, options)
    socket.terminate()
    return 101
  } catch (err) {
    if (err instanceof UpgradeRefused) return err.status
    throw err
  }
}

/**
 * Resolves with the close code a `ws` socket ends with (1006 when it ended
 * without a close frame); rejects if it is still open after `timeoutMs`.
 * Call it before the close can happen.
 */
export async function closeCodeOf (socket: WebSocket, timeoutMs = 10_000): Promise<number> {
  if (socket.readyState === WebSocket.CLOSED) throw new Error('socket already closed; call closeCodeOf before it closes')
  return await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`socket still open after ${timeoutMs} ms`)), timeoutMs)
    socket.once('close', (code) => {
      clearTimeout(timer)
      resolve(code)
    })
  })
}

/**
 * Records every message the server sends on a `ws` socket from now on, in
 * arrival order and as Buffers whatever the socket's `binaryType`; the
 * returned array grows as messages arrive.
 */
export function recordMessages (socket: WebSocket): Buffer[] {
  const messages: Buffer[] = []
  socket.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
    messages.push(Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data))
  })
  return messages
}

/** The sync update messages (`[messageSync, syncUpdate, …]`) among `messages`. */
export function syncUpdatesIn (messages: readonly Buffer[]): Buffer[] {
  return messages.filter((data) => data.length >= 2 && data[0] === messageSync && data[1] === syncUpdate)
}

/** Whether a server message is a sync step 2 (the answer to a step 1). */
function isSyncStep2 (data: Buffer): boolean {
  return data.length >= 2 && data[0] === messageSync && data[1] === syncStep2
}

/**
 * Sends `frames` on an open `ws` socket, then a sync step 1, and resolves
 * with 'answered' once the server's answer to that step 1 arrives, or with
 * the close code if the server closes the socket first. The server handles
 * a connection's messages in order, so 'answered' means every frame before
 * was handled and did not end the connection.
 */
export async function sendThenProbe (socket: WebSocket, ...frames: Uint8Array[]): Promise<'answered' | number> {
  const outcome = new Promise<'answered' | number>((resolve) => {
    const onMessage = (data: Buffer): void => {
      if (!isSyncStep2(data)) return
      socket.off('close', onClose)
      socket.off('message', onMessage)
      resolve('answered')
    }
    const onClose = (code: number): void => {
      socket.off('message', onMessage)
      resolve(code)
    }
    socket.on('message', onMessage)
    socket.once('close', onClose)
  })
  for (const frame of frames) socket.send(frame)
  socket.send(encodeSyncStep1(Uint8Array.of(0)))
  return await outcome
}

/**
 * Joins `room` with a fresh socket, asks for the whole document (sync step 1
 * with an empty state vector) and resolves with the update the server
 * answers. The answer waits for a room rebuild and for earlier writes to be
 * durable, so it also tells that the room has settled.
 */
export async function fetchDocument (relay: Relay, room: string, params: Record<string, string> = {}): Promise<Uint8Array> {
  const socket = await openWebSocket(relay, room, params)
  try {
    const answer = new Promise<Uint8Array>((resolve, reject) => {
      socket.on('message', (data: Buffer) => {
        if (isSyncStep2(data)) resolve(new Uint8Array(data.subarray(2 + varUintLength(data, 2))))
      })
      socket.once('close', (code) => reject(new Error(`closed with ${code} before answering`)))
    })
    socket.send(encodeSyncStep1(Uint8Array.of(0)))
    return await answer
  } finally {
    socket.terminate()
  }
}

/** Bytes taken by the varUint at `at`. */
function varUintLength (bytes: Uint8Array, at: number): number {
  let length = 1
  while (bytes[at + length - 1] >= 0x80) length++
  return length
}
