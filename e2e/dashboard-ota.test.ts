/**
 * Firmware and rollouts in a real browser against a real `hangar serve`: an image uploaded
 * through the Firmware page (the progress bar seen moving under a throttled upload, the image
 * listed with the server's SHA-256), a duplicate version refused with the server's 409, a delta
 * built from the detail page; the rollout wizard's dry-run count following the fleet query; a
 * rollout created from the wizard and paused, resumed and aborted on its live page, and state
 * changes made elsewhere followed live; the device page's update history; and a viewer who
 * sees all of it without a button that changes anything.
 * Debian's chromium via playwright-core; skipped loudly where missing.
 */
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callAsAdmin, chromiumAvailable, ensureDashboardBuilt, launchBrowser, openFromNav, signInWithApiKey, type Browser } from './support/browser.js';
import { REPO_ROOT, startHangar, type RunningHangar } from './support/hangar-process.js';

const hasChromium = chromiumAvailable('e2e/dashboard-ota.test.ts', 'firmware and rollout browser tests');
const SHOTS = join(REPO_ROOT, '.tmp');
const BERLIN = ['ota-b1', 'ota-b2', 'ota-b3', 'ota-b4'];
const PARIS = ['ota-p1', 'ota-p2'];
/** Devices that report their update steps over the HTTP device API; the second one fails. */
const LAB = ['ota-lab-ok', 'ota-lab-bad'];
/** 4 MiB: at 1 MiB/s the upload takes seconds, long enough to see the bar between 0 and 100 %. */
const IMAGE = randomBytes(4 * 1024 * 1024);
const IMAGE_SHA256 = createHash('sha256').update(IMAGE).digest('hex');

interface Firmware {
  id: string;
  version: string;
  sha256: string;
  size: number;
}

interface Rollout {
  id: string;
  state: string;
  counts: Record<string, number>;
}

