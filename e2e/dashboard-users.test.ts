/**
 * The users page and the header it is reached from, in a real browser against a real
 * `hangar serve`: the header fits 1024 and 1280 px with the less-used pages behind an
 * accessible "More" menu (keyboard, Escape, outside click); an admin lists, creates (bad input
 * answered with the API's message, nothing stored), re-roles, re-passwords and disables users,
 * each checked through the REST API and by signing in as that user; other roles do not get the
 * page. Debian's chromium via playwright-core; skipped with a loud notice where it is missing.
 */
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callAsAdmin, chromiumAvailable, ensureDashboardBuilt, launchBrowser, openFromNav, signInWithApiKey, type Browser } from './support/browser.js';
import { REPO_ROOT, startHangar, type RunningHangar } from './support/hangar-process.js';

const hasChromium = chromiumAvailable('e2e/dashboard-users.test.ts', 'users page and header menu browser tests');
const SHOT_DIR = join(REPO_ROOT, '.tmp');

interface WireUser {
  id: string;
  username: string;
  role: string;
  disabledAt: string | null;
}

describe.skipIf(!hasChromium)('users page and header menu in a browser', () => {
  let hangar: RunningHangar;
  let browser: Browser;
  let page: Page;
  let operatorKey = '';

  const adminApi = <T>(method: string, path: string, body?: unknown): Promise<T> => callAsAdmin<T>(hangar, method, path, body);
  const users = async (): Promise<WireUser[]> => (await adminApi<{ items: WireUser[] }>('GET', '/users')).items;
  const userNamed = async (username: string): Promise<WireUser | undefined> => (await users()).find((u) => u.username === username);
  /** Signs in as a user over the REST API (not the browser): the status says whether it worked. */
  const loginStatus = async (username: string, password: string): Promise<number> =>
    (await fetch(`${hangar.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) })).status;
  const userRow = (username: string) => page.locator(`[data-testid="user-row"][data-username="${username}"]`);
  const focusedTestId = (): Promise<string | null> => page.evaluate(() => document.activeElement?.getAttribute('data-testid') ?? null);

  beforeAll(async () => {
    await ensureDashboardBuilt({ whenStale: true });
    hangar = await startHangar();
    await adminApi('POST', '/users', { username: 'alice', password: 'alice-password-1', role: 'viewer' });
    operatorKey = (await adminApi<{ token: string }>('POST', '/api-keys', { name: 'e2e-users-operator', role: 'operator' })).token;
    browser = await launchBrowser();
    page = browser.page;
    await page.goto(`${hangar.url}/`);
    await signInWithApiKey(page, hangar.adminToken);
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await hangar?.stop();
  });

  for (const width of [1024, 1280]) {
    it(`fits the header on one line at ${width} px, the rest behind "More"`, async () => {
      await page.setViewportSize({ width, height: 800 });
      await page.goto(`${hangar.url}/#/overview`);
      await page.getByTestId('overview-page').waitFor();
      const layout = await page.evaluate(() => {
        const header = document.querySelector('.header') as HTMLElement;
        const signOut = document.querySelector('[data-testid="sign-out"]') as HTMLElement;
        const more = document.querySelector('[data-testid="nav-more"]') as HTMLElement;
        return {
          overflow: header.scrollWidth - header.clientWidth,
          height: header.getBoundingClientRect().height,
          signOutRight: signOut.getBoundingClientRect().right,
          moreTop: more.getBoundingClientRect().top,
          brandTop: (document.querySelector('.header .brand') as HTMLElement).getBoundingClientRect().top,
        };
      });
      expect(layout.overflow).toBeLessThanOrEqual(0);
      expect(layout.height).toBe(52);
      expect(layout.signOutRight).toBeLessThanOrEqual(width);
      for (const id of ['overview', 'devices', 'groups', 'alerts', 'nav-more']) {
        expect(await page.getByTestId(id.startsWith('nav-') ? id : `nav-${id}`).isVisible()).toBe(true);
      }
      expect(await page.getByTestId('nav-users').isVisible()).toBe(false);
      await page.getByTestId('nav-more').click();
      expect(await page.getByTestId('nav-users').isVisible()).toBe(true);
      const listBox = await page.getByTestId('nav-more-list').boundingBox();
      expect(listBox && listBox.x + listBox.width).toBeLessThanOrEqual(width);
      await page.screenshot({ path: join(SHOT_DIR, `dashboard-header-${width}.png`) });
      await page.keyboard.press('Escape');
      expect(await page.getByTestId('nav-more-list').isVisible()).toBe(false);
    });
  }

  it('works the More menu by keyboard: arrows move, Escape closes and returns focus, Tab out closes, Enter opens a page', async () => {
    await page.getByTestId('nav-more').focus();
    expect(await page.getByTestId('nav-more').getAttribute('aria-expanded')).toBe('false');
    await page.keyboard.press('ArrowDown');
    await expect.poll(focusedTestId).toBe('nav-enrollment-groups');
    expect(await page.getByTestId('nav-more').getAttribute('aria-expanded')).toBe('true');
    await page.keyboard.press('ArrowDown');
    expect(await focusedTestId()).toBe('nav-alert-rules');
    await page.keyboard.press('ArrowUp');
    await page.keyboard.press('ArrowUp');
    // Wraps around to the last entry.
    expect(await focusedTestId()).toBe('nav-audit');
    await page.keyboard.press('Home');
    expect(await focusedTestId()).toBe('nav-enrollment-groups');
    await page.keyboard.press('Escape');
    expect(await page.getByTestId('nav-more-list').isVisible()).toBe(false);
    expect(await focusedTestId()).toBe('nav-more');

    // Tabbing past its last link closes it.
    await page.keyboard.press('ArrowDown');
    await expect.poll(focusedTestId).toBe('nav-enrollment-groups');
    await page.keyboard.press('End');
    expect(await focusedTestId()).toBe('nav-audit');
    await page.keyboard.press('Tab');
    await page.getByTestId('nav-more-list').waitFor({ state: 'hidden' });

    // A click outside closes it too.
    await page.getByTestId('nav-more').focus();
    await page.keyboard.press('Enter');
    await page.getByTestId('nav-more-list').waitFor({ state: 'visible' });
    await page.mouse.click(1000, 760);
    await page.getByTestId('nav-more-list').waitFor({ state: 'hidden' });

    await page.getByTestId('nav-more').focus();
    await page.keyboard.press('Enter');
    await page.getByTestId('nav-users').waitFor({ state: 'visible' });
    await page.getByTestId('nav-users').focus();
    await page.keyboard.press('Enter');
    await page.getByTestId('users-page').waitFor();
    expect(page.url()).toContain('#/users');
    expect(await page.getByTestId('nav-more-list').isVisible()).toBe(false);
    expect(await page.getByTestId('nav-more-current').textContent()).toBe('Users');
    expect(await page.getByTestId('nav-users').getAttribute('aria-current')).toBe('page');
  });

  it('lists the users of the tenant', async () => {
    await userRow('alice').waitFor();
    expect(await userRow('alice').getByTestId('user-role').inputValue()).toBe('viewer');
    expect((await userRow('alice').getByTestId('user-status').textContent())?.trim()).toBe('active');
  });

  it('refuses bad new users with the API’s message and stores nothing', async () => {
    const before = await users();
    const submit = async (username: string, password: string): Promise<string> => {
      await page.getByTestId('new-user-name').fill(username);
      await page.getByTestId('new-user-password').fill(password);
      await page.getByTestId('new-user-submit').click();
      await page.getByTestId('new-user-error').waitFor();
      return ((await page.getByTestId('new-user-error').textContent()) ?? '').trim();
    };
    expect(await submit('bob', 'short')).toMatch(/^400 .*password.*8/);
    expect(await submit('bad name!', 'long-enough-password')).toMatch(/^400 .*username must be/);
    expect(await submit('alice', 'long-enough-password')).toMatch(/^409 .*alice.*already exists/);
    expect(await users()).toEqual(before);
    // The form keeps what was typed, for a correction.
    expect(await page.getByTestId('new-user-name').inputValue()).toBe('alice');
  });

  it('creates a user who can then sign in', async () => {
    await page.getByTestId('new-user-name').fill('bob');
    await page.getByTestId('new-user-password').fill('bob-password-1');
    await page.getByTestId('new-user-role').selectOption('operator');
    await page.getByTestId('new-user-submit').click();
    await page.getByTestId('user-created').waitFor();
    await userRow('bob').waitFor();
    expect(await page.getByTestId('new-user-error').count()).toBe(0);
    expect(await page.getByTestId('new-user-password').inputValue()).toBe('');
    expect(await userNamed('bob')).toMatchObject({ role: 'operator', disabledAt: null });
    expect(await loginStatus('bob', 'bob-password-1')).toBe(200);
  });

  it('changes a user’s role', async () => {
    await userRow('alice').getByTestId('user-role').selectOption('admin');
    await expect.poll(async () => (await userNamed('alice'))?.role).toBe('admin');
    await expect.poll(() => userRow('alice').getByTestId('user-role').inputValue()).toBe('admin');
  });

  it('sets a user’s password, refusing a short one', async () => {
    await userRow('bob').getByTestId('user-set-password').click();
    await page.getByTestId('set-password-dialog').waitFor();
    await page.getByTestId('set-password-input').fill('short');
    await page.getByTestId('set-password-submit').click();
    await page.getByTestId('set-password-error').waitFor();
    expect(await page.getByTestId('set-password-error').textContent()).toMatch(/^400 .*8/);
    expect(await loginStatus('bob', 'bob-password-1')).toBe(200);

    await page.getByTestId('set-password-input').fill('bob-password-2');
    await page.getByTestId('set-password-submit').click();
    await page.getByTestId('set-password-dialog').waitFor({ state: 'detached' });
    expect(await loginStatus('bob', 'bob-password-2')).toBe(200);
    expect(await loginStatus('bob', 'bob-password-1')).toBe(401);
  });

  it('disables a user after asking, who can then no longer sign in', async () => {
    await userRow('bob').getByTestId('user-disable').click();
    await userRow('bob').getByTestId('user-disable-confirm').click();
    await expect.poll(() => userRow('bob').getAttribute('data-disabled')).toBe('true');
    expect(await userRow('bob').getByTestId('user-status').textContent()).toMatch(/^disabled /);
    expect(await userRow('bob').getByTestId('user-disable').count()).toBe(0);
    expect((await userNamed('bob'))?.disabledAt).not.toBeNull();
    expect(await loginStatus('bob', 'bob-password-2')).toBe(401);
    await page.screenshot({ path: join(SHOT_DIR, 'dashboard-users.png'), fullPage: true });
  });

  it('gives other roles neither the link nor the page', async () => {
    await page.getByTestId('sign-out').click();
    await signInWithApiKey(page, operatorKey);
    expect(await page.getByTestId('nav-users').count()).toBe(0);
    // The operator still has the pages every role may open behind More.
    await openFromNav(page, 'webhooks');
    expect(page.url()).toContain('#/webhooks');
    await page.goto(`${hangar.url}/#/users`);
    await page.getByTestId('forbidden').waitFor();
  });
});
