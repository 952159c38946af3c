/**
 * A real nginx (Debian's `/usr/sbin/nginx`) as a child of the test: in the
 * foreground with no master process, every file it writes in a temporary
 * folder removed after the test, and stopped by its pid.
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { onTeardown } from './relay.js'

/** Where the Debian package installs nginx. */
export const nginxPath = '/usr/sbin/nginx'

/** A fresh temporary folder, removed after the test. */
export function nginxDir (): string {
  const dir = mkdtempSync(join(tmpdir(), 'coedit-nginx-'))
  onTeardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** A port of 127.0.0.1 that was free a moment ago. */
export async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** A complete nginx.conf around `http` (the contents of its http block), with every path in `dir`. */
export function nginxConf (dir: string, http: string): string {
  return `daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;
events { worker_connections 256; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
${http}
}
`
}

/**
 * Runs nginx on `conf` in `dir` as a child, stopped (SIGTERM, by pid) after
 * the test; resolves with its `http://127.0.0.1:port` address once
 * `/healthz` answers 200 through it. Rejects with its error log if it exits
 * first or does not answer in 10 s.
 */
export async function startNginx (dir: string, port: number, conf: string): Promise<string> {
  if (!existsSync(nginxPath)) throw new Error(`${nginxPath} is missing: apt-get install nginx`)
  const file = join(dir, 'nginx.conf')
  writeFileSync(file, conf)
  const child = spawn(nginxPath, ['-e', join(dir, 'error.log'), '-p', dir, '-c', file], { stdio: 'ignore' })
  let exitCode: number | null | undefined
  const exited = new Promise<void>((resolve) => child.once('exit', (code) => { exitCode = code; resolve() }))
  onTeardown(async () => {
    if (exitCode === undefined) child.kill('SIGTERM')
    await exited
  })
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 10_000
  for (;;) {
    if (exitCode !== undefined) throw new Error(`nginx exited with ${exitCode}:\n${readFileSync(join(dir, 'error.log'), 'utf8')}`)
    const answered = await fetch(`${url}/healthz`).then((res) => res.status === 200, () => false)
    if (answered) return url
    if (Date.now() > deadline) throw new Error('nginx did not answer in 10 s')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}
