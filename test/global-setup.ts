/**
 * Builds what the tests run from `dist/` — the server (`dist/server`, which
 * child-process tests start) and the editor (`dist/editor`, which the
 * browser tests load) — once, before any test file of the run starts. No
 * test file builds: one that rewrote `dist/` while another started a
 * server from it could start a half-written build. In watch mode the build
 * is redone before each rerun.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { TestProject } from 'vitest/node'

const root = fileURLToPath(new URL('..', import.meta.url))
const bin = (path: string): string => fileURLToPath(new URL(`../node_modules/${path}`, import.meta.url))

/** Runs a Node script in the repository root; rejects with its output when it fails. */
function run (what: string, script: string, args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => { output += chunk })
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { output += chunk })
    child.once('error', reject)
    child.once('exit', (code, signal) => {
      if (code === 0) resolve()
      else reject(new Error(`${what} failed (${signal ?? `exit ${code}`}):\n${output}`))
    })
  })
}

/** Builds the server and the editor side by side (they write to separate folders); rejects if either fails. */
async function buildAll (): Promise<void> {
  await Promise.all([
    run('npm run build:server', bin('typescript/bin/tsc'), ['-p', 'tsconfig.build.json']),
    run('npm run build:editor', bin('vite/bin/vite.js'), ['build', '--config', 'editor/vite.config.ts', '--logLevel', 'warn'])
  ])
}

/** Vitest's global setup: builds before the first test file, and again before every watch-mode rerun. */
export default async function setup (project: TestProject): Promise<void> {
  await buildAll()
  project.onTestsRerun(async () => { await buildAll() })
}
