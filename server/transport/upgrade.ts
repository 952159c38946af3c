/**
 * Admission of a WebSocket upgrade request: room name, origin, connection
 * limits and access token are all checked here, before the upgrade, so a
 * refused client gets a plain HTTP status (400, 401, 403, 429, 503). The
 * client's address is the socket's peer, or behind a trusted reverse proxy
 * the address its forwarding headers name.
 */
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { InvalidRoomNameError, queryParams, roomNameFromUrl } from './room-name.js'
import { grantCovers, TokenError, type TokenAuthority } from '../auth/tokens.js'
import { progressQueryParam, savedQueryParam } from '../protocol/messages.js'
import type { ConnectionGrant } from './connection.js'
import type { TrustedProxies } from './forwarded.js'

/** An upgrade request that is refused, with the HTTP status to answer. */
export class UpgradeRejection extends Error {
  override readonly name = 'UpgradeRejection'
  /** `byToken`: refused for its access token (missing, invalid, expired, or not opening the room). */
  constructor (readonly status: 400 | 401 | 403 | 429 | 503, message: string, readonly byToken = false) {
    super(message)
  }
}

/**
 * Counts open connections in total and per client address. Each socket is
 * counted against the address it was admitted with until it closes, so the
 * address a release uses is always the one its acquire used.
 */
export class ConnectionCounter {
  private total = 0
  private readonly byAddress = new Map<string, number>()
  private readonly addressOf = new WeakMap<Duplex, string>()
  // One listener shared by every socket (`this` is the socket) instead of a closure per socket.
  private readonly releaseSocket: (this: Duplex) => void

  constructor (private readonly maxTotal: number, private readonly maxPerAddress: number) {
    const counter = this
    this.releaseSocket = function () { counter.release(this) }
  }

  /**
   * Counts `socket` as one more connection from `address` until it closes,
   * or throws `UpgradeRejection` (503 at `maxTotal`, 429 at `maxPerAddress`)
   * without counting it.
   */
  hold (socket: Duplex, address: string): void {
    // A socket that already closed will not emit 'close' again: there is nothing to hold.
    if (socket.closed) return
    if (this.total >= this.maxTotal) throw new UpgradeRejection(503, 'the server is at its connection limit; try again later')
    const count = this.byAddress.get(address) ?? 0
    if (count >= this.maxPerAddress) throw new UpgradeRejection(429, 'too many connections from your address')
    this.total++
    this.byAddress.set(address, count + 1)
    this.addressOf.set(socket, address)
    socket.once('close', this.releaseSocket)
  }

  private release (socket: Duplex): void {
    const address = this.addressOf.get(socket)
    if (address === undefined) return
    this.addressOf.delete(socket)
    this.total--
    const count = (this.byAddress.get(address) ?? 1) - 1
    if (count <= 0) this.byAddress.delete(address)
    else this.byAddress.set(address, count)
  }
}

/** What admission needs from the relay. */
export interface AdmissionPolicy {
  readonly maxRoomNameLength: number
  /** Browser origins allowed to connect; null allows any. */
  readonly allowedOrigins: readonly string[] | null
  /** Verifies access tokens: with access control its authority, on an open server the server's own (`createOpenAuthority`). */
  readonly authority: TokenAuthority
  /**
   * Whether a connection needs a token. When false (an open server) one
   * without a token may edit, and one with a token gets exactly what the
   * token grants, or is refused when it is not valid.
   */
  readonly tokenRequired: boolean
  /** Proxies whose forwarding headers name the client (`trustProxy`). */
  readonly trustedProxies: TrustedProxies
}

/**
 * The address a request is counted and logged under: the socket's peer, or
 * behind a trusted proxy the client its forwarding headers name (see
 * `TrustedProxies.clientAddress`). Empty when the socket is already gone.
 */
export function clientAddress (req: IncomingMessage, policy: Pick<AdmissionPolicy, 'trustedProxies'>): string {
  return policy.trustedProxies.clientAddress(req.socket.remoteAddress ?? '', req.headers)
}

/**
 * Decides whether an upgrade request may join a room and with which rights.
 * The token comes from the `token` query parameter (how the stock client's
 * `params` send it) or an `Authorization: Bearer` header. A token, when
 * present, is always checked and grants exactly its permission, never more:
 * a read token is read-only on an open server too. Rejects with
 * `UpgradeRejection`.
 */
export async function admitUpgrade (req: IncomingMessage, policy: AdmissionPolicy): Promise<ConnectionGrant> {
  const url = req.url ?? '/'
  let room: string
  try {
    room = roomNameFromUrl(url, policy.maxRoomNameLength)
  } catch (err) {
    if (err instanceof InvalidRoomNameError) throw new UpgradeRejection(400, err.message)
    throw err
  }
  const origin = req.headers.origin
  if (policy.allowedOrigins && origin !== undefined && !policy.allowedOrigins.includes(origin)) {
    throw new UpgradeRejection(403, `origin ${origin} is not allowed`)
  }
  const params = queryParams(url)
  const address = clientAddress(req, policy)
  const wantsSaved = params.get(savedQueryParam) === '1'
  const wantsProgress = params.get(progressQueryParam) === '1'
  const token = params.get('token') ?? bearerToken(req.headers.authorization) ?? ''
  if (token === '' && !policy.tokenRequired) {
    return { room, readOnly: false, wantsSaved, wantsProgress, address, displayName: null, expiresAtMs: null, tokenId: null }
  }
  try {
    const grant = await policy.authority.verify(token)
    if (!grantCovers(grant, room)) throw new TokenError('forbidden', 'the access token does not open this document')
    // A token's signature identifies it, for the rooms-per-token budget.
    const tokenId = token.slice(token.lastIndexOf('.') + 1)
    return { room, readOnly: grant.permission === 'read', wantsSaved, wantsProgress, address, displayName: grant.name, expiresAtMs: grant.expiresAtMs, tokenId }
  } catch (err) {
    if (err instanceof TokenError) throw new UpgradeRejection(err.status, err.message, true)
    throw err
  }
}

/** The token of an `Authorization: Bearer <token>` header, if that is what it holds. */
export function bearerToken (header: string | undefined): string | null {
  const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null
  return match ? match[1] : null
}