describe.skipIf(!hasChromium)('firmware and rollouts in a browser', () => {
  let hangar: RunningHangar;
  let browser: Browser;
  let page: Page;
  let rolloutId = '';

  const adminApi = <T>(method: string, path: string, body?: unknown): Promise<T> => callAsAdmin<T>(hangar, method, path, body);
  const firmwareList = async (): Promise<Firmware[]> => (await adminApi<{ items: Firmware[] }>('GET', '/firmware')).items;
  const firmwareId = async (version: string): Promise<string> => (await firmwareList()).find((f) => f.version === version)?.id ?? '';
  const rolloutState = (): Promise<string | null> => page.getByTestId('rollout-state').getAttribute('data-state');

  /** Upload bandwidth of the page (bytes/s; -1 = unthrottled), through the DevTools protocol. */
  async function throttleUpload(bytesPerSecond: number): Promise<void> {
    const cdp = await browser.context.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: bytesPerSecond });
  }

  async function fillUpload(version: string, buffer: Buffer): Promise<void> {
    await page.getByTestId('firmware-file').setInputFiles({ name: `pump-${version}.bin`, mimeType: 'application/octet-stream', buffer });
    await page.getByTestId('firmware-version').fill(version);
    await page.getByTestId('firmware-device-types').fill('pump');
    await page.getByTestId('firmware-release-notes').fill(`Pump firmware ${version}.\nFixes the valve timing.`);
  }

  beforeAll(async () => {
    await ensureDashboardBuilt({ whenStale: true });
    hangar = await startHangar();
    for (const id of BERLIN) await adminApi('POST', '/devices', { id, type: 'pump', tags: { site: 'berlin' } });
    for (const id of PARIS) await adminApi('POST', '/devices', { id, type: 'pump', tags: { site: 'paris' } });
    browser = await launchBrowser();
    page = browser.page;
    await page.goto(`${hangar.url}/`);
    await signInWithApiKey(page, hangar.adminToken);
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await hangar?.stop();
  });

  it('uploads an image through the page with a moving progress bar, and lists it signed', async () => {
    await openFromNav(page, 'firmware');
    await page.getByTestId('firmware-empty').waitFor();
    await page.getByTestId('firmware-upload-button').click();
    await fillUpload('1.1.0', IMAGE);
    await throttleUpload(1024 * 1024);
    await page.getByTestId('firmware-upload-submit').click();
    const progress = page.getByTestId('firmware-upload-progress');
    await progress.waitFor();
    // Part-way: more than nothing sent, not all of it yet.
    await expect.poll(async () => Number(await progress.getAttribute('data-percent')), { timeout: 15_000 }).toBeGreaterThan(0);
    const midway = Number(await progress.getAttribute('data-percent'));
    expect(midway).toBeLessThan(100);
    await page.screenshot({ path: join(SHOTS, 'dashboard-ota-uploading.png') });
    await page.getByTestId('firmware-uploaded').waitFor({ timeout: 30_000 });
    await throttleUpload(-1);

    const stored = await firmwareList();
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ version: '1.1.0', size: IMAGE.length, sha256: IMAGE_SHA256 });
    const row = page.locator('[data-testid="firmware-row"][data-version="1.1.0"]');
    await row.waitFor();
    expect(await row.innerText()).toContain('4.0 MiB');
    expect(await row.innerText()).toContain(IMAGE_SHA256.slice(0, 12));
  });

  it('refuses a duplicate version with the server’s problem, and a bad version before sending', async () => {
    await page.getByTestId('firmware-upload-button').click();
    await fillUpload('1.1.0', IMAGE.subarray(0, 1024));
    await page.getByTestId('firmware-upload-submit').click();
    const problem = page.getByTestId('firmware-upload-error');
    await problem.waitFor();
    expect(await problem.innerText()).toContain('409');
    await page.getByTestId('firmware-version').fill('v1');
    await page.getByTestId('firmware-upload-submit').click();
    await expect.poll(() => page.getByTestId('firmware-upload-invalid').innerText()).toContain('semantic version');
    expect(await firmwareList()).toHaveLength(1);
  });

  it('shows an image’s manifest, signature and deltas on its page', async () => {
    await page.locator('[data-testid="firmware-row"][data-version="1.1.0"] [data-testid="firmware-link"]').click();
    await page.getByTestId('firmware-detail-version').waitFor();
    expect(await page.getByTestId('firmware-sha256').innerText()).toBe(IMAGE_SHA256);
    const manifest = JSON.parse(await page.getByTestId('firmware-manifest').innerText()) as Record<string, unknown>;
    expect(manifest).toMatchObject({ v: 1, version: '1.1.0', deviceTypes: ['pump'], size: IMAGE.length, sha256: IMAGE_SHA256 });
    expect((await page.getByTestId('firmware-signature').innerText()).length).toBeGreaterThan(40);
    expect(await page.getByTestId('firmware-release-notes-text').innerText()).toContain('Fixes the valve timing.');
    await page.getByTestId('firmware-deltas-empty').waitFor();
    await page.screenshot({ path: join(SHOTS, 'dashboard-ota-firmware.png'), fullPage: true });
  });

  it('builds a delta from the earlier version on the newer image’s page', async () => {
    const next = Buffer.from(IMAGE);
    for (const at of [1_000, 2_000_000, 4_000_000]) next.write('patched!', at);
    const res = await fetch(`${hangar.url}/api/v1/firmware?version=1.2.0&deviceTypes=pump`, {
      method: 'POST',
      headers: { authorization: `Bearer ${hangar.adminToken}`, 'content-type': 'application/octet-stream' },
      body: next,
    });
    expect(res.status).toBe(201);
    const newer = (await res.json()) as Firmware;
    await page.goto(`${hangar.url}/#/firmware/${newer.id}`);
    await page.getByTestId('firmware-deltas-empty').waitFor();
    await page.getByTestId('firmware-delta-base').selectOption(await firmwareId('1.1.0'));
    await page.getByTestId('firmware-build-delta-submit').click();
    const row = page.getByTestId('firmware-delta-row');
    await expect.poll(() => row.getAttribute('data-state'), { timeout: 30_000 }).toBe('ready');
    const percent = Number(/([\d.]+) %/.exec(await row.innerText())?.[1]);
    expect(percent).toBeLessThan(10);
    await page.screenshot({ path: join(SHOTS, 'dashboard-ota-deltas.png'), fullPage: true });
  });

  it('rotates Hangar’s signing key and registers an external one, refusing a bad PEM', async () => {
    await openFromNav(page, 'firmware');
    const rows = page.getByTestId('signing-key-row');
    await expect.poll(() => rows.count()).toBe(1);
    await page.getByTestId('signing-key-rotate').click();
    await page.getByTestId('signing-key-rotate-confirm').click();
    await expect.poll(() => rows.count()).toBe(2);
    expect(await page.locator('[data-testid="signing-key-row"][data-kind="hangar"][data-state="active"]').count()).toBe(1);
    expect(await page.locator('[data-testid="signing-key-row"][data-kind="hangar"][data-state="retired"]').count()).toBe(1);

    await page.getByTestId('external-key-open').click();
    await page.getByTestId('external-key-pem').fill('-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----');
    await page.getByTestId('external-key-submit').click();
    expect(await page.getByTestId('external-key-error').innerText()).toContain('400');
    const { publicKey } = generateKeyPairSync('ed25519');
    await page.getByTestId('external-key-pem').fill(publicKey.export({ type: 'spki', format: 'pem' }).toString());
    await page.getByTestId('external-key-submit').click();
    await page.locator('[data-testid="signing-key-row"][data-kind="external"]').waitFor();
    expect(await rows.count()).toBe(3);
  });

  it('counts the devices the target matches as the query changes, and explains one that does not parse', async () => {
    await openFromNav(page, 'rollouts');
    await page.getByTestId('rollouts-empty').waitFor();
    await page.getByTestId('new-rollout').click();
    await page.getByTestId('rollout-name').fill('Pumps to 1.1.0');
    await page.getByTestId('rollout-firmware').selectOption(await firmwareId('1.1.0'));
    const dryRun = page.getByTestId('rollout-dry-run');
    await page.getByTestId('rollout-query').fill('tags.site = "berlin"');
    await expect.poll(() => dryRun.getAttribute('data-targeted')).toBe('4');
    expect(await dryRun.getAttribute('data-eligible')).toBe('4');
    await page.getByTestId('rollout-query').fill('type = "pump"');
    await expect.poll(() => dryRun.getAttribute('data-targeted')).toBe('6');
    expect(await page.getByTestId('rollout-dry-run-text').innerText()).toMatch(/^Matches 6 devices; 6 eligible\./);
    await page.getByTestId('rollout-query').fill('type = ');
    await page.getByTestId('query-error').waitFor();
    await page.getByTestId('rollout-query').fill('type = "pump"');
    await expect.poll(() => dryRun.getAttribute('data-targeted')).toBe('6');
    expect((await adminApi<{ items: Rollout[] }>('GET', '/rollouts')).items).toHaveLength(0);
  });

  it('checks each step, reviews and starts the rollout, then shows it live', async () => {
    await page.getByTestId('wizard-next').click();
    await page.getByTestId('rollout-waves').fill('50%, 10%');
    await page.getByTestId('wizard-next').click();
    await expect.poll(() => page.getByTestId('rollout-form-invalid').innerText()).toContain('must rise');
    await page.getByTestId('rollout-waves').fill('50%, 100%');
    await expect.poll(() => page.getByTestId('rollout-dry-run-waves').innerText()).toContain('1: 3 devices · 2: 3 devices');
    await page.getByTestId('rollout-ratePerMinute').fill('60');
    await page.getByTestId('rollout-failureCount').fill('2');
    await page.getByTestId('wizard-next').click();
    await page.getByTestId('wizard-step-health').waitFor();
    await page.getByTestId('rollout-healthWindowSec').fill('600');
    await page.getByTestId('wizard-next').click();
    const review = page.getByTestId('wizard-review');
    await review.waitFor();
    expect(await review.innerText()).toContain('50% → 100%');
    expect(await review.innerText()).toContain('pause at 2 failures');
    await page.getByTestId('rollout-wizard').screenshot({ path: join(SHOTS, 'dashboard-ota-wizard.png') });
    await page.getByTestId('rollout-create').click();

    await page.getByTestId('rollout-page').waitFor();
    rolloutId = (await page.getByTestId('rollout-page').getAttribute('data-rollout-id')) ?? '';
    expect(rolloutId).not.toBe('');
    expect(await page.getByTestId('rollout-count-targeted').innerText()).toBe('6');
    expect(await page.getByTestId('rollout-wave').count()).toBe(2);
    expect(await page.getByTestId('rollout-health').getAttribute('data-gate')).toBe('on');
    await page.getByTestId('rollout-failures-empty').waitFor();
    const stored = await adminApi<Rollout>('GET', `/rollouts/${rolloutId}`);
    expect(stored.counts['targeted']).toBe(6);
    expect(await rolloutState()).toBe(stored.state);
  });

  it('pauses, resumes and aborts from the live page', async () => {
    await expect.poll(rolloutState).toBe('running');
    await page.getByTestId('rollout-pause').click();
    await expect.poll(rolloutState).toBe('paused');
    expect((await adminApi<Rollout>('GET', `/rollouts/${rolloutId}`)).state).toBe('paused');
    expect(await page.getByTestId('rollout-pause').count()).toBe(0);

    await page.getByTestId('rollout-resume').click();
    await expect.poll(rolloutState).toBe('running');
    expect((await adminApi<Rollout>('GET', `/rollouts/${rolloutId}`)).state).toBe('running');

    await page.getByTestId('rollout-abort').click();
    await page.getByTestId('rollout-abort-confirm').click();
    await expect.poll(rolloutState).toBe('aborted');
    expect((await adminApi<Rollout>('GET', `/rollouts/${rolloutId}`)).state).toBe('aborted');
    expect(await page.getByTestId('rollout-actions').count()).toBe(0);
    await page.screenshot({ path: join(SHOTS, 'dashboard-ota-rollout.png'), fullPage: true });

    await page.getByRole('link', { name: '← Rollouts' }).click();
    const row = page.locator(`[data-testid="rollout-row"][data-rollout-id="${rolloutId}"]`);
    await row.waitFor();
    expect(await row.getAttribute('data-state')).toBe('aborted');
  });

  it('follows a rollout’s state changes made elsewhere without a reload', async () => {
    const other = await adminApi<Rollout>('POST', '/rollouts', { name: 'Paris pumps', firmwareId: await firmwareId('1.1.0'), query: 'tags.site = "paris"' });
    await page.goto(`${hangar.url}/#/rollouts/${other.id}`);
    await expect.poll(rolloutState).toBe('running');
    await adminApi('POST', `/rollouts/${other.id}/pause`);
    await expect.poll(rolloutState, { timeout: 15_000 }).toBe('paused');
    await adminApi('POST', `/rollouts/${other.id}/abort`);
    await expect.poll(rolloutState, { timeout: 15_000 }).toBe('aborted');
  });

  it('lists the device’s updates on its page', async () => {
    await page.goto(`${hangar.url}/#/devices/${BERLIN[0]}`);
    const row = page.locator(`[data-testid="device-update-row"][data-rollout-id="${rolloutId}"]`);
    await row.waitFor();
    expect(await row.innerText()).toContain('Pumps to 1.1.0');
    expect(await row.innerText()).toContain('1.1.0');
    await page.getByTestId('device-updates').screenshot({ path: join(SHOTS, 'dashboard-ota-device.png') });
  });

  const tokens = new Map<string, string>();
  /** What a device does on the HTTP device API (docs/ota.md), with its token. */
  const device = async (id: string, method: string, path: string, body?: unknown): Promise<Record<string, unknown>> => {
    const res = await fetch(`${hangar.url}/device/v1${path}`, {
      method,
      headers: { authorization: `Basic ${Buffer.from(`${id}:${tokens.get(id) ?? ''}`).toString('base64')}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} /device/v1${path} → ${res.status}: ${text}`);
    return (text ? JSON.parse(text) : {}) as Record<string, unknown>;
  };
  async function addReportingDevice(id: string, site: string): Promise<void> {
    await adminApi('POST', '/devices', { id, type: 'pump', tags: { site } });
    tokens.set(id, (await adminApi<{ token: string }>('POST', `/devices/${id}/credentials`, { type: 'token' })).token);
  }
  /** Offered, downloaded, installed, and back on the new version. */
  async function updateFully(id: string, deploymentId: string): Promise<void> {
    for (const state of ['downloading', 'downloaded', 'installing']) await device(id, 'POST', '/ota/status', { deploymentId, state, ...(state === 'downloading' ? { progress: 0.5 } : {}) });
    await device(id, 'POST', '/ota/status', { deploymentId, state: 'succeeded', version: '1.1.0' });
  }

  it('follows each device’s reported steps live: progress, a failure with its reason, the threshold pause', async () => {
    for (const id of LAB) await addReportingDevice(id, 'lab');
    const lab = await adminApi<Rollout>('POST', '/rollouts', { name: 'Lab pumps', firmwareId: await firmwareId('1.1.0'), query: 'tags.site = "lab"', failureThreshold: { count: 1 }, rate: { perMinute: 600 } });
    await page.goto(`${hangar.url}/#/rollouts/${lab.id}`);
    await page.getByTestId('rollout-page').waitFor();
    for (const id of LAB) await expect.poll(async () => (await device(id, 'GET', '/ota')).deploymentId, { timeout: 15_000 }).toBe(lab.id);
    const row = (id: string) => page.locator(`[data-testid="rollout-device-row"][data-device-id="${id}"]`);
    const report = (id: string, body: Record<string, unknown>): Promise<Record<string, unknown>> => device(id, 'POST', '/ota/status', { deploymentId: lab.id, ...body });

    await report('ota-lab-ok', { state: 'downloading', progress: 0.5 });
    await expect.poll(() => row('ota-lab-ok').getAttribute('data-state')).toBe('downloading');
    expect(await row('ota-lab-ok').innerText()).toContain('50 %');
    await report('ota-lab-ok', { state: 'downloaded' });
    await report('ota-lab-ok', { state: 'installing' });
    await report('ota-lab-ok', { state: 'succeeded', version: '1.1.0' });
    await expect.poll(() => page.getByTestId('rollout-count-succeeded').innerText()).toBe('1');

    await report('ota-lab-bad', { state: 'downloading', progress: 0.1 });
    await report('ota-lab-bad', { state: 'failed', reason: 'verify', error: 'signature does not verify' });
    const failure = page.locator('[data-testid="rollout-failure-row"][data-device-id="ota-lab-bad"]');
    await failure.waitFor();
    expect(await failure.getAttribute('data-reason')).toBe('verify');
    expect(await failure.innerText()).toContain('signature does not verify');
    // One failure is the threshold: the engine pauses the rollout and says why.
    await expect.poll(rolloutState, { timeout: 15_000 }).toBe('paused');
    expect(await page.getByTestId('rollout-reason').innerText()).toMatch(/fail/i);
    expect(await page.getByTestId('rollout-count-failed').innerText()).toBe('1');
    await page.screenshot({ path: join(SHOTS, 'dashboard-ota-failure.png'), fullPage: true });

    await page.goto(`${hangar.url}/#/devices/ota-lab-bad`);
    const history = page.locator(`[data-testid="device-update-row"][data-rollout-id="${lab.id}"]`);
    await history.waitFor();
    expect(await history.getAttribute('data-state')).toBe('failed');
    expect(await history.innerText()).toContain('signature does not verify');
  });

  it('waits for approval between waves and starts the next one when approved', async () => {
    const ids = ['ota-stage-1', 'ota-stage-2'];
    for (const id of ids) await addReportingDevice(id, 'stage');
    const staged = await adminApi<Rollout>('POST', '/rollouts', { name: 'Staged', firmwareId: await firmwareId('1.1.0'), query: 'tags.site = "stage"', waves: [{ percent: 50 }, { percent: 100 }], approvalBetweenWaves: true, rate: { perMinute: 600 } });
    await page.goto(`${hangar.url}/#/rollouts/${staged.id}`);
    await page.getByTestId('rollout-page').waitFor();
    const offered = async (): Promise<string[]> => {
      const found: string[] = [];
      for (const id of ids) if ((await device(id, 'GET', '/ota')).deploymentId === staged.id) found.push(id);
      return found;
    };
    // The first wave is one device: only it is offered the update.
    await expect.poll(async () => (await offered()).length, { timeout: 15_000 }).toBe(1);
    const [first] = await offered();
    await updateFully(first ?? '', staged.id);
    await expect.poll(rolloutState, { timeout: 15_000 }).toBe('awaiting_approval');
    expect(await page.locator('[data-testid="rollout-wave"][data-wave="0"]').getAttribute('data-state')).toBe('done');
    await page.getByTestId('rollout-approve').click();
    await expect.poll(rolloutState).toBe('running');
    const second = ids.find((id) => id !== first) ?? '';
    // The second wave's device is offered the update only now.
    await expect.poll(async () => (await device(second, 'GET', '/ota')).deploymentId, { timeout: 15_000 }).toBe(staged.id);
    await updateFully(second, staged.id);
    await expect.poll(rolloutState, { timeout: 15_000 }).toBe('completed');
    expect(await page.getByTestId('rollout-count-succeeded').innerText()).toBe('2');
    expect(await page.getByTestId('rollout-actions').count()).toBe(0);
  });

  it('shows a viewer firmware and rollouts but no way to change anything', async () => {
    const viewerKey = (await adminApi<{ token: string }>('POST', '/api-keys', { name: 'e2e-ota-viewer', role: 'viewer' })).token;
    const viewer = await launchBrowser();
    try {
      await viewer.page.goto(`${hangar.url}/`);
      await signInWithApiKey(viewer.page, viewerKey);
      await viewer.page.goto(`${hangar.url}/#/firmware`);
      await viewer.page.locator('[data-testid="firmware-row"][data-version="1.1.0"]').waitFor();
      expect(await viewer.page.getByTestId('firmware-upload-button').count()).toBe(0);
      await viewer.page.locator('[data-testid="firmware-link"]').first().click();
      await viewer.page.getByTestId('firmware-detail-version').waitFor();
      expect(await viewer.page.getByTestId('firmware-delete').count()).toBe(0);
      await viewer.page.goto(`${hangar.url}/#/rollouts`);
      await viewer.page.getByTestId('rollouts-table').waitFor();
      expect(await viewer.page.getByTestId('new-rollout').count()).toBe(0);
      const paused = await adminApi<Rollout>('POST', '/rollouts', { name: 'Berlin again', firmwareId: await firmwareId('1.1.0'), query: 'tags.site = "berlin"' });
      await viewer.page.goto(`${hangar.url}/#/rollouts/${paused.id}`);
      await viewer.page.getByTestId('rollout-page').waitFor();
      expect(await viewer.page.getByTestId('rollout-actions').count()).toBe(0);
    } finally {
      await viewer.close();
    }
  });
});
