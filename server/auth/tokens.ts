/**
 * Signed access tokens (JWT, via `jose`). A token names the documents it
 * opens (an exact name, or a prefix ending in `*`), a permission (`read` or
 * `write`), an expiry and optionally the display name others see.
 *
 * Two kinds are in use: link tokens, put in share links and minted by
 * `POST /api/share`, `coedit token` or the operator's own backend; and
 * session tokens, short-lived, which the editor obtains for a link token
 * from `POST /api/token` and connects with.
 *
 * Keys: `AUTH_SECRET` signs and verifies (HS256). Without it the server signs
 * with its own key, which its store keeps (`DocStore.signingKey`): with
 * `AUTH_PUBLIC_KEY` it verifies tokens signed elsewhere and its own; with no
 * access control at all it verifies its own only. The own key gives each of
 * those two modes a key of its own (derived from the stored one), so links
 * anyone could make while the server ran open stop working once access
 * control is turned on.
 *
 * Expiry: a token signed with a key the server holds (`AUTH_SECRET` or its
 * own) may lack `exp`, and then never expires; the only way to end it is to
 * replace the key. A token signed elsewhere (`AUTH_PUBLIC_KEY`) must carry
 * `exp`: its issuer is expected to bound its life.
 */
import { SignJWT, decodeProtectedHeader, jwtVerify, errors } from 'jose'
import { createHmac, createPublicKey, createSecretKey, type KeyObject } from 'node:crypto'

/** What a token allows in its documents. */
export type Permission = 'read' | 'write'

/** The verified content of a token. */
export interface AccessGrant {
  /** An exact document name, or a prefix followed by `*`. */
  readonly doc: string
  readonly permission: Permission
  /** The display name others see; null lets the client choose. */
  readonly name: string | null
  /** Expiry, in milliseconds since the epoch; null when the token never expires. */
  readonly expiresAtMs: number | null
}

/** Why a token was refused. `missing`, `invalid` and `expired` answer 401; `forbidden` 403. */
export type TokenErrorCode = 'missing' | 'invalid' | 'expired' | 'forbidden'

/** A token that does not grant what was asked. */
export class TokenError extends Error {
  override readonly name = 'TokenError'
  constructor (readonly code: TokenErrorCode, message: string) {
    super(message)
  }

  /** The HTTP status to answer with. */
  get status (): 401 | 403 {
    return this.code === 'forbidden' ? 403 : 401
  }
}

/**
 * Where keys come from: a shared secret (HS256, can mint), or a public key
 * (verifies tokens signed elsewhere) with the server's own key to mint.
 */
export interface KeyConfig {
  /** HMAC secret; at least 32 characters. */
  readonly secret?: string | null
  /** PEM public key of the issuer: RSA (2048 bits or more), EC (P-256, P-384, P-521) or Ed25519. */
  readonly publicKeyPem?: string | null
  /** The server's own key (`DocStore.signingKey`); with a public key, it mints and verifies the server's own tokens. Ignored with a secret. */
  readonly ownKey?: Uint8Array | null
}

/** Checks and, with a key to sign with, issues tokens. */
export interface TokenAuthority {
  /** Whether this authority can mint tokens (it holds a secret or the server's own key). */
  readonly canMint: boolean
  /** Verifies signature, expiry and claims. Rejects with `TokenError`. */
  verify (token: string): Promise<AccessGrant>
  /**
   * Signs a token for `grant` that expires in `ttlSeconds` (at least 1), or
   * never when it is null; throws when only a public key is configured.
   */
  mint (grant: Omit<AccessGrant, 'expiresAtMs'>, ttlSeconds: number | null): Promise<string>
}

const issuer = 'coedit'

/** Which key setting is unusable: the secret, the public key, or both being set at once. */
export type KeySetting = 'secret' | 'publicKey' | 'both'

