/**
 * The headless browser of the dashboard's tests: Chromium from Debian's packages (`npm test` installs
 * it through scripts/bootstrap.js), driven by playwright-core, which never downloads a browser (only Playwright's own installer
 * does, and it is not used).
 * TICKLAKE_CHROMIUM names another executable.
 */
import fs from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

/** The Chromium executable to drive, if there is one. */
export function chromiumPath(): string | undefined {
  const named = process.env.TICKLAKE_CHROMIUM;
  if (named) return named;
  return CANDIDATES.find((p) => fs.existsSync(p));
}

export const NO_CHROMIUM =
  'no Chromium: `apt-get install chromium` (npm test installs it on Debian) or set TICKLAKE_CHROMIUM';

export async function launchBrowser(): Promise<Browser> {
  const executablePath = chromiumPath();
  if (!executablePath) throw new Error(NO_CHROMIUM);
  return chromium.launch({
    executablePath,
    headless: true,
    // As root (CI, containers) Chromium's sandbox cannot start; the page is our own.
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
  });
}
