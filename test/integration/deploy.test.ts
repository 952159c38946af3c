/**
 * The deployment files in `deploy/`, checked as far as this machine can:
 * both nginx site configs pass `nginx -t` with a self-signed certificate in
 * place of the real one, and `nginx/coedit.conf` runs in a real nginx
 * (redirect to HTTPS, WebSocket over TLS to a relay, the client's address
 * forwarded); the systemd unit passes `systemd-analyze verify`; the paths
 * the Dockerfile and the unit start exist in the built tree, and every
 * variable they and docker-compose.yml set is a setting coedit reads. (No
 * Docker daemon here: the image and the compose file are not built or run.)
 */
import { describe, expect, it } from 'vitest'
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { request as httpRequest } from 'node:http'
import { request } from 'node:https'
import { captureLog, startTestRelay, waitFor } from '../helpers/relay.js'
import { freePort, nginxConf, nginxDir as tempDir, nginxPath as nginx, startNginx } from '../helpers/nginx.js'
import { openWebSocket } from '../helpers/raw-socket.js'
import { defaultConfig } from '../../server/config.js'
import { settingsHelp } from '../../server/settings.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const deploy = (path: string): string => join(root, 'deploy', path)
const read = (path: string): string => readFileSync(deploy(path), 'utf8')

/** Every environment variable coedit reads a setting from, as `--help` lists them. */
const settingVariables = new Set([...settingsHelp({ ...defaultConfig, logLevel: 'info' }).matchAll(/\[([A-Z_]+)\]/g)].map((match) => match[1]))

/** `text` with `from` replaced by `to`; throws when `from` is not there, so a changed file fails loudly. */
function replaced (text: string, from: string | RegExp, to: string): string {
  const result = text.replace(from, to)
  if (result === text) throw new Error(`the deployment file no longer contains ${String(from)}`)
  return result
}

/** A self-signed certificate and key in `dir`. */
function selfSigned (dir: string): { certificate: string, key: string } {
  const certificate = join(dir, 'fullchain.pem')
  const key = join(dir, 'privkey.pem')
  const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
    '-subj', '/CN=notes.example.org', '-keyout', key, '-out', certificate], { encoding: 'utf8' })
  expect(made.status, `openssl: ${made.stderr}`).toBe(0)
  return { certificate, key }
}

/** `deploy/nginx/<name>` with its certificate paths pointing at a self-signed pair in `dir`. */
function siteWithCertificate (name: string, dir: string): string {
  const { certificate, key } = selfSigned(dir)
  let site = read(`nginx/${name}`)
  site = replaced(site, /ssl_certificate\s+\S+;/, `ssl_certificate ${certificate};`)
  site = replaced(site, /ssl_certificate_key\s+\S+;/, `ssl_certificate_key ${key};`)
  return site
}

/** `nginx -t` on a wrapper nginx.conf around `http` in `dir`. */
function nginxTest (dir: string, http: string): void {
  const file = join(dir, 'nginx.conf')
  writeFileSync(file, nginxConf(dir, http))
  const result = spawnSync(nginx, ['-t', '-e', join(dir, 'error.log'), '-p', dir, '-c', file], { encoding: 'utf8' })
  expect(result.status, result.stderr).toBe(0)
  expect(result.stderr).toContain('test is successful')
}

/** Environment variable names a file sets: `NAME=` (Dockerfile ENV, systemd Environment=) or `NAME:` in a compose environment map. */
function variablesSet (lines: Iterable<string>): string[] {
  return [...lines].flatMap((line) => [...line.matchAll(/\b([A-Z][A-Z0-9_]*)[=:]/g)].map((match) => match[1]))
}

