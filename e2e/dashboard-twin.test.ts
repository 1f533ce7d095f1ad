/**
 * The device twin on the device page, in a real browser against a real `hangar serve`:
 * desired and reported side by side with versions and per-property times, the delta marked,
 * live updates when the device reports over the HTTP device API, a desired merge patch sent
 * with If-Match, the 412 conflict when someone changes desired underneath (explained, patch
 * kept), bad patches refused with the API's message and nothing stored changed, and a viewer
 * who sees the twin but no editor. Debian's chromium via playwright-core; skipped with a loud
 * notice where it is missing.
 */
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callAsAdmin, chromiumAvailable, ensureDashboardBuilt, launchBrowser, signInWithApiKey, type Browser } from './support/browser.js';
import { REPO_ROOT, startHangar, type RunningHangar } from './support/hangar-process.js';

const hasChromium = chromiumAvailable('e2e/dashboard-twin.test.ts', 'device twin browser tests');
const DEVICE = 'pump-7';
const SCREENSHOT = join(REPO_ROOT, '.tmp', 'dashboard-twin.png');

interface Twin {
  etag: string;
  desired: Record<string, unknown> & { $version: number };
  reported: Record<string, unknown> & { $version: number };
  delta: Record<string, unknown>;
}

describe.skipIf(!hasChromium)('device twin in a browser', () => {
  let hangar: RunningHangar;
  let browser: Browser;
  let page: Page;
  let deviceToken = '';
  let viewerKey = '';

  const adminApi = <T>(method: string, path: string, body?: unknown): Promise<T> => callAsAdmin<T>(hangar, method, path, body);
  const storedTwin = (): Promise<Twin> => adminApi<Twin>('GET', `/devices/${DEVICE}/twin`);

  /** What a device does: `PATCH /device/v1/twin/reported` with its token (docs/twins.md). */
  async function report(patch: Record<string, unknown>): Promise<number> {
    const res = await fetch(`${hangar.url}/device/v1/twin/reported`, {
      method: 'PATCH',
      headers: { authorization: `Basic ${Buffer.from(`${DEVICE}:${deviceToken}`).toString('base64')}`, 'content-type': 'application/json' },
      body: JSON.stringify(patch),
    });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`PATCH /device/v1/twin/reported → ${res.status}: ${text}`);
    return (JSON.parse(text) as { $version: number }).$version;
  }

  const row = (path: string) => page.locator(`[data-testid="twin-row"][data-path="${path}"]`);
  const rowState = (path: string): Promise<string | null> => row(path).getAttribute('data-state');
  const cell = async (path: string, which: 'desired' | 'reported'): Promise<string> => (await row(path).getByTestId(`twin-${which}-value`).innerText()).trim();
  const text = async (testId: string): Promise<string> => ((await page.getByTestId(testId).first().textContent()) ?? '').trim();

  beforeAll(async () => {
    await ensureDashboardBuilt({ whenStale: true });
    hangar = await startHangar();
    await adminApi('POST', '/devices', { id: DEVICE, type: 'pump' });
    deviceToken = (await adminApi<{ token: string }>('POST', `/devices/${DEVICE}/credentials`, { type: 'token' })).token;
    viewerKey = (await adminApi<{ token: string }>('POST', '/api-keys', { name: 'e2e-twin-viewer', role: 'viewer' })).token;
    await adminApi('PATCH', `/devices/${DEVICE}/twin`, { desired: { interval: 30, network: { wifi: 'office', vlan: 7 } } });
    await report({ interval: 30, network: { wifi: 'home' }, fw: '1.2.3' });
    browser = await launchBrowser();
    page = browser.page;
    await page.goto(`${hangar.url}/`);
    await signInWithApiKey(page, hangar.adminToken);
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await hangar?.stop();
  });

  it('shows desired and reported side by side, with versions, times and the delta marked', async () => {
    await page.goto(`${hangar.url}/#/devices/${DEVICE}`);
    await page.getByTestId('twin-table').waitFor();
    const twin = await storedTwin();
    expect(await page.getByTestId('device-twin').getAttribute('data-etag')).toBe(twin.etag);
    expect(await text('twin-desired-version')).toBe('$version 1');
    expect(await text('twin-reported-version')).toBe('$version 1');

    const paths = await page.locator('[data-testid="twin-row"]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-path')));
    expect(paths).toEqual(['fw', 'interval', 'network.vlan', 'network.wifi']);
    expect(await rowState('interval')).toBe('in-sync');
    expect(await rowState('network.wifi')).toBe('pending');
    expect(await rowState('network.vlan')).toBe('pending');
    expect(await rowState('fw')).toBe('reported-only');
    expect(await cell('network.wifi', 'desired')).toBe('"office"');
    expect(await cell('network.wifi', 'reported')).toBe('"home"');
    expect(await cell('network.vlan', 'reported')).toBe('—');
    // The pending rows are the delta the API computed.
    expect(twin.delta).toEqual({ network: { wifi: 'office', vlan: 7 } });
    expect(await page.getByTestId('twin-delta-summary').getAttribute('data-pending')).toBe('2');
    expect(await text('twin-delta-summary')).toContain('2 desired properties not reported yet');
    // Per-property times come from $metadata.
    expect(await row('interval').innerText()).toMatch(/\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}/);
  });

  it('follows the device live: a reported patch over HTTP clears the delta without a reload', async () => {
    await page.locator('[data-testid="live-status"][data-status="live"]').waitFor();
    const version = await report({ network: { wifi: 'office', vlan: 7 } });
    await expect.poll(() => text('twin-reported-version'), { timeout: 8_000 }).toBe(`$version ${version}`);
    expect(await rowState('network.wifi')).toBe('in-sync');
    expect(await rowState('network.vlan')).toBe('in-sync');
    expect(await page.getByTestId('twin-delta-summary').getAttribute('data-pending')).toBe('0');
    expect(await text('twin-delta-summary')).toContain('reported matches desired');
  });

  it('applies a desired merge patch with If-Match: objects merge, null deletes, the new value is pending', async () => {
    await page.getByTestId('twin-patch').fill('{"interval": 60, "network": {"vlan": null}, "mode": "eco"}');
    const before = await storedTwin();
    expect(await page.getByTestId('twin-editor').getAttribute('data-base-etag')).toBe(before.etag);
    await page.getByTestId('twin-apply').click();
    await page.getByTestId('twin-applied').waitFor();
    expect(await text('twin-applied')).toContain(`$version ${before.desired.$version + 1}`);
    expect(await page.getByTestId('twin-patch').inputValue()).toBe('');

    const after = await storedTwin();
    expect(after.desired).toMatchObject({ interval: 60, network: { wifi: 'office' }, mode: 'eco' });
    expect(after.desired['network']).not.toHaveProperty('vlan');
    await expect.poll(() => rowState('interval')).toBe('pending');
    expect(await cell('interval', 'desired')).toBe('60');
    expect(await cell('interval', 'reported')).toBe('30');
    expect(await rowState('mode')).toBe('pending');
    // vlan is gone from desired; the device still reports it.
    expect(await rowState('network.vlan')).toBe('reported-only');
  });

  it('keeps the patch and explains a 412 when someone changes desired underneath', async () => {
    const base = await storedTwin();
    await page.getByTestId('twin-patch').fill('{"mode": "boost"}');
    // Another operator changes desired after this patch was started.
    await adminApi('PATCH', `/devices/${DEVICE}/twin`, { desired: { mode: 'off' } });
    // The table follows it live, and the editor says the patch's base is stale.
    await expect.poll(() => cell('mode', 'desired'), { timeout: 8_000 }).toBe('"off"');
    await page.getByTestId('twin-desired-moved').waitFor();
    expect(await page.getByTestId('twin-editor').getAttribute('data-base-etag')).toBe(base.etag);

    await page.getByTestId('twin-apply').click();
    await page.getByTestId('twin-conflict').waitFor();
    const conflict = await text('twin-conflict');
    expect(conflict).toContain('someone changed the twin since you loaded it');
    expect(conflict).toContain('Reload shows their change; your patch is kept in the editor');
    expect(await page.getByTestId('twin-patch').inputValue()).toBe('{"mode": "boost"}');
    expect((await storedTwin()).desired['mode']).toBe('off');

    await page.getByTestId('twin-conflict-reload').click();
    await expect.poll(async () => page.getByTestId('twin-conflict').count()).toBe(0);
    const current = await storedTwin();
    expect(await page.getByTestId('twin-editor').getAttribute('data-base-etag')).toBe(current.etag);
    expect(await page.getByTestId('twin-patch').inputValue()).toBe('{"mode": "boost"}');
    await page.getByTestId('twin-apply').click();
    await page.getByTestId('twin-applied').waitFor();
    expect((await storedTwin()).desired['mode']).toBe('boost');
  });

  it('does not call a device report a conflict: the patch follows reported changes', async () => {
    await page.getByTestId('twin-patch').fill('{"interval": 90}');
    const version = await report({ interval: 60 });
    await expect.poll(() => text('twin-reported-version'), { timeout: 8_000 }).toBe(`$version ${version}`);
    expect(await page.getByTestId('twin-desired-moved').count()).toBe(0);
    await page.getByTestId('twin-apply').click();
    await page.getByTestId('twin-applied').waitFor();
    expect((await storedTwin()).desired['interval']).toBe(90);
  });

  it('refuses bad patches with a clear message and changes nothing', async () => {
    const before = await storedTwin();
    await page.getByTestId('twin-patch').fill('{"interval": ');
    await page.getByTestId('twin-apply').click();
    expect(await text('twin-patch-invalid')).toMatch(/^The patch is not valid JSON: /);

    await page.getByTestId('twin-patch').fill('[1, 2]');
    await page.getByTestId('twin-apply').click();
    await page.getByTestId('twin-patch-error').waitFor();
    expect(await text('twin-patch-error')).toMatch(/^400 /);

    await page.getByTestId('twin-patch').fill('{"$version": 99}');
    await page.getByTestId('twin-apply').click();
    await expect.poll(() => text('twin-patch-error')).toContain('$version');

    await page.getByTestId('twin-patch').fill(JSON.stringify({ blob: 'x'.repeat(40_000) }));
    await page.getByTestId('twin-apply').click();
    await expect.poll(() => text('twin-patch-error')).toMatch(/^413 /);
    expect(await storedTwin()).toEqual(before);

    await page.getByTestId('twin-clear').click();
    await page.getByTestId('device-twin').scrollIntoViewIfNeeded();
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
  });

  it('shows a viewer the twin but no editor', async () => {
    await page.getByTestId('sign-out').click();
    await signInWithApiKey(page, viewerKey);
    await page.goto(`${hangar.url}/#/devices/${DEVICE}`);
    await page.getByTestId('twin-table').waitFor();
    expect(await page.getByTestId('twin-editor').count()).toBe(0);
    expect(await rowState('mode')).toBe('pending');
  });
});
