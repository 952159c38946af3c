import { describe, expect, it } from 'vitest'
import { generateKeyPairSync } from 'node:crypto'
import { createOpenAuthority, createTokenAuthority, grantCovers, parseDurationSeconds, TokenError, type AccessGrant, type TokenAuthority } from '../../server/auth/tokens.js'
import { bearerToken } from '../../server/transport/upgrade.js'
import { ecKeyPair, signToken, testSecret } from '../helpers/tokens.js'

const secret = testSecret('unit')

function authority (keys: Parameters<typeof createTokenAuthority>[0] = { secret }): TokenAuthority {
  const result = createTokenAuthority(keys)
  if (!result) throw new Error('expected an authority')
  return result
}

async function refusal (verifier: TokenAuthority, token: string): Promise<TokenError> {
  try {
    await verifier.verify(token)
  } catch (err) {
    expect(err).toBeInstanceOf(TokenError)
    return err as TokenError
  }
  throw new Error('expected the token to be refused')
}

describe('createTokenAuthority', () => {
  it('runs open without keys and refuses a short secret', () => {
    expect(createTokenAuthority({})).toBeNull()
    expect(createTokenAuthority({ secret: null, publicKeyPem: null })).toBeNull()
    expect(() => createTokenAuthority({ secret: 'x'.repeat(31) })).toThrow(/32 characters/)
    expect(() => createTokenAuthority({ publicKeyPem: 'not a key' })).toThrow()
  })

  it('mints tokens that verify to the same grant, with expiry in milliseconds', async () => {
    const tokens = authority()
    expect(tokens.canMint).toBe(true)
    const before = Date.now()
    const token = await tokens.mint({ doc: 'team/*', permission: 'read', name: 'Ada' }, 3600)
    const grant = await tokens.verify(token)
    expect(grant).toMatchObject({ doc: 'team/*', permission: 'read', name: 'Ada' })
    expect(grant.expiresAtMs).toBeGreaterThan(before + 3_598_000)
    expect(grant.expiresAtMs).toBeLessThanOrEqual(Date.now() + 3_600_000)
    expect((await tokens.verify(await tokens.mint({ doc: 'd', permission: 'write', name: null }, 60))).name).toBeNull()
  })

  it('answers 401 for missing, forged, expired and malformed tokens', async () => {
    const tokens = authority()
    const cases: Array<[string, string, TokenError['code']]> = [
      ['empty', '', 'missing'],
      ['not a JWT', 'hello', 'invalid'],
      ['another secret', await signToken(testSecret('other'), { doc: 'd', perm: 'write' }), 'invalid'],
      ['expired', await signToken(secret, { doc: 'd', perm: 'write', expiresInSeconds: -10 }), 'expired'],
      ['no doc', await signToken(secret, { perm: 'write' }), 'invalid'],
      ['empty doc', await signToken(secret, { doc: '', perm: 'write' }), 'invalid'],
      ['doc not a string', await signToken(secret, { doc: ['a'], perm: 'write' }), 'invalid'],
      ['perm admin', await signToken(secret, { doc: 'd', perm: 'admin' }), 'invalid'],
      ['no perm', await signToken(secret, { doc: 'd' }), 'invalid'],
      ['foreign issuer', await signToken(secret, { doc: 'd', perm: 'write', iss: 'someone-else' }), 'invalid'],
      ['HS512 with the right secret', await signToken(secret, { doc: 'd', perm: 'write' }, 'HS512'), 'invalid']
    ]
    for (const [name, token, code] of cases) {
      const err = await refusal(tokens, token)
      expect(err.code, name).toBe(code)
      expect(err.status, name).toBe(401)
    }
  })

  it('refuses unsigned tokens (alg none) and tampered payloads', async () => {
    const tokens = authority()
    const good = await tokens.mint({ doc: 'd', permission: 'read', name: null }, 60)
    const [header, payload, signature] = good.split('.')
    const encode = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url')
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>
    const none = `${encode({ alg: 'none', typ: 'JWT' })}.${encode({ ...claims, perm: 'write' })}.`
    expect((await refusal(tokens, none)).code).toBe('invalid')
    const tampered = `${header}.${encode({ ...claims, perm: 'write' })}.${signature}`
    expect((await refusal(tokens, tampered)).code).toBe('invalid')
    const otherDoc = `${header}.${encode({ ...claims, doc: '*' })}.${signature}`
    expect((await refusal(tokens, otherDoc)).code).toBe('invalid')
  })

  it('keeps display names to 100 characters and ignores empty or non-string ones', async () => {
    const tokens = authority()
    expect((await tokens.verify(await signToken(secret, { doc: 'd', perm: 'read', name: 'n'.repeat(500) }))).name).toHaveLength(100)
    expect((await tokens.verify(await signToken(secret, { doc: 'd', perm: 'read', name: '' }))).name).toBeNull()
    expect((await tokens.verify(await signToken(secret, { doc: 'd', perm: 'read', name: { evil: true } }))).name).toBeNull()
  })

  it('verifies with a public key only, and cannot mint then', async () => {
    const { privateKey, publicKeyPem } = ecKeyPair()
    const tokens = authority({ publicKeyPem })
    expect(tokens.canMint).toBe(false)
    await expect(tokens.mint({ doc: 'd', permission: 'write', name: null }, 60)).rejects.toThrow(/AUTH_SECRET/)
    const grant = await tokens.verify(await signToken(privateKey, { doc: 'notes', perm: 'write', name: 'Grace' }))
    expect(grant).toMatchObject({ doc: 'notes', permission: 'write', name: 'Grace' })
    // Another key pair, and an HMAC made with the public key's text as secret (algorithm confusion).
    expect((await refusal(tokens, await signToken(ecKeyPair().privateKey, { doc: 'notes', perm: 'write' }))).code).toBe('invalid')
    expect((await refusal(tokens, await signToken(publicKeyPem, { doc: 'notes', perm: 'write' }))).code).toBe('invalid')
  })

  it('lets tokens signed with a key the server holds lack exp (never expiring), and no others', async () => {
    const tokens = authority()
    expect((await tokens.verify(await signToken(secret, { doc: 'd', perm: 'write', expiresInSeconds: null }))).expiresAtMs).toBeNull()
    expect((await tokens.verify(await tokens.mint({ doc: 'd', permission: 'read', name: null }, null))).expiresAtMs).toBeNull()
    const { privateKey, publicKeyPem } = ecKeyPair()
    const ownKey = new Uint8Array(32).fill(7)
    const verifying = authority({ publicKeyPem, ownKey })
    expect((await refusal(verifying, await signToken(privateKey, { doc: 'd', perm: 'write', expiresInSeconds: null }))).code).toBe('invalid')
    expect((await verifying.verify(await verifying.mint({ doc: 'd', permission: 'read', name: null }, null))).expiresAtMs).toBeNull()
  })

  it('keeps the links of an open server and those of one with access control apart', async () => {
    const ownKey = new Uint8Array(32).fill(7)
    const open = createOpenAuthority(ownKey)
    const { publicKeyPem } = ecKeyPair()
    const guarded = authority({ publicKeyPem, ownKey })
    expect(guarded.canMint).toBe(true)
    const openLink = await open.mint({ doc: 'd', permission: 'write', name: null }, 60)
    const guardedLink = await guarded.mint({ doc: 'd', permission: 'write', name: null }, 60)
    expect((await open.verify(openLink)).permission).toBe('write')
    expect((await guarded.verify(guardedLink)).permission).toBe('write')
    expect((await refusal(guarded, openLink)).code).toBe('invalid')
    expect((await refusal(open, guardedLink)).code).toBe('invalid')
    expect((await refusal(createOpenAuthority(new Uint8Array(32).fill(8)), openLink)).code).toBe('invalid')
  })

  it('picks the algorithms of the key type: RSA and Ed25519 too', async () => {
    for (const type of ['rsa', 'ed25519'] as const) {
      const { privateKey, publicKey } = type === 'rsa'
        ? generateKeyPairSync('rsa', { modulusLength: 2048 })
        : generateKeyPairSync('ed25519')
      const tokens = authority({ publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() })
      const token = await signToken(privateKey, { doc: 'd', perm: 'read' }, type === 'rsa' ? 'RS256' : 'EdDSA')
      expect((await tokens.verify(token)).permission, type).toBe('read')
    }
  })
})

