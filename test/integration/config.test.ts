/**
 * Settings as an operator gives them: every configuration field is a flag
 * and a variable, every bad value stops `coedit` before it binds with one
 * line naming the flag (exit 2), secrets come from files, and the storage
 * and key settings that used to fail late (or never) fail at start.
 */
import { beforeAll, describe, expect, it } from 'vitest'
import { spawnSync } from 'node:child_process'
import { generateKeyPairSync, type KeyObject } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildServer, startChildRelay } from '../helpers/child-relay.js'
import { connectClient, onTeardown, synced } from '../helpers/relay.js'
import { openWebSocket, UpgradeRefused } from '../helpers/raw-socket.js'
import { describeWithServices, dropPostgresTables, uniqueTablePrefix } from '../helpers/services.js'
import { testSecret } from '../helpers/tokens.js'
import { defaultConfig } from '../../server/config.js'
import { createTokenAuthority, type TokenAuthority } from '../../server/auth/tokens.js'
import { describePostgres, readSettings, SettingError, settingsHelp, settingsMarkdown, type Settings } from '../../server/settings.js'

const cli = fileURLToPath(new URL('../../dist/server/cli.js', import.meta.url))
const readme = fileURLToPath(new URL('../../README.md', import.meta.url))
const defaults: Settings = { ...defaultConfig, logLevel: 'info' }

/** The environment without any setting of the test runner's own, plus `env`. */
function cleanEnv (env: Record<string, string> = {}): NodeJS.ProcessEnv {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => ['PATH', 'HOME', 'TMPDIR', 'LANG'].includes(name)))
  return { ...inherited, ...env }
}

/** Runs the built CLI to completion with only `env` set. */
function coedit (args: string[], env: Record<string, string> = {}): { status: number | null, stdout: string, stderr: string } {
  const result = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: cleanEnv(env), timeout: 20_000 })
  return { status: result.status, stdout: result.stdout, stderr: result.stderr }
}

