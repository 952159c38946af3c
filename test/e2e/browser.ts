/**
 * Headless Chromium for the browser tests: the system's build, launched
 * without sandbox or background services.
 */
import { afterAll, beforeAll } from 'vitest'
import { mkdir } from 'node:fs/promises'
import { chromium, type Browser } from 'playwright-core'

/** Where the Debian package installs Chromium. */
export const chromiumPath = '/usr/bin/chromium'

/** Launches headless Chromium. Close it in teardown. */
export async function launchBrowser (): Promise<Browser> {
  return await chromium.launch({
    executablePath: chromiumPath,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync'
    ]
  })
}

/** Folder for the screenshots browser tests save (git-ignored). */
export const artifacts = new URL('../../test-artifacts/', import.meta.url)

/**
 * Launches one browser for the calling test file before its tests and
 * closes it after them; returns a getter for it. Also creates `artifacts`.
 */
export function useBrowser (): () => Browser {
  let browser: Browser | undefined
  beforeAll(async () => {
    browser = await launchBrowser()
    await mkdir(artifacts, { recursive: true })
  })
  afterAll(async () => {
    await browser?.close()
  })
  return () => {
    if (!browser) throw new Error('the browser is not launched yet')
    return browser
  }
}