describe('nginx site configs', () => {
  it('nginx/coedit.conf and nginx/compose.conf pass nginx -t', () => {
    const single = tempDir()
    nginxTest(single, siteWithCertificate('coedit.conf', single))
    const cluster = tempDir()
    let site = siteWithCertificate('compose.conf', cluster)
    // The compose service names resolve only inside Docker's network.
    site = replaced(site, /coedit-a:1234/, '127.0.0.1:1')
    site = replaced(site, /coedit-b:1234/, '127.0.0.1:2')
    expect(site).toMatch(/hash \$uri consistent;/)
    nginxTest(cluster, site)
  })

  it('nginx/coedit.conf in a real nginx: redirects HTTP to HTTPS, carries WebSockets over TLS and forwards the client address', async () => {
    const log = captureLog()
    const relay = await startTestRelay({ trustProxy: ['127.0.0.1'], logger: log.logger })
    const dir = tempDir()
    const [httpPort, httpsPort, probePort] = await Promise.all([freePort(), freePort(), freePort()])
    let site = siteWithCertificate('coedit.conf', dir)
    site = replaced(site, /listen 80;/, `listen 127.0.0.1:${httpPort};`)
    site = replaced(site, /listen 443 ssl;/, `listen 127.0.0.1:${httpsPort} ssl;`)
    site = replaced(site, /\s*listen \[::\]:80;/, '')
    site = replaced(site, /\s*listen \[::\]:443 ssl;/, '')
    site = replaced(site, 'proxy_pass http://127.0.0.1:1234;', `proxy_pass ${relay.url};`)
    // A plain door for the helper's readiness probe; the site itself is tested through its own ports.
    const probe = `server { listen 127.0.0.1:${probePort}; location / { proxy_pass ${relay.url}; } }`
    await startNginx(dir, probePort, nginxConf(dir, `${site}\n${probe}`))

    const redirect = await new Promise<{ status: number, location: string | undefined }>((resolve, reject) => {
      httpRequest({ host: '127.0.0.1', port: httpPort, path: '/d/notes?x=1', headers: { host: 'notes.example.org' } }, (res) => {
        res.resume()
        resolve({ status: res.statusCode ?? 0, location: res.headers.location })
      }).on('error', reject).end()
    })
    expect(redirect).toEqual({ status: 301, location: 'https://notes.example.org/d/notes?x=1' })

    const health = await new Promise<{ status: number, body: string }>((resolve, reject) => {
      request({ host: '127.0.0.1', port: httpsPort, path: '/livez', rejectUnauthorized: false, servername: 'notes.example.org' }, (res) => {
        let body = ''
        res.setEncoding('utf8').on('data', (chunk: string) => { body += chunk }).on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      }).on('error', reject).end()
    })
    expect(health).toEqual({ status: 200, body: '{"status":"ok"}' })

    // From another loopback address, with a made-up X-Forwarded-For: the relay must log the
    // address nginx saw, which nginx appends, and ignore what the client wrote before it.
    const socket = await openWebSocket({ url: `https://127.0.0.1:${httpsPort}` }, 'over-tls', {}, {
      rejectUnauthorized: false,
      localAddress: '127.0.0.2',
      headers: { 'x-forwarded-for': '198.51.100.7' }
    })
    const first = await new Promise<Buffer>((resolve) => socket.once('message', resolve))
    expect([first[0], first[1]]).toEqual([0, 0]) // the relay's sync step 1
    await waitFor(() => log.lines.some((line) => line.includes('connection.opened')), 5_000, 'the open line')
    expect(log.lines.find((line) => line.includes('connection.opened'))).toContain('address=127.0.0.2 ')
  })
})

