/**
 * Access tokens for tests, signed with `jose` directly so that a test can
 * make the ones the server must refuse (expired, foreign issuer, missing
 * claims) and the ones an operator's own backend would issue (ES256).
 */
import { SignJWT } from 'jose'
import { createSecretKey, generateKeyPairSync, type KeyObject } from 'node:crypto'

/** A secret long enough for `AUTH_SECRET`; another label gives another secret. */
export function testSecret (label = 'test'): string {
  return `${label}-secret-`.padEnd(40, 'x')
}

/** An EC P-256 key pair; `publicKeyPem` is what `authPublicKeyPem` takes. */
export function ecKeyPair (): { privateKey: KeyObject, publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  return { privateKey, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() }
}

/** What `signToken` writes; every field may be left out or set to anything, to make bad tokens. */
export interface TokenClaims {
  readonly doc?: unknown
  readonly perm?: unknown
  readonly name?: unknown
  /** Issuer; defaults to 'coedit', the one the server expects. */
  readonly iss?: string
  /** Seconds from now until expiry (negative: already expired); defaults to an hour. Null writes no `exp`. */
  readonly expiresInSeconds?: number | null
}

/**
 * Signs `claims` as a JWT: with a string secret as HS256, with a private key
 * as ES256 (or `alg`).
 */
export async function signToken (key: string | KeyObject, claims: TokenClaims, alg?: string): Promise<string> {
  const { iss = 'coedit', expiresInSeconds = 3600, ...payload } = claims
  const signingKey = typeof key === 'string' ? createSecretKey(Buffer.from(key, 'utf8')) : key
  const jwt = new SignJWT(payload as Record<string, unknown>)
    .setProtectedHeader({ alg: alg ?? (typeof key === 'string' ? 'HS256' : 'ES256') })
    .setIssuer(iss)
    .setIssuedAt()
  if (expiresInSeconds !== null) jwt.setExpirationTime(Math.floor(Date.now() / 1000) + expiresInSeconds)
  return await jwt.sign(signingKey)
}