function tempDir (): string {
  const dir = mkdtempSync(join(tmpdir(), 'coedit-config-'))
  onTeardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** The upgrade status a room answers with. */
async function upgradeStatus (url: string, room: string, params: Record<string, string> = {}): Promise<number> {
  try {
    (await openWebSocket({ url }, room, params)).terminate()
    return 101
  } catch (err) {
    if (err instanceof UpgradeRefused) return err.status
    throw err
  }
}

/** Asserts that `coedit` refused to start with exit 2 and one line starting with `prefix`. */
function expectRefused (result: { status: number | null, stderr: string }, prefix: string, what: string): void {
  expect(result.status, `${what}: ${result.stderr}`).toBe(2)
  expect(result.stderr.trim().split('\n'), what).toHaveLength(1)
  expect(result.stderr.startsWith(`coedit: ${prefix}`), `${what}: ${result.stderr}`).toBe(true)
}

function publicPem (type: string, options: object): string {
  const { publicKey } = (generateKeyPairSync as (type: string, options: object) => { publicKey: KeyObject })(type, options)
  return publicKey.export({ type: 'spki', format: 'pem' }).toString()
}

/** Flags whose value is a number, as `--help` lists them (`--flag N|MS|BYTES|SECONDS`). */
function numericFlags (): string[] {
  return [...settingsHelp(defaults).matchAll(/^ {2}--([a-z-]+) (?:N|MS|BYTES|SECONDS) /gm)].map((match) => match[1])
}

function refusal (flags: Record<string, string>, env: NodeJS.ProcessEnv = {}): string {
  try {
    readSettings(flags, env, defaults)
  } catch (err) {
    expect(err).toBeInstanceOf(SettingError)
    return (err as Error).message
  }
  throw new Error(`expected ${JSON.stringify(flags)} ${JSON.stringify(env)} to be refused`)
}

describe('settings table', () => {
  it('makes every configuration field a flag and a variable, listed in --help and the README', () => {
    const help = settingsHelp(defaults)
    const names = Object.keys(defaults).map((key) => key === 'authPublicKeyPem'
      ? { flag: 'auth-public-key', env: 'AUTH_PUBLIC_KEY' }
      : { flag: key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`), env: key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase() })
    expect(names.length).toBeGreaterThan(40)
    const table = readFileSync(readme, 'utf8')
    for (const { flag, env } of names) {
      expect(help, flag).toMatch(new RegExp(`^ {2}--${flag} [A-Z]+ +\\[${env}\\]$`, 'm'))
      expect(table, flag).toContain(`| \`--${flag}\``)
    }
    // The README's table is the one the settings produce, row for row.
    expect(table).toContain(settingsMarkdown(defaults))
  })

  it('refuses anything but plain decimal digits for every number, naming the flag', () => {
    const flags = numericFlags()
    expect(flags).toContain('max-document-items')
    expect(flags.length).toBeGreaterThan(30)
    for (const flag of flags) {
      for (const value of ['0x50', '1e3', ' 5', '5 ', '5.0', '-1', '+5', '', '99999999999999999999', '٥']) {
        expect(refusal({ [flag]: value }), `--${flag} ${JSON.stringify(value)}`).toMatch(new RegExp(`^--${flag} \\(`))
      }
    }
    const env = flags.map((flag) => flag.replace(/-/g, '_').toUpperCase())
    for (const variable of env) expect(refusal({}, { [variable]: '1e3' })).toContain(`(${variable})`)
  })

  it('checks bounds, choices, lists and how settings fit together', () => {
    expect(refusal({ port: '65536' })).toMatch(/^--port \(PORT\): must be a whole number from 0 to 65535/)
    expect(refusal({ 'max-connections': '0' })).toMatch(/^--max-connections \(MAX_CONNECTIONS\): .*at least 1/)
    expect(refusal({ 'heartbeat-interval-ms': '2147483648' })).toMatch(/^--heartbeat-interval-ms /)
    expect(refusal({ content: 'json' })).toMatch(/^--content \(CONTENT\): must be text, structured or any/)
    expect(refusal({ 'log-level': 'verbose' })).toMatch(/^--log-level /)
    expect(refusal({ 'sqlite-sync': 'off' })).toMatch(/^--sqlite-sync /)
    expect(refusal({ storage: 'redis' })).toMatch(/^--storage /)
    expect(refusal({ storage: 'postgres' })).toMatch(/^--storage \(STORAGE\): postgres needs --database-url/)
    expect(refusal({ 'table-prefix': 'x; DROP TABLE y' })).toMatch(/^--table-prefix /)
    for (const list of ['10.0.0.0/33', '127.0.0.1,proxy.local', '::1/129', '1.2.3.4,', '300.1.1.1', 'fe80::1%eth0']) {
      expect(refusal({ 'trust-proxy': list }), list).toMatch(/^--trust-proxy \(TRUST_PROXY\): /)
    }
    expect(refusal({}, { TRUST_PROXY: '10.0.0.0/8 ,bad' })).toMatch(/^--trust-proxy \(TRUST_PROXY\): "bad"/)
    expect(readSettings({ 'trust-proxy': '127.0.0.1, 10.0.0.0/8,fd00::/8,::ffff:192.0.2.0/120' }, {}, defaults).trustProxy).toEqual(['127.0.0.1', '10.0.0.0/8', 'fd00::/8', '::ffff:192.0.2.0/120'])
    expect(refusal({ 'allowed-origins': 'https://notes.example.org/' })).toMatch(/^--allowed-origins /)
    expect(refusal({ 'allowed-origins': 'notes.example.org' })).toMatch(/^--allowed-origins /)
    expect(refusal({ 'editor-dir': '/nonexistent/editor' })).toMatch(/^--editor-dir /)
    expect(refusal({ 'max-byte-burst': '1000' })).toMatch(/^--max-byte-burst \(MAX_BYTE_BURST\): must be at least --max-message-bytes/)
    expect(refusal({ 'max-awareness-state-bytes': '2000000' })).toMatch(/^--max-awareness-state-bytes /)
    // A flag beats its variable; an empty variable is unset.
    expect(readSettings({ port: '8080' }, { PORT: 'junk' }, defaults).port).toBe(8080)
    expect(readSettings({}, { PORT: '', MAX_DOCUMENT_ITEMS: '5000' }, defaults)).toMatchObject({ port: defaults.port, maxDocumentItems: 5000 })
    expect(readSettings({}, { DATABASE_URL: 'postgres://db.example/notes' }, defaults).storage).toBe('postgres')
  })

  it('checks a database URL without ever repeating it, and describes it without user or password', () => {
    for (const url of ['nonsense', 'http://db.example/notes', 'postgres://u:hunter2@db.example:notaport/x', 'mysql://u:hunter2@db/x']) {
      const message = refusal({ 'database-url': url })
      expect(message, url).toMatch(/^--database-url \(DATABASE_URL\): /)
      expect(message).not.toContain('hunter2')
      expect(message).not.toContain(url)
    }
    expect(describePostgres('postgres://u:hunter2@db.example:6543/notes')).toBe('database notes at db.example:6543')
    expect(describePostgres('postgres://u:hunter2@[::1]/notes')).toBe('database notes at [::1]:5432')
    expect(describePostgres('postgres://u:hunter2@/notes?host=/var/run/postgresql')).toBe('database notes at socket /var/run/postgresql')
    expect(describePostgres('postgres:///notes?host=/var/run/postgresql')).toBe('database notes at socket /var/run/postgresql')
    expect(describePostgres('socket:/var/run/postgresql?db=notes')).toBe('database notes at socket /var/run/postgresql')
    expect(describePostgres('postgresql://%2Fvar%2Frun%2Fpostgresql/notes')).toBe('database notes at socket /var/run/postgresql')
  })
})

describe('coedit refuses bad settings at start', () => {
  beforeAll(() => buildServer(), 120_000)

  it('exits 2 with one line naming the flag, from flags and from variables', () => {
    const cases: Array<[string[], Record<string, string>, string]> = [
      [['--port', '0x50'], {}, '--port (PORT): '],
      [['--port=-1'], {}, '--port (PORT): '],
      [[], { PORT: '-1' }, '--port (PORT): '],
      [['--max-document-items', '1e3'], {}, '--max-document-items (MAX_DOCUMENT_ITEMS): '],
      [[], { MAX_DOCUMENT_ITEMS: '0x50' }, '--max-document-items (MAX_DOCUMENT_ITEMS): '],
      [['--max-connections-per-address', '0'], {}, '--max-connections-per-address (MAX_CONNECTIONS_PER_ADDRESS): '],
      [['--port', '65536'], {}, '--port (PORT): '],
      [['--trust-proxy', '10.0.0.0/33'], {}, '--trust-proxy (TRUST_PROXY): '],
      [[], { TRUST_PROXY: '127.0.0.1,localhost' }, '--trust-proxy (TRUST_PROXY): '],
      [['--content', 'markdown'], {}, '--content (CONTENT): '],
      [[], { CONTENT: 'Text' }, '--content (CONTENT): '],
      [['--storage', 'postgres'], {}, '--storage (STORAGE): '],
      [['--database-url', 'nonsense'], {}, '--database-url (DATABASE_URL): ']
    ]
    for (const [args, env, prefix] of cases) {
      expectRefused(coedit(['serve', '--storage', 'memory', ...args], env), prefix, `${args.join(' ')} ${JSON.stringify(env)}`)
    }
  })

  it('refuses a secret and a public key set together, and a secret from a value and a file at once', () => {
    const dir = tempDir()
    const keyFile = join(dir, 'key.pem')
    writeFileSync(keyFile, publicPem('ec', { namedCurve: 'P-256' }))
    const secretFile = join(dir, 'secret')
    writeFileSync(secretFile, `${testSecret('file')}\n`)
    expectRefused(coedit(['--storage', 'memory'], { AUTH_SECRET: testSecret(), AUTH_PUBLIC_KEY_FILE: keyFile }), '--auth-secret (AUTH_SECRET) and --auth-public-key-file (AUTH_PUBLIC_KEY_FILE) are both set', 'secret and key')
    expectRefused(coedit(['--storage', 'memory', '--auth-secret-file', secretFile, '--auth-public-key-file', keyFile]), '--auth-secret-file (AUTH_SECRET_FILE) and --auth-public-key-file', 'both files')
    expectRefused(coedit(['--storage', 'memory'], { AUTH_SECRET: testSecret(), AUTH_SECRET_FILE: secretFile }), 'AUTH_SECRET and AUTH_SECRET_FILE are both set', 'secret twice')
    expectRefused(coedit(['--storage', 'memory'], { AUTH_SECRET_FILE: join(dir, 'missing') }), '--auth-secret-file (AUTH_SECRET_FILE): cannot read', 'missing file')
    expectRefused(coedit(['--storage', 'memory'], { AUTH_SECRET: 'short' }), '--auth-secret (AUTH_SECRET): must be at least 32 characters', 'short secret')
    const short = coedit(['--storage', 'memory', '--auth-secret', 'short-and-secret'])
    expect(short.stderr).not.toContain('short-and-secret')
  })

  it('refuses a public key no token could be verified with', () => {
    const dir = tempDir()
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const keys: Record<string, string> = {
      dsa: publicPem('dsa', { modulusLength: 2048, divisorLength: 256 }),
      'rsa-1024': publicPem('rsa', { modulusLength: 1024 }),
      secp256k1: publicPem('ec', { namedCurve: 'secp256k1' }),
      x25519: publicPem('x25519', {}),
      garbage: '-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n-----END PUBLIC KEY-----\n',
      private: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
    }
    for (const [name, pem] of Object.entries(keys)) {
      const file = join(dir, `${name}.pem`)
      writeFileSync(file, pem)
      expectRefused(coedit(['--storage', 'memory'], { AUTH_PUBLIC_KEY_FILE: file }), '--auth-public-key-file (AUTH_PUBLIC_KEY_FILE): ', name)
      expectRefused(coedit(['--storage', 'memory'], { AUTH_PUBLIC_KEY: pem }), '--auth-public-key (AUTH_PUBLIC_KEY): ', name)
    }
  })

  it('reads the secret from AUTH_SECRET_FILE: tokens it mints open documents on a server given the same file', async () => {
    const dir = tempDir()
    const secret = testSecret('from-file')
    const secretFile = join(dir, 'secret')
    writeFileSync(secretFile, `${secret}\n`)
    const relay = await startChildRelay(['--storage', 'memory', '--auth-secret-file', secretFile])
    const minted = coedit(['token', '--doc', 'notes', '--write'], { AUTH_SECRET_FILE: secretFile })
    expect(minted.status, minted.stderr).toBe(0)
    const token = minted.stdout.trim()
    expect(await upgradeStatus(relay.url, 'notes', { token })).toBe(101)
    expect(await upgradeStatus(relay.url, 'notes')).toBe(401)
    // The file's final newline is not part of the secret.
    const own = await (createTokenAuthority({ secret }) as TokenAuthority).mint({ doc: 'notes', permission: 'read', name: null }, 60)
    expect(await upgradeStatus(relay.url, 'notes', { token: own })).toBe(101)
    const other = await (createTokenAuthority({ secret: `${secret}\n` }) as TokenAuthority).mint({ doc: 'notes', permission: 'read', name: null }, 60)
    expect(await upgradeStatus(relay.url, 'notes', { token: other })).toBe(401)
    expect(relay.log.join('\n')).not.toContain(secret)
  })

  it('passes limits from flags to the relay', async () => {
    const relay = await startChildRelay(['--storage', 'memory', '--max-connections-per-address', '1', '--max-room-name-length', '5'])
    expect(await upgradeStatus(relay.url, 'abcdef')).toBe(400)
    const first = await openWebSocket({ url: relay.url }, 'abc')
    expect(await upgradeStatus(relay.url, 'abc')).toBe(429)
    first.terminate()
  })

  it('prints every setting in --help', () => {
    const result = coedit(['--help'])
    expect(result.status).toBe(0)
    expect(result.stdout).toContain(settingsHelp({ ...defaults, editorDir: 'unused' }))
  })
})

await describeWithServices(['postgres'], 'coedit with PostgreSQL on a Unix socket', () => {
  beforeAll(() => buildServer(), 120_000)

  it('starts with a socket-folder DATABASE_URL in each form node-postgres reads, and logs no password', async () => {
    const urls = [
      'postgres://postgres:hunter2@/test?host=/var/run/postgresql',
      'socket:/var/run/postgresql?db=test&user=postgres',
      'postgresql://postgres@%2Fvar%2Frun%2Fpostgresql/test'
    ]
    for (const url of urls) {
      const prefix = uniqueTablePrefix()
      onTeardown(() => dropPostgresTables(prefix))
      const relay = await startChildRelay(['--database-url', url, '--table-prefix', prefix])
      const started = relay.log.find((line) => line.includes('server.started')) as string
      expect(started, url).toContain('storage="postgres database test at socket /var/run/postgresql"')
      const client = connectClient(relay.url, 'on-a-socket')
      await synced(client)
      client.text.insert(0, 'stored through the socket')
      client.provider.disconnect()
      expect(await relay.stop()).toBe(0)
      expect(relay.log.join('\n')).not.toContain('hunter2')
      const exported = coedit(['export', 'on-a-socket', '--database-url', url, '--table-prefix', prefix])
      expect(exported.stdout, url).toBe('stored through the socket')
    }
  })
})
