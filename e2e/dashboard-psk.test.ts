/**
 * DTLS pre-shared keys in the dashboard, in a real browser against a real Hangar process: the
 * device page issues a PSK (generated, and one an operator types in), shows identity and key
 * once with copy buttons, lists it by identity, refuses bad input inline, and revokes it.
 * Debian's chromium driven by playwright-core (e2e/support/browser.ts); without it the suite is
 * skipped with a loud notice.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callAsAdmin, chromiumAvailable, ensureDashboardBuilt, launchBrowser, signInWithApiKey, type Browser } from './support/browser.js';
import { startHangar } from './support/hangar-process.js';

const hasChromium = chromiumAvailable('e2e/dashboard-psk.test.ts', 'PSK credential browser tests');
const DEVICE_ID = 'psk-meter-01';
const SUPPLIED_KEY = '000102030405060708090a0b0c0d0e0f1011121314151617';
const SCREENSHOT = '/tmp/hangar-psk-device.png';

interface ListedCredential {
  id: string;
  type: string;
  status: string;
  identity?: string;
}

describe.skipIf(!hasChromium)('PSK credentials in the dashboard', () => {
  let hangar: Awaited<ReturnType<typeof startHangar>>;
  let browser: Browser;
  let page: Page;
  let signInKey: string;
  let generatedId: string;
  let generatedKey: string;

  const adminApi = <T>(method: string, path: string, body?: unknown): Promise<T> => callAsAdmin<T>(hangar, method, path, body);
  const listed = async (): Promise<ListedCredential[]> => (await adminApi<{ items: ListedCredential[] }>('GET', `/devices/${DEVICE_ID}/credentials`)).items;

  async function text(testId: string): Promise<string> {
    return ((await page.getByTestId(testId).textContent()) ?? '').trim();
  }

  async function openDevicePage(): Promise<void> {
    await page.goto(`${hangar.url}/#/devices/${DEVICE_ID}`);
    await page.locator(`[data-testid="device-page"][data-device-id="${DEVICE_ID}"]`).waitFor();
    await page.getByTestId('device-credentials').waitFor();
  }

  beforeAll(async () => {
    await ensureDashboardBuilt({ whenStale: true });
    hangar = await startHangar();
    await adminApi('POST', '/devices', { id: DEVICE_ID, type: 'meter' });
    await adminApi('POST', '/devices', { id: 'psk-holder' });
    await adminApi('POST', '/devices/psk-holder/credentials', { type: 'psk', identity: 'taken-identity' });
    signInKey = (await adminApi<{ token: string }>('POST', '/api-keys', { name: 'e2e-psk', role: 'admin' })).token;
    browser = await launchBrowser();
    page = browser.page;
    await page.goto(`${hangar.url}/`);
    await signInWithApiKey(page, signInKey);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await hangar?.stop();
  });

  it('issues a generated PSK under the device id and shows identity and key once, with copy buttons', async () => {
    await openDevicePage();
    await page.getByTestId('credentials-empty').waitFor();
    await page.getByTestId('issue-kind-psk').check();
    await page.getByTestId('issue-psk-identity').waitFor();
    await page.getByTestId('issue-credential-submit').click();
    const panel = page.getByTestId('issued-credential-panel');
    await panel.waitFor();
    generatedId = (await panel.getAttribute('data-credential-id')) ?? '';
    expect(await panel.textContent()).toContain('Pre-shared key');
    expect(await text('issued-credential-warning')).toContain('you will not see the key again');
    expect(await text('issued-psk-identity')).toBe(DEVICE_ID);
    generatedKey = await text('issued-psk-key');
    expect(generatedKey).toMatch(/^[0-9a-f]{32}$/);
    // The copy button copies, or (where the clipboard is blocked) selects the key for Ctrl+C.
    await page.getByTestId('issued-psk-key-copy').click();
    await expect.poll(() => text('issued-psk-key-copy')).toMatch(/Copied|Selected/);
    await page.screenshot({ path: SCREENSHOT, fullPage: true });

    expect(await listed()).toEqual([expect.objectContaining({ id: generatedId, type: 'psk', status: 'active', identity: DEVICE_ID })]);
    await page.getByTestId('dismiss-issued-credential').click();
    await openDevicePage();
    const row = page.locator(`[data-testid="credential-row"][data-credential-id="${generatedId}"]`);
    await row.waitFor();
    expect(await row.getByTestId('credential-identity').textContent()).toBe(DEVICE_ID);
    expect(await page.content()).not.toContain(generatedKey);
  });

  it('refuses a short key and a taken identity inline, issuing nothing', async () => {
    await page.getByTestId('issue-kind-psk').check();
    await page.getByTestId('issue-psk-identity').fill('psk-meter-01-factory');
    await page.getByTestId('issue-psk-key').fill('abcd');
    await page.getByTestId('issue-credential-submit').click();
    const error = page.getByTestId('issue-credential-error');
    await error.waitFor();
    expect(await error.textContent()).toContain('key must be at least 16 bytes');

    await page.getByTestId('issue-psk-identity').fill('taken-identity');
    await page.getByTestId('issue-psk-key').fill('');
    await page.getByTestId('issue-credential-submit').click();
    await expect.poll(async () => (await error.textContent()) ?? '').toContain('PSK identity "taken-identity" is already used');
    expect(await listed()).toHaveLength(1);
  });

  it('issues a PSK with the identity and key an operator types in', async () => {
    await page.getByTestId('issue-psk-identity').fill('psk-meter-01-factory');
    await page.getByTestId('issue-psk-key').fill(SUPPLIED_KEY.toUpperCase());
    await page.getByTestId('issue-credential-submit').click();
    await page.getByTestId('issued-credential-panel').waitFor();
    expect(await text('issued-psk-identity')).toBe('psk-meter-01-factory');
    expect(await text('issued-psk-key')).toBe(SUPPLIED_KEY);
    await page.getByTestId('dismiss-issued-credential').click();
    await expect.poll(async () => (await listed()).map((c) => c.identity).sort()).toEqual([DEVICE_ID, 'psk-meter-01-factory']);
  });

  it('revokes a PSK from its row', async () => {
    await openDevicePage();
    await page.getByTestId(`revoke-credential-${generatedId}`).click();
    const dialog = page.getByTestId('revoke-credential-dialog');
    await dialog.waitFor();
    expect(await dialog.textContent()).toContain('pre-shared key');
    await page.getByTestId('revoke-reason').selectOption('superseded');
    await page.getByTestId('revoke-credential-confirm').click();
    await dialog.waitFor({ state: 'detached' });
    const row = page.locator(`[data-testid="credential-row"][data-credential-id="${generatedId}"]`);
    await expect.poll(() => row.getAttribute('data-status')).toBe('revoked');
    expect(await row.textContent()).toContain('superseded');
    expect((await listed()).find((c) => c.id === generatedId)).toMatchObject({ status: 'revoked', identity: DEVICE_ID });
  });
});