/** A secret or public key that cannot verify tokens, found before any token is. */
export class KeyConfigError extends Error {
  override readonly name = 'KeyConfigError'
  constructor (readonly setting: KeySetting, message: string) {
    super(message)
  }
}

/** Fewest bits of an RSA modulus; `jose` refuses to verify with smaller keys. */
const minRsaModulusBits = 2048

/** The JWS algorithms a public key verifies, by key type (and curve for EC). */
function algorithmsFor (key: KeyObject): string[] {
  const details = key.asymmetricKeyDetails ?? {}
  switch (key.asymmetricKeyType) {
    case 'rsa':
      if ((details.modulusLength ?? 0) < minRsaModulusBits) {
        throw new KeyConfigError('publicKey', `the RSA key has ${details.modulusLength ?? 0} bits; at least ${minRsaModulusBits} are needed`)
      }
      return ['RS256', 'PS256']
    case 'ec': {
      const algorithm = ({ prime256v1: 'ES256', secp384r1: 'ES384', secp521r1: 'ES512' } as Record<string, string>)[details.namedCurve ?? '']
      if (!algorithm) throw new KeyConfigError('publicKey', `EC keys on curve ${details.namedCurve ?? 'unknown'} are not supported; use P-256, P-384 or P-521`)
      return [algorithm]
    }
    case 'ed25519':
      return ['EdDSA']
    default:
      throw new KeyConfigError('publicKey', `${key.asymmetricKeyType?.toUpperCase() ?? 'unknown'} keys are not supported; use RSA (${minRsaModulusBits} bits or more), EC (P-256, P-384, P-521) or Ed25519`)
  }
}

/** Reads a PEM public key (SPKI, PKCS#1 or an X.509 certificate); a private key is refused so it never sits on the relay. */
function readPublicKey (pem: string): KeyObject {
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) {
    throw new KeyConfigError('publicKey', 'this is a private key; give the relay only the public key (openssl pkey -pubout)')
  }
  try {
    return createPublicKey(pem)
  } catch (err) {
    throw new KeyConfigError('publicKey', `not a PEM public key (${(err as Error).message})`)
  }
}

/** A key that verifies tokens, and whether the tokens it verifies may lack `exp`. */
interface VerifyKey {
  readonly key: KeyObject
  readonly algorithms: string[]
  readonly mayNeverExpire: boolean
}

/** The two uses of the server's own key; each signs with a key of its own, derived from the stored one. */
type OwnKeyUse = 'open' | 'access-control'

function derivedKey (ownKey: Uint8Array, use: OwnKeyUse): KeyObject {
  return createSecretKey(createHmac('sha256', ownKey).update(`coedit ${use} links`).digest())
}

/**
 * Builds the authority from a secret, or a public key (with the server's own
 * key to mint, when given), or returns null when neither is set (the server
 * then runs open; see `createOpenAuthority`). Throws `KeyConfigError`, before
 * any token is seen, for both set at once, a secret shorter than 32
 * characters, or a public key that is unreadable, private, or of a type or
 * size no token could be verified with (DSA, RSA under 2048 bits, EC curves
 * other than P-256/384/521, X25519…).
 */
export function createTokenAuthority (keys: KeyConfig): TokenAuthority | null {
  if (keys.secret && keys.publicKeyPem) {
    throw new KeyConfigError('both', 'set either a secret (AUTH_SECRET) or a public key (AUTH_PUBLIC_KEY), not both')
  }
  if (keys.secret) {
    if (keys.secret.length < 32) throw new KeyConfigError('secret', 'AUTH_SECRET must be at least 32 characters long')
    const key = createSecretKey(Buffer.from(keys.secret, 'utf8'))
    return authority(key, [{ key, algorithms: ['HS256'], mayNeverExpire: true }])
  }
  if (keys.publicKeyPem) {
    const key = readPublicKey(keys.publicKeyPem)
    const issuer: VerifyKey = { key, algorithms: algorithmsFor(key), mayNeverExpire: false }
    if (!keys.ownKey) return authority(null, [issuer])
    const own = derivedKey(keys.ownKey, 'access-control')
    return authority(own, [issuer, { key: own, algorithms: ['HS256'], mayNeverExpire: true }])
  }
  return null
}

