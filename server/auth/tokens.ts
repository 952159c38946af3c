/**
 * Signed access tokens (JWT, via `jose`). A token names the documents it
 * opens (an exact name, or a prefix ending in `*`), a permission (`read` or
 * `write`), an expiry and optionally the display name others see.
 *
 * Two kinds are in use: link tokens, long-lived, put in share links and
 * minted by `coedit token` or the operator's own backend; and session
 * tokens, short-lived, which the editor obtains for a link token from
 * `POST /api/token` and connects with.
 */
import { SignJWT, jwtVerify, errors } from 'jose'
import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto'

/** What a token allows in its documents. */
export type Permission = 'read' | 'write'

/** The verified content of a token. */
export interface AccessGrant {
  /** An exact document name, or a prefix followed by `*`. */
  readonly doc: string
  readonly permission: Permission
  /** The display name others see; null lets the client choose. */
  readonly name: string | null
  /** Expiry, in milliseconds since the epoch. */
  readonly expiresAtMs: number
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

/** Where keys come from: a shared secret (HS256, can mint) or a public key (verify only). */
export interface KeyConfig {
  /** HMAC secret; at least 32 characters. */
  readonly secret?: string | null
  /** PEM public key of the issuer: RSA (2048 bits or more), EC (P-256, P-384, P-521) or Ed25519. */
  readonly publicKeyPem?: string | null
}

/** Checks and, with a secret, issues tokens. */
export interface TokenAuthority {
  /** Whether this authority can mint tokens (it holds a secret). */
  readonly canMint: boolean
  /** Verifies signature, expiry and claims. Rejects with `TokenError`. */
  verify (token: string): Promise<AccessGrant>
  /** Signs a token for `grant`; throws when only a public key is configured. */
  mint (grant: Omit<AccessGrant, 'expiresAtMs'>, ttlSeconds: number): Promise<string>
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

/**
 * Builds the authority from a secret or a public key, or returns null when
 * neither is set (the server then runs open). Throws `KeyConfigError`, before
 * any token is seen, for both set at once, a secret shorter than 32
 * characters, or a public key that is unreadable, private, or of a type or
 * size no token could be verified with (DSA, RSA under 2048 bits, EC curves
 * other than P-256/384/521, X25519…).
 */
export function createTokenAuthority (keys: KeyConfig): TokenAuthority | null {
  let verifyKey: KeyObject
  let signKey: KeyObject | null = null
  let algorithms: string[]
  if (keys.secret && keys.publicKeyPem) {
    throw new KeyConfigError('both', 'set either a secret (AUTH_SECRET) or a public key (AUTH_PUBLIC_KEY), not both')
  }
  if (keys.secret) {
    if (keys.secret.length < 32) throw new KeyConfigError('secret', 'AUTH_SECRET must be at least 32 characters long')
    signKey = verifyKey = createSecretKey(Buffer.from(keys.secret, 'utf8'))
    algorithms = ['HS256']
  } else if (keys.publicKeyPem) {
    verifyKey = readPublicKey(keys.publicKeyPem)
    algorithms = algorithmsFor(verifyKey)
  } else {
    return null
  }
  return {
    canMint: signKey !== null,
    async verify (token) {
      if (!token) throw new TokenError('missing', 'an access token is required')
      let payload
      try {
        ({ payload } = await jwtVerify(token, verifyKey, { algorithms, issuer }))
      } catch (err) {
        if (err instanceof errors.JWTExpired) throw new TokenError('expired', 'the access token has expired')
        throw new TokenError('invalid', 'the access token is not valid')
      }
      const { doc, perm, name, exp } = payload as { doc?: unknown, perm?: unknown, name?: unknown, exp?: unknown }
      if (typeof doc !== 'string' || doc.length === 0 || (perm !== 'read' && perm !== 'write') || typeof exp !== 'number') {
        throw new TokenError('invalid', 'the access token lacks doc, perm or exp')
      }
      return { doc, permission: perm, name: typeof name === 'string' && name !== '' ? name.slice(0, 100) : null, expiresAtMs: exp * 1000 }
    },
    async mint (grant, ttlSeconds) {
      if (!signKey) throw new Error('tokens can only be minted with AUTH_SECRET')
      const claims: Record<string, string> = { doc: grant.doc, perm: grant.permission }
      if (grant.name) claims.name = grant.name
      return await new SignJWT(claims)
        .setProtectedHeader({ alg: 'HS256' })
        .setIssuer(issuer)
        .setIssuedAt()
        .setExpirationTime(Math.floor(Date.now() / 1000) + Math.max(1, Math.round(ttlSeconds)))
        .sign(signKey)
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
 * seconds. Throws for anything else.
 */
export function parseDurationSeconds (text: string): number {
  const match = /^(\d+)([smhd]?)$/.exec(text.trim())
  if (!match) throw new Error(`"${text}" is not a duration like 90s, 15m, 12h or 7d`)
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[match[2] as '' | 's' | 'm' | 'h' | 'd']
  return Number(match[1]) * unit
}