describe('container and service files', () => {
  it('the Dockerfile runs the built server as a non-root user, checks /livez with node, keeps /data', () => {
    const dockerfile = read('Dockerfile')
    // Every stage starts from node:20-bookworm-slim or from an earlier stage; the last one (the runtime) from the image itself.
    const stages = [...dockerfile.matchAll(/^FROM (\S+)(?: AS (\S+))?$/gm)].map((match) => ({ from: match[1], name: match[2] }))
    expect(stages.length).toBeGreaterThanOrEqual(2)
    stages.forEach(({ from }, i) => expect([...stages.slice(0, i).map((stage) => stage.name), 'node:20-bookworm-slim'], from).toContain(from))
    expect(stages.at(-1)?.from).toBe('node:20-bookworm-slim')
    expect(dockerfile).toMatch(/^RUN npm ci\b/m)
    expect(dockerfile).toMatch(/^RUN npm run build$/m)
    expect(dockerfile).toMatch(/^RUN npm ci --omit=dev\b/m)
    expect(dockerfile).toMatch(/^USER node$/m)
    expect(dockerfile).toMatch(/^VOLUME \/data$/m)
    expect(dockerfile).toMatch(/^HEALTHCHECK .*\\\n\s+CMD \["node", "-e", .*\/livez/m)
    // What the runtime stage starts is in the built tree, relative to its WORKDIR.
    const workdir = /^WORKDIR (\S+)$/gm
    const dirs = [...dockerfile.matchAll(workdir)].map((match) => match[1])
    expect(dirs.at(-1)).toBe('/opt/coedit')
    const command = /^CMD \["node", "([^"]+)", "serve"\]$/m.exec(dockerfile)
    expect(command).not.toBeNull()
    expect(existsSync(join(root, command![1])), command![1]).toBe(true)
    expect(dockerfile).toMatch(/^COPY --from=build \/src\/dist \.\/dist$/m)
    // Every file the build stage copies by name is in the repository.
    for (const match of dockerfile.matchAll(/^COPY (?!--from)(.+) \.\/$/gm)) {
      for (const path of match[1].split(' ')) expect(existsSync(join(root, path)), path).toBe(true)
    }
    const env = dockerfile.split('\n').filter((line) => line.startsWith('ENV '))
    expect(env.join(' ')).toMatch(/HOST=0\.0\.0\.0/)
    expect(env.join(' ')).toMatch(/DATA_DIR=\/data/)
    for (const name of variablesSet(env)) if (name !== 'NODE_ENV') expect(settingVariables, name).toContain(name)
  })

  it('the systemd unit starts the built server, sets only real settings and passes systemd-analyze verify', () => {
    const unit = read('coedit.service')
    const exec = /^ExecStart=\/usr\/bin\/node \/opt\/coedit\/(\S+) serve$/m.exec(unit)
    expect(exec).not.toBeNull()
    expect(existsSync(join(root, exec![1])), exec![1]).toBe(true)
    for (const line of ['DynamicUser=yes', 'StateDirectory=coedit', 'Environment=DATA_DIR=/var/lib/coedit', 'NoNewPrivileges=yes',
      'ProtectSystem=strict', 'Restart=on-failure', 'KillSignal=SIGTERM']) {
      expect(unit.split('\n'), line).toContain(line)
    }
    expect(unit).toMatch(/^TimeoutStopSec=\d+$/m)
    const environment = unit.split('\n').filter((line) => /^#?Environment=/.test(line)).map((line) => line.replace(/^#?Environment=/, ''))
    for (const name of variablesSet(environment)) if (name !== 'NODE_ENV') expect(settingVariables, name).toContain(name)

    const analyze = '/usr/bin/systemd-analyze'
    expect(existsSync(analyze), `${analyze} is missing: apt-get install systemd`).toBe(true)
    const dir = tempDir()
    const file = join(dir, 'coedit.service')
    writeFileSync(file, replaced(replaced(unit, /\/opt\/coedit\/dist\//, `${root}/dist/`), /WorkingDirectory=\/opt\/coedit/, `WorkingDirectory=${root}`))
    const verified = spawnSync(analyze, ['verify', file], { encoding: 'utf8' })
    expect(verified.status, verified.stderr).toBe(0)
    expect(verified.stderr).not.toMatch(/Unknown|Failed|Invalid|ignoring/i)
  })

  it('docker-compose.yml runs two coedit processes on PostgreSQL 16 and a Redis 7 without persistence, behind nginx', () => {
    const compose = read('docker-compose.yml')
    const services = compose.slice(compose.indexOf('\nservices:\n'))
    for (const service of ['coedit-a', 'coedit-b', 'postgres', 'redis', 'nginx']) expect(services, service).toMatch(new RegExp(`^ {2}${service}:`, 'm'))
    expect(compose).toMatch(/^ {4}image: postgres:16$/m)
    expect(compose).toMatch(/^ {4}image: redis:7$/m)
    expect(compose).toMatch(/^ {4}command: \["redis-server", "--save", "", "--appendonly", "no"\]$/m)
    expect(compose).toMatch(/^ {6}test: \["CMD", "pg_isready"/m)
    expect(compose).toMatch(/^ {4}dockerfile: deploy\/Dockerfile$/m)
    expect(compose).toContain('./nginx/compose.conf:/etc/nginx/conf.d/default.conf:ro')
    // The variables the coedit services set are settings coedit reads.
    const anchor = compose.slice(compose.indexOf('x-coedit:'), compose.indexOf('\nservices:\n'))
    const block = anchor.slice(anchor.indexOf('  environment:\n'), anchor.indexOf('  depends_on:'))
    const names = variablesSet(block.split('\n').slice(1).map((line) => line.trim().split(' ')[0]))
    expect(names).toEqual(['DATABASE_URL', 'REDIS_URL', 'AUTH_SECRET', 'TRUST_PROXY', 'LOG_FORMAT'])
    for (const name of names) expect(settingVariables, name).toContain(name)
    // nginx's fixed address is the one the processes trust.
    expect(compose).toMatch(/TRUST_PROXY: 172\.30\.0\.10\n[\s\S]*ipv4_address: 172\.30\.0\.10/)
  })
})
