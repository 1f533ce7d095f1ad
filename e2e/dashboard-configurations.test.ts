/**
 * Fleet configurations in a real browser against a real `hangar serve` (docs/configurations.md):
 * the page opened from the header, a target that does not parse refused inline with nothing
 * stored, a configuration created from the form reaching the targeted devices' desired twins,
 * metrics following a device that reports over the HTTP device API, a priority change handing a
 * contested property to the other configuration, and a delete (its confirmation stating the
 * removal effect) giving it back. Debian's chromium via playwright-core; skipped with a loud
 * notice where it is missing.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callAsAdmin, chromiumAvailable, ensureDashboardBuilt, launchBrowser, openFromNav, signInWithApiKey, type Browser } from './support/browser.js';
import { REPO_ROOT, startHangar, type RunningHangar } from './support/hangar-process.js';

const hasChromium = chromiumAvailable('e2e/dashboard-configurations.test.ts', 'configurations browser tests');
const SCREENSHOT_DIR = join(REPO_ROOT, '.tmp');
const PUMPS = ['pump-1', 'pump-2'];

interface Configuration {
  id: string;
  name: string;
  priority: number;
  metrics: { targeted: number; applied: number; pending: number; conflicting: number };
}

describe.skipIf(!hasChromium)('configurations in a browser', () => {
  let hangar: RunningHangar;
  let browser: Browser;
  let page: Page;
  const tokens = new Map<string, string>();
  let createdId = '';
  let otherId = '';

  const adminApi = <T>(method: string, path: string, body?: unknown): Promise<T> => callAsAdmin<T>(hangar, method, path, body);
  const desired = async (device: string): Promise<Record<string, unknown>> => (await adminApi<{ desired: Record<string, unknown> }>('GET', `/devices/${device}/twin`)).desired;
  const configurations = async (): Promise<Configuration[]> => (await adminApi<{ items: Configuration[] }>('GET', '/configurations')).items;
  const text = async (testId: string): Promise<string> => ((await page.getByTestId(testId).first().textContent()) ?? '').trim();

  /** What a device does: `PATCH /device/v1/twin/reported` with its token (docs/twins.md). */
  async function report(device: string, patch: Record<string, unknown>): Promise<void> {
    const res = await fetch(`${hangar.url}/device/v1/twin/reported`, {
      method: 'PATCH',
      headers: { authorization: `Basic ${Buffer.from(`${device}:${tokens.get(device) ?? ''}`).toString('base64')}`, 'content-type': 'application/json' },
      body: JSON.stringify(patch),
    });
    if (res.status !== 200) throw new Error(`PATCH /device/v1/twin/reported → ${res.status}: ${await res.text()}`);
  }

  beforeAll(async () => {
    await ensureDashboardBuilt({ whenStale: true });
    hangar = await startHangar();
    for (const id of PUMPS) {
      await adminApi('POST', '/devices', { id, type: 'pump' });
      tokens.set(id, (await adminApi<{ token: string }>('POST', `/devices/${id}/credentials`, { type: 'token' })).token);
    }
    await adminApi('POST', '/devices', { id: 'sensor-1', type: 'sensor' });
    browser = await launchBrowser();
    page = browser.page;
    await page.goto(`${hangar.url}/`);
    await signInWithApiKey(page, hangar.adminToken);
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await hangar?.stop();
  });

  it('is reachable from the header, which still fits 1024 px', async () => {
    await page.setViewportSize({ width: 1024, height: 760 });
    await openFromNav(page, 'configurations');
    await page.getByTestId('configurations-empty').waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBe(0);
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'dashboard-configurations-1024.png') });
    await page.setViewportSize({ width: 1280, height: 860 });
  });

  it('refuses a target that does not parse, inline, and stores nothing', async () => {
    await page.getByTestId('new-configuration-button').click();
    await page.getByTestId('new-configuration-name').fill('pump-interval');
    await page.getByTestId('new-configuration-target').fill('type = ');
    // The live check shows the parser's error with the range marked, before any submit.
    await page.getByTestId('query-error').waitFor();
    expect(await page.getByTestId('new-configuration-target-count').getAttribute('data-state')).toBe('invalid');
    await page.getByTestId('new-configuration-desired').fill('{"interval": 30}');
    expect(await text('query-error-message')).not.toBe('');
    expect(await page.getByTestId('query-error-mark').count()).toBe(1);
    const refused = page.waitForResponse((res) => res.url().endsWith('/api/v1/configurations') && res.request().method() === 'POST');
    await page.getByTestId('new-configuration-submit').click();
    expect((await refused).status()).toBe(400);
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'dashboard-configuration-form.png'), fullPage: true });
    // The server's refusal is about the target: it stays under the target field, not a generic error.
    await page.getByTestId('query-error').waitFor();
    expect(await page.getByTestId('new-configuration-error').count()).toBe(0);
    expect(await configurations()).toEqual([]);

    // Content is checked in the page too: a null would be a deletion.
    await page.getByTestId('new-configuration-target').fill('type = "pump"');
    await page.getByTestId('new-configuration-desired').fill('{"interval": null}');
    await page.getByTestId('new-configuration-submit').click();
    expect(await text('new-configuration-desired-invalid')).toContain('interval is null');
    expect(await configurations()).toEqual([]);
  });

  it('creates a configuration that reaches the targeted devices', async () => {
    await expect.poll(() => page.getByTestId('new-configuration-target-count').getAttribute('data-count')).toBe('2');
    expect(await text('new-configuration-explain')).toContain('higher priority wins');
    await page.getByTestId('new-configuration-desired').fill('{"interval": 30, "mode": "eco"}');
    await page.getByTestId('new-configuration-priority').fill('5');
    await page.getByTestId('new-configuration-labels').fill('team=ops');
    await page.getByTestId('new-configuration-submit').click();
    await page.getByTestId('created-configuration').waitFor();
    expect(await page.getByTestId('created-configuration-link').count()).toBe(1);
    const [created] = await configurations();
    expect(created).toMatchObject({ name: 'pump-interval', priority: 5 });
    createdId = created!.id;
    for (const id of PUMPS) await expect.poll(() => desired(id), { timeout: 10_000 }).toMatchObject({ interval: 30, mode: 'eco' });
    expect(await desired('sensor-1')).not.toHaveProperty('interval');
    const row = page.locator(`[data-testid="configuration-row"][data-configuration-id="${createdId}"]`);
    await expect.poll(() => row.getByTestId('configuration-row-metrics').getAttribute('data-targeted'), { timeout: 15_000 }).toBe('2');
  });

  it('shows the server refusing a duplicate name, and stores nothing', async () => {
    await page.getByTestId('new-configuration-button').click();
    await page.getByTestId('new-configuration-name').fill('pump-interval');
    await page.getByTestId('new-configuration-desired').fill('{"interval": 99}');
    await page.getByTestId('new-configuration-submit').click();
    expect(await text('new-configuration-error')).toMatch(/^409 /);
    expect((await configurations()).map((c) => c.id)).toEqual([createdId]);
    await page.getByRole('button', { name: 'Cancel' }).click();
  });

  it('updates the metrics after a device reports the content over HTTP', async () => {
    await page.locator(`[data-testid="configuration-row"][data-configuration-id="${createdId}"] a`).click();
    await page.getByTestId('configuration-page').waitFor();
    await expect.poll(() => page.getByTestId('configuration-metrics').getAttribute('data-applied')).toBe('0');
    expect(await page.getByTestId('configuration-metrics').getAttribute('data-pending')).toBe('2');
    await report('pump-1', { interval: 30, mode: 'eco' });
    await expect.poll(() => page.getByTestId('configuration-metrics').getAttribute('data-applied'), { timeout: 15_000 }).toBe('1');
    expect(await page.getByTestId('configuration-metrics').getAttribute('data-pending')).toBe('1');
    await page.getByTestId('configuration-devices-applied').click();
    await expect.poll(() => page.locator('[data-testid="configuration-device-row"]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-device-id')))).toEqual(['pump-1']);
    await page.getByTestId('configuration-devices-pending').click();
    await expect.poll(() => page.locator('[data-testid="configuration-device-row"]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-device-id')))).toEqual(['pump-2']);
    // Each row links to its device.
    expect(await page.locator('[data-testid="configuration-device-row"] a').getAttribute('href')).toBe('#/devices/pump-2');
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'dashboard-configuration-detail.png'), fullPage: true });
  });

  it('hands a contested property to the other configuration when the priority changes', async () => {
    otherId = (await adminApi<Configuration>('POST', '/configurations', { name: 'pump-fast', target: 'type = "pump"', content: { desired: { interval: 60 } }, priority: 1 })).id;
    // pump-interval (5) keeps interval; pump-fast is conflicting on both pumps.
    await expect.poll(async () => (await configurations()).find((c) => c.id === otherId)?.metrics.conflicting, { timeout: 15_000 }).toBe(2);
    for (const id of PUMPS) expect((await desired(id))['interval']).toBe(30);

    await page.getByTestId('edit-configuration-button').click();
    await page.getByTestId('edit-configuration-priority').fill('0');
    await page.getByTestId('edit-configuration-submit').click();
    await expect.poll(() => page.getByTestId('configuration-priority').getAttribute('data-priority')).toBe('0');
    for (const id of PUMPS) await expect.poll(async () => (await desired(id))['interval'], { timeout: 15_000 }).toBe(60);
    // mode was never contested: it stays.
    expect((await desired('pump-1'))['mode']).toBe('eco');
    await expect.poll(() => page.getByTestId('configuration-metrics').getAttribute('data-conflicting'), { timeout: 15_000 }).toBe('2');

    // The list shows the new precedence order.
    await page.locator('a[href="#/configurations"]').first().click();
    await expect
      .poll(() => page.locator('[data-testid="configuration-row"]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-name'))))
      .toEqual(['pump-fast', 'pump-interval']);
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'dashboard-configurations-list.png'), fullPage: true });
  });

  it('deletes a configuration after a confirmation that states the removal effect', async () => {
    await page.locator(`[data-testid="configuration-row"][data-configuration-id="${otherId}"] a`).click();
    await page.getByTestId('configuration-page').waitFor();
    await page.getByTestId('delete-configuration').click();
    const question = await text('delete-configuration-confirm-box');
    expect(question).toContain('each property it wrote is removed from desired');
    expect(question).toContain('unless another configuration that still targets the device sets that property');
    await page.getByTestId('delete-configuration-confirm').click();
    await page.getByTestId('configurations-page').waitFor();
    await expect
      .poll(() => page.locator('[data-testid="configuration-row"]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-name'))))
      .toEqual(['pump-interval']);
    // pump-interval still targets the pumps and sets interval: it owns it again and writes its value.
    for (const id of PUMPS) await expect.poll(async () => (await desired(id))['interval'], { timeout: 15_000 }).toBe(30);
    expect((await configurations()).map((c) => c.id)).toEqual([createdId]);
  });

  it('shows a viewer the metrics and devices but no way to change anything', async () => {
    const viewerKey = (await adminApi<{ token: string }>('POST', '/api-keys', { name: 'e2e-config-viewer', role: 'viewer' })).token;
    const viewer = await launchBrowser();
    try {
      await viewer.page.goto(`${hangar.url}/`);
      await signInWithApiKey(viewer.page, viewerKey);
      await viewer.page.goto(`${hangar.url}/#/configurations`);
      await viewer.page.getByTestId('configurations-table').waitFor();
      expect(await viewer.page.getByTestId('new-configuration-button').count()).toBe(0);
      await viewer.page.goto(`${hangar.url}/#/configurations/${createdId}`);
      await viewer.page.getByTestId('configuration-metrics').waitFor();
      await viewer.page.getByTestId('configuration-devices').waitFor();
      expect(await viewer.page.getByTestId('edit-configuration-button').count()).toBe(0);
      expect(await viewer.page.getByTestId('configuration-danger-zone').count()).toBe(0);
    } finally {
      await viewer.close();
    }
  });
});
