/**
 * Headless Chromium for the browser tests: the system's build, launched
 * without sandbox or background services.
 */
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