describe('grantCovers', () => {
  const grant = (doc: string): AccessGrant => ({ doc, permission: 'write', name: null, expiresAtMs: 0 })

  it('matches exact names, and prefixes for a trailing *', () => {
    expect(grantCovers(grant('notes'), 'notes')).toBe(true)
    expect(grantCovers(grant('notes'), 'notes2')).toBe(false)
    expect(grantCovers(grant('notes'), 'note')).toBe(false)
    expect(grantCovers(grant('team/*'), 'team/a')).toBe(true)
    expect(grantCovers(grant('team/*'), 'team/a/b')).toBe(true)
    expect(grantCovers(grant('team/*'), 'team')).toBe(false)
    expect(grantCovers(grant('team/*'), 'other')).toBe(false)
    expect(grantCovers(grant('team/*'), 'teams/a')).toBe(false)
    expect(grantCovers(grant('*'), 'anything')).toBe(true)
    // A * inside a name is not a pattern.
    expect(grantCovers(grant('a*b'), 'axxb')).toBe(false)
  })
})

describe('parseDurationSeconds', () => {
  it('reads seconds, minutes, hours and days, and refuses anything else', () => {
    expect(parseDurationSeconds('90')).toBe(90)
    expect(parseDurationSeconds('90s')).toBe(90)
    expect(parseDurationSeconds('15m')).toBe(900)
    expect(parseDurationSeconds(' 12h ')).toBe(43_200)
    expect(parseDurationSeconds('7d')).toBe(604_800)
    expect(parseDurationSeconds('never')).toBeNull()
    for (const bad of ['', 'd', '-5m', '1.5h', '3w', '10 m', '1e3', 'forever']) expect(() => parseDurationSeconds(bad), bad).toThrow()
  })
})

describe('bearerToken', () => {
  it('takes the token of an Authorization: Bearer header only', () => {
    expect(bearerToken('Bearer abc.def.ghi')).toBe('abc.def.ghi')
    expect(bearerToken('bearer   abc')).toBe('abc')
    expect(bearerToken(undefined)).toBeNull()
    expect(bearerToken('Basic abc')).toBeNull()
    expect(bearerToken('Bearer a b')).toBeNull()
    expect(bearerToken('Bearer ')).toBeNull()
  })
})
