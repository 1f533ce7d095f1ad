/**
 * What the dashboard e2e suites share: Debian's chromium driven by playwright-core (skipped with
 * a loud notice where it is missing), the dashboard bundle they load, and the API-key sign-in.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { REPO_ROOT, type RunningHangar } from './hangar-process.js';

export const CHROMIUM = '/usr/bin/chromium';

/** Whether chromium is installed; when it is not, says loudly that `suite` in `file` did NOT run. */
export function chromiumAvailable(file: string, suite: string): boolean {
  if (existsSync(CHROMIUM)) return true;
  console.warn(
    [
      '',
      '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!',
      `!!  ${file} SKIPPED: ${CHROMIUM} not found.`,
      `!!  The ${suite} did NOT run. Install it: apt-get install -y chromium`,
      '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!',
      '',
    ].join('\n'),
  );
  return false;
}

const WEB = join(REPO_ROOT, 'packages/web');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/**
 * The dashboard is served from packages/web/dist: build it when it is missing, and with
 * `whenStale` also when it is older than the sources (for tests that look for elements a stale
 * bundle would not have).
 */
export async function ensureDashboardBuilt(options: { whenStale?: boolean } = {}): Promise<void> {
  const index = join(WEB, 'dist/index.html');
  if (existsSync(index) && (!options.whenStale || statSync(index).mtimeMs >= newestMtime(join(WEB, 'src')))) return;
  const { build } = await import('vite');
  await build({ root: WEB, configFile: join(WEB, 'vite.config.ts'), logLevel: 'warn' });
}

export interface Browser {
  context: BrowserContext;
  page: Page;
  /** Closes the browser and removes its profile. */
  close(): Promise<void>;
}

/** Headless chromium with a fresh profile and one page (10 s default timeout). */
export async function launchBrowser(): Promise<Browser> {
  // playwright-core refuses `--user-data-dir` in launch() args and wants the directory as
  // launchPersistentContext's first parameter instead.
  const profileDir = mkdtempSync(join(tmpdir(), 'hangar-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      viewport: { width: 1280, height: 860 },
    });
  } catch (err) {
    rmSync(profileDir, { recursive: true, force: true });
    throw err;
  }
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(10_000);
  return {
    context,
    page,
    async close() {
      await context.close();
      rmSync(profileDir, { recursive: true, force: true });
    },
  };
}

/** Signs in on the sign-in page shown and waits until the dashboard says who is signed in. */
export async function signInWithApiKey(page: Page, key: string): Promise<void> {
  await page.getByTestId('signin-mode-apikey').click();
  await page.getByTestId('signin-apikey').fill(key);
  await page.getByTestId('signin-submit').click();
  await page.getByTestId('whoami').waitFor();
}

/** Calls the API with the bootstrap admin token, failing loudly on a non-2xx answer. */
export async function callAsAdmin<T>(hangar: RunningHangar, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${hangar.url}/api/v1${path}`, {
    method,
    headers: {
      authorization: `Bearer ${hangar.adminToken}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} → ${res.status}: ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

/**
 * Opens a page from the header: its link when shown inline, else through the "More" menu
 * (`path` as in routes.tsx NAV, without the leading slash: `webhooks`, `api-keys`).
 */
export async function openFromNav(page: Page, path: string): Promise<void> {
  const link = page.getByTestId(`nav-${path}`);
  if (!(await link.isVisible())) {
    await page.getByTestId('nav-more').click();
    await link.waitFor({ state: 'visible' });
  }
  await link.click();
}