/**
 * The authority of a server without access control: it mints and verifies
 * links with its own key (`DocStore.signingKey`), so that a link can grant
 * less than the editing everyone has without one. Tokens it signs are
 * refused once access control is on, and the other way round.
 */
export function createOpenAuthority (ownKey: Uint8Array): TokenAuthority {
  const key = derivedKey(ownKey, 'open')
  return authority(key, [{ key, algorithms: ['HS256'], mayNeverExpire: true }])
}

/** Signs with `signKey` (HS256; null: cannot mint) and verifies with whichever of `verifyKeys` takes the token's algorithm. */
function authority (signKey: KeyObject | null, verifyKeys: VerifyKey[]): TokenAuthority {
  return {
    canMint: signKey !== null,
    async verify (token) {
      if (!token) throw new TokenError('missing', 'an access token is required')
      let payload
      let verifier: VerifyKey | undefined
      try {
        const { alg } = decodeProtectedHeader(token)
        verifier = verifyKeys.find((candidate) => candidate.algorithms.includes(alg ?? ''))
        if (!verifier) throw new Error(`no key verifies ${alg ?? 'unsigned'} tokens`)
        ;({ payload } = await jwtVerify(token, verifier.key, { algorithms: verifier.algorithms, issuer }))
      } catch (err) {
        if (err instanceof errors.JWTExpired) throw new TokenError('expired', 'the access token has expired')
        throw new TokenError('invalid', 'the access token is not valid')
      }
      const { doc, perm, name, exp } = payload as { doc?: unknown, perm?: unknown, name?: unknown, exp?: unknown }
      const expiryReadable = typeof exp === 'number' || (exp === undefined && verifier.mayNeverExpire)
      if (typeof doc !== 'string' || doc.length === 0 || (perm !== 'read' && perm !== 'write') || !expiryReadable) {
        throw new TokenError('invalid', 'the access token lacks doc, perm or exp')
      }
      return { doc, permission: perm, name: typeof name === 'string' && name !== '' ? name.slice(0, 100) : null, expiresAtMs: typeof exp === 'number' ? exp * 1000 : null }
    },
    async mint (grant, ttlSeconds) {
      if (!signKey) throw new Error('tokens can only be minted with AUTH_SECRET or the server\'s own key')
      const claims: Record<string, string> = { doc: grant.doc, perm: grant.permission }
      if (grant.name) claims.name = grant.name
      const jwt = new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuer(issuer).setIssuedAt()
      if (ttlSeconds !== null) jwt.setExpirationTime(Math.floor(Date.now() / 1000) + Math.max(1, Math.round(ttlSeconds)))
      return await jwt.sign(signKey)
    }
  }
}

/** Whether `grant` opens the document `name`: an exact match, or a prefix match for a pattern ending in `*`. */
export function grantCovers (grant: AccessGrant, name: string): boolean {
  return grant.doc.endsWith('*') ? name.startsWith(grant.doc.slice(0, -1)) : name === grant.doc
}

/** Whether `grant` is an operator's: write access to every document (`doc` `*`). */
export function isOperator (grant: AccessGrant): boolean {
  return grant.permission === 'write' && grant.doc === '*'
}

/**
 * Reads a duration such as `90s`, `15m`, `12h`, `7d` (or plain seconds) into
 * seconds, or `never` into null. Throws for anything else.
 */
export function parseDurationSeconds (text: string): number | null {
  if (text.trim() === 'never') return null
  const match = /^(\d+)([smhd]?)$/.exec(text.trim())
  if (!match) throw new Error(`"${text}" is not a duration like 90s, 15m, 12h or 7d, or never`)
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[match[2] as '' | 's' | 'm' | 'h' | 'd']
  return Number(match[1]) * unit
}
