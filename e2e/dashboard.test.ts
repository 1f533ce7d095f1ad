/**
 * The dashboard in a real browser against a real Hangar process: sign-in (API key and
 * password), devices and the fleet query, pagination, a device page, groups, API keys,
 * sign-out and the audit log. Debian's chromium driven by playwright-core; CI installs it,
 * elsewhere the suite is skipped with a loud notice.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callAsAdmin, chromiumAvailable, ensureDashboardBuilt, launchBrowser, openFromNav, signInWithApiKey, type Browser } from './support/browser.js';
import { startHangar } from './support/hangar-process.js';

const hasChromium = chromiumAvailable('e2e/dashboard.test.ts', 'dashboard browser tests');
const SCREENSHOT = '/tmp/hangar-dashboard.png';
const USER = { username: 'ada', password: 'correct-horse-battery', role: 'admin' } as const;
const DEVICES = [
  { id: 'berlin-01', type: 'sensor', tags: { site: 'berlin', floor: '1' } },
  { id: 'berlin-02', type: 'sensor', tags: { site: 'berlin', floor: '2' } },
  { id: 'berlin-03', type: 'gateway', tags: { site: 'berlin' } },
  { id: 'paris-01', type: 'sensor', tags: { site: 'paris' } },
  { id: 'paris-02', type: 'gateway', tags: { site: 'paris' } },
];
const BERLIN = DEVICES.filter((d) => d.tags.site === 'berlin').map((d) => d.id);
const BAD_QUERY = 'tags.site = "berlin" AND %%';
const GOOD_QUERY = 'tags.site = "berlin"';

interface AuditItem {
  action: string;
  target: { type: string; id: string | null } | null;
}

describe.skipIf(!hasChromium)('dashboard in a browser', () => {
  let hangar: Awaited<ReturnType<typeof startHangar>>;
  let browser: Browser;
  let page: Page;
  let signInKey: string;

  const adminApi = <T>(method: string, path: string, body?: unknown): Promise<T> => callAsAdmin<T>(hangar, method, path, body);

  async function deviceRowIds(): Promise<string[]> {
    return page.locator('[data-testid="device-row"]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-device-id') ?? ''));
  }

  beforeAll(async () => {
    await ensureDashboardBuilt();
    hangar = await startHangar();
    for (const d of DEVICES) await adminApi('POST', '/devices', d);
    await adminApi('POST', '/users', USER);
    const key = await adminApi<{ token: string }>('POST', '/api-keys', { name: 'e2e-dashboard', role: 'admin' });
    signInKey = key.token;

    browser = await launchBrowser();
    page = browser.page;
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await hangar?.stop();
  });

  it('shows the server detail when an API key is wrong', async () => {
    await page.goto(`${hangar.url}/`);
    await page.getByTestId('signin-mode-apikey').click();
    await page.getByTestId('signin-apikey').fill('not-a-real-key-000000');
    await page.getByTestId('signin-submit').click();
    const error = page.getByTestId('signin-error');
    await error.waitFor();
    expect((await error.textContent())?.trim()).not.toBe('');
  });

  it('signs in with an API key and shows who is signed in', async () => {
    await signInWithApiKey(page, signInKey);
    expect(await page.getByTestId('whoami-name').textContent()).toBe('e2e-dashboard');
    expect(await page.getByTestId('whoami-role').textContent()).toBe('admin');
  });

  it('links to the API browser (/docs), which the server serves', async () => {
    const link = page.getByTestId('api-docs-link');
    expect(await link.getAttribute('href')).toBe('/docs');
    const docs = await fetch(new URL('/docs', hangar.url));
    expect(docs.status).toBe(200);
    expect(await docs.text()).toContain('swagger');
  });

  it('lists the devices in a table', async () => {
    // Sign-in lands on the fleet overview; the devices are one click away.
    await page.getByTestId('nav-devices').click();
    await page.getByTestId('devices-table').waitFor();
    await expect.poll(deviceRowIds).toEqual(expect.arrayContaining(DEVICES.map((d) => d.id)));
    const firstRow = page.locator('[data-testid="device-row"][data-device-id="berlin-01"]');
    expect(await firstRow.textContent()).toContain('site=berlin');
  });

  it('marks the position of a fleet-query error under the box', async () => {
    // What the API itself says about this query is what the page must show.
    const res = await fetch(`${hangar.url}/api/v1/devices?q=${encodeURIComponent(BAD_QUERY)}`, {
      headers: { authorization: `Bearer ${hangar.adminToken}` },
    });
    expect(res.status).toBe(400);
    const problem = (await res.json()) as { detail: string; position: number };
    expect(typeof problem.position).toBe('number');

    await page.getByTestId('fleet-query').fill(BAD_QUERY);
    await page.getByTestId('fleet-query').press('Enter');
    await page.getByTestId('query-error').waitFor();
    expect(await page.getByTestId('query-error-message').textContent()).toContain(problem.detail);
    const mark = page.getByTestId('query-error-mark');
    expect(await mark.getAttribute('data-position')).toBe(String(Math.min(problem.position, BAD_QUERY.length)));
    const echo = (await page.getByTestId('query-error-echo').textContent()) ?? '';
    expect(echo.split('\n')[1]?.indexOf('^')).toBe(Math.min(problem.position, BAD_QUERY.length));
    expect(await page.getByTestId('devices-table').count()).toBe(0);
  });

  it('shows only the devices that match a good query', async () => {
    await page.getByTestId('fleet-query').fill(GOOD_QUERY);
    await page.getByTestId('fleet-query').press('Enter');
    await page.getByTestId('query-error').waitFor({ state: 'detached' });
    await expect.poll(async () => (await deviceRowIds()).sort()).toEqual(BERLIN);
    expect(page.url()).toContain('#/devices?q=');
  });

  it('pages through the matches two at a time with Next and Previous', async () => {
    await page.getByTestId('page-size').selectOption('2');
    await expect.poll(async () => (await deviceRowIds()).length).toBe(2);
    const first = await deviceRowIds();
    expect(await page.getByTestId('pager-prev').isDisabled()).toBe(true);

    await page.getByTestId('pager-next').click();
    await expect.poll(() => page.getByTestId('pager-page').textContent()).toBe('Page 2');
    await expect.poll(async () => (await deviceRowIds()).length).toBe(1);
    const second = await deviceRowIds();
    expect([...first, ...second].sort()).toEqual(BERLIN);
    await expect.poll(() => page.getByTestId('pager-next').isDisabled()).toBe(true);

    await page.getByTestId('pager-prev').click();
    await expect.poll(deviceRowIds).toEqual(first);
    expect(await page.getByTestId('pager-page').textContent()).toBe('Page 1');
  });

  it('opens a device page and adds a tag', async () => {
    await page.locator('[data-testid="device-row"][data-device-id="berlin-01"] a').click();
    await page.locator('[data-testid="device-page"][data-device-id="berlin-01"]').waitFor();
    expect(await page.getByTestId('device-attributes').textContent()).toMatch(/^\{/);
    await page.getByTestId('tag-key').fill('rack');
    await page.getByTestId('tag-value').fill('r7');
    await page.getByTestId('tag-add').click();
    await page.locator('[data-testid="device-tag"][data-tag-key="rack"]').waitFor();
    const device = await adminApi<{ tags: Record<string, string> }>('GET', '/devices/berlin-01');
    expect(device.tags).toMatchObject({ site: 'berlin', rack: 'r7' });
  });

  it('suspends a device, says so on its page, and reactivates it', async () => {
    await page.locator('[data-testid="device-page"][data-device-id="berlin-01"]').waitFor();
    await page.getByTestId('suspend-device').click();
    const banner = page.getByTestId('suspended-banner');
    await banner.waitFor();
    expect(await banner.textContent()).toMatch(/Suspended: .*cannot connect/);
    expect((await adminApi<{ status: string }>('GET', '/devices/berlin-01')).status).toBe('suspended');
    await page.getByTestId('activate-device').click();
    await banner.waitFor({ state: 'detached' });
    expect((await adminApi<{ status: string }>('GET', '/devices/berlin-01')).status).toBe('active');
  });

  it('creates a static group and adds a device to it', async () => {
    await page.getByTestId('nav-groups').click();
    await page.getByTestId('new-group-button').click();
    await page.getByTestId('new-group-id').fill('berlin-pilot');
    await page.getByTestId('new-group-description').fill('Pilot devices in Berlin');
    await page.getByTestId('new-group-submit').click();
    await page.locator('[data-testid="group-page"][data-group-id="berlin-pilot"]').waitFor();

    await page.getByTestId('add-member-ids').fill('berlin-02');
    await page.getByTestId('add-member-submit').click();
    await page.locator('[data-testid="device-row"][data-device-id="berlin-02"]').waitFor();
    const group = await adminApi<{ kind: string }>('GET', '/groups/berlin-pilot');
    expect(group.kind).toBe('static');
  });

  it('creates an API key and shows its token exactly once', async () => {
    await openFromNav(page, 'api-keys');
    await page.getByTestId('new-api-key-name').fill('ci-reader');
    await page.getByTestId('new-api-key-role').selectOption('viewer');
    await page.getByTestId('new-api-key-submit').click();
    const panel = page.getByTestId('new-token-panel');
    await panel.waitFor();
    expect(await panel.textContent()).toContain('you will not see it again');
    const token = ((await page.getByTestId('new-token').textContent()) ?? '').trim();
    expect(token.length).toBeGreaterThan(15);

    const me = await fetch(`${hangar.url}/api/v1/auth/me`, { headers: { authorization: `Bearer ${token}` } });
    expect(me.status).toBe(200);
    expect(((await me.json()) as { role: string }).role).toBe('viewer');

    await page.locator('[data-testid="api-key-row"][data-api-key-name="ci-reader"]').waitFor();
    await page.getByTestId('dismiss-token').click();
    await page.reload();
    await page.getByTestId('api-keys-table').waitFor();
    expect(await page.content()).not.toContain(token);
  });

  it('returns to sign-in when the session is gone', async () => {
    await page.context().clearCookies();
    await page.getByTestId('nav-devices').click();
    await page.getByTestId('sign-in-notice').waitFor();
    await signInWithApiKey(page, signInKey);
  });

  it('signs out, then signs in as a user with a password', async () => {
    await page.getByTestId('sign-out').click();
    await page.getByTestId('sign-in-form').waitFor();
    const status = await page.evaluate(async () => (await fetch('/api/v1/auth/me', { credentials: 'same-origin' })).status);
    expect(status).toBe(401);

    await page.getByTestId('signin-mode-password').click();
    await page.getByTestId('signin-username').fill(USER.username);
    await page.getByTestId('signin-password').fill(USER.password);
    await page.getByTestId('signin-submit').click();
    await page.getByTestId('whoami').waitFor();
    expect(await page.getByTestId('whoami-name').textContent()).toBe(USER.username);
    expect(await page.getByTestId('whoami-role').textContent()).toBe(USER.role);
  });

  it('lists the earlier actions in the audit log, newest first, and filters by action', async () => {
    const expected = await adminApi<{ items: AuditItem[] }>('GET', '/audit?limit=25');
    const targets = expected.items.map((e) => e.target?.id);
    // The API recorded what the browser did: tag edit, group creation, API key creation.
    expect(targets).toEqual(expect.arrayContaining(['berlin-01', 'berlin-pilot']));
    expect(expected.items.some((e) => e.target?.type.replace(/[-_]/g, '') === 'apikey')).toBe(true);

    await openFromNav(page, 'audit');
    await page.getByTestId('audit-table').waitFor();
    const actions = (): Promise<string[]> =>
      page.locator('[data-testid="audit-row"]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-action') ?? ''));
    await expect.poll(actions).toEqual(expected.items.map((e) => e.action));

    const groupCreate = expected.items.find((e) => e.target?.id === 'berlin-pilot');
    const action = groupCreate?.action ?? '';
    await page.getByTestId('audit-action').fill(action);
    await page.getByTestId('audit-filter-submit').click();
    await expect.poll(async () => [...new Set(await actions())]).toEqual([action]);
    await page.getByTestId('audit-action').fill('');
    await page.getByTestId('audit-filter-submit').click();
    await expect.poll(async () => (await actions()).length).toBe(expected.items.length);

    await page.screenshot({ path: SCREENSHOT, fullPage: true });
  });
});
