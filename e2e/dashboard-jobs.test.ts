/**
 * Bulk jobs in a real browser against a real `hangar serve`: the Jobs page opened from the
 * header; the create form's live match count and inline query error; a ping job over three
 * devices connected with MQTT.js (two answer succeeded, one failed) that ends `completed` with
 * exact counts, live on the detail page and in the list; a job over a silent device cancelled.
 * Debian's chromium via playwright-core; skipped loudly where missing.
 */
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callAsAdmin, chromiumAvailable, ensureDashboardBuilt, launchBrowser, openFromNav, signInWithApiKey, type Browser } from './support/browser.js';
import { REPO_ROOT, startHangar, type RunningHangar } from './support/hangar-process.js';

const hasChromium = chromiumAvailable('e2e/dashboard-jobs.test.ts', 'bulk jobs browser tests');
const ANSWERING = ['job-a1', 'job-a2', 'job-a3'];
/** This one answers every command `failed`. */
const FAILING = 'job-a3';
const SILENT = 'job-silent';
const SCREENSHOT = join(REPO_ROOT, '.tmp', 'dashboard-jobs.png');
const HEADER_SCREENSHOT = join(REPO_ROOT, '.tmp', 'dashboard-jobs-1024.png');

interface Job {
  id: string;
  state: string;
  progress: Record<string, number>;
}

describe.skipIf(!hasChromium)('bulk jobs in a browser', () => {
  let hangar: RunningHangar;
  let browser: Browser;
  let page: Page;
  const clients: MqttClient[] = [];

  const adminApi = <T>(method: string, path: string, body?: unknown): Promise<T> => callAsAdmin<T>(hangar, method, path, body);
  const count = async (state: string): Promise<string> => (await page.getByTestId(`job-count-${state}`).innerText()).trim();

  /** A device that answers each command on `devices/{id}/commands/+` (docs/commands.md). */
  async function connectDevice(id: string): Promise<void> {
    const token = (await adminApi<{ token: string }>('POST', `/devices/${id}/credentials`, { type: 'token' })).token;
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${hangar.endpoints['mqtt']}`, { clientId: id, username: id, password: token, protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 5000 });
    clients.push(client);
    client.on('message', (topic) => {
      const cmdId = topic.split('/').pop() ?? '';
      const answer = id === FAILING ? { status: 'failed', error: 'battery too low' } : { status: 'succeeded', result: { pong: id } };
      void client.publishAsync(`devices/${id}/commands/${cmdId}/result`, JSON.stringify(answer), { qos: 1 });
    });
    await client.subscribeAsync(`devices/${id}/commands/+`, { qos: 1 });
  }

  beforeAll(async () => {
    await ensureDashboardBuilt({ whenStale: true });
    hangar = await startHangar({ args: ['--mqtt-port', '0'] });
    for (const id of ANSWERING) await adminApi('POST', '/devices', { id, tags: { fleet: 'answering' } });
    await adminApi('POST', '/devices', { id: SILENT, tags: { fleet: 'silent' } });
    await adminApi('POST', '/devices', { id: 'job-other', tags: { fleet: 'other' } });
    for (const id of ANSWERING) await connectDevice(id);
    browser = await launchBrowser();
    page = browser.page;
    await page.goto(`${hangar.url}/`);
    await signInWithApiKey(page, hangar.adminToken);
  }, 180_000);

  afterAll(async () => {
    for (const c of clients) c.end(true);
    await browser?.close();
    await hangar?.stop();
  });

  it('opens from the header (behind "More" at 1024 px)', async () => {
    await page.setViewportSize({ width: 1024, height: 800 });
    await openFromNav(page, 'jobs');
    await page.getByTestId('jobs-empty').waitFor();
    await page.screenshot({ path: HEADER_SCREENSHOT });
    await page.setViewportSize({ width: 1280, height: 860 });
  });

  it('counts the devices a query matches as it is typed, and explains one that does not parse', async () => {
    await page.getByTestId('new-job').click();
    await page.getByTestId('job-query').fill('tags.fleet = "answering"');
    await expect.poll(() => page.getByTestId('job-match-count').getAttribute('data-count')).toBe('3');
    await page.getByTestId('job-query').fill('tags.fleet = ');
    await page.getByTestId('query-error').waitFor();
    expect(await page.getByTestId('job-match-count').count()).toBe(0);
    await page.getByTestId('job-form').screenshot({ path: SCREENSHOT.replace('.png', '-form.png') });
    await page.getByTestId('job-create').click();
    // Refused by the server as well (400 INVALID_QUERY): still one explanation, and no job.
    await expect.poll(() => page.getByTestId('query-error').count()).toBe(1);
    expect((await adminApi<{ items: Job[] }>('GET', '/jobs')).items).toHaveLength(0);
  });

  it('refuses bad params and bad numbers inline, creating nothing', async () => {
    await page.getByTestId('job-query').fill('tags.fleet = "answering"');
    await page.getByTestId('job-params').fill('{nope');
    await page.getByTestId('job-create').click();
    await expect.poll(() => page.getByTestId('job-form-error').innerText()).toContain('Params is not valid JSON');
    await page.getByTestId('job-params').fill('');
    await page.getByTestId('job-rate').fill('0');
    await page.getByTestId('job-create').click();
    await expect.poll(() => page.getByTestId('job-form-error').innerText()).toContain('Rate per minute must be a whole number from 1 to 60000');
    await page.getByTestId('job-rate').fill('');
    await page.getByTestId('job-abort-percent').fill('150');
    await page.getByTestId('job-create').click();
    await expect.poll(() => page.getByTestId('job-form-error').innerText()).toContain('Abort failed %');
    expect((await adminApi<{ items: Job[] }>('GET', '/jobs')).items).toHaveLength(0);
  });

  it('runs ping over three answering MQTT devices to completed with exact counts, live', async () => {
    await page.getByTestId('job-abort-percent').fill('');
    await page.getByTestId('job-command').fill('ping');
    await page.getByTestId('job-rate').fill('600');
    await page.getByTestId('job-concurrency').fill('3');
    await page.getByTestId('job-create').click();
    await page.getByTestId('job-page').waitFor();
    const jobId = (await page.getByTestId('job-page').getAttribute('data-job-id')) ?? '';
    await expect.poll(() => page.getByTestId('job-state').getAttribute('data-state'), { timeout: 15_000 }).toBe('completed');
    expect(await count('targeted')).toBe('3');
    expect(await count('succeeded')).toBe('2');
    expect(await count('failed')).toBe('1');
    for (const state of ['pending', 'queued', 'sent', 'timed_out', 'expired', 'cancelled', 'skipped']) expect(await count(state)).toBe('0');
    const stored = await adminApi<Job>('GET', `/jobs/${jobId}`);
    expect(stored.state).toBe('completed');
    expect(stored.progress).toMatchObject({ targeted: 3, succeeded: 2, failed: 1, pending: 0 });

    const rows = page.locator('[data-testid="job-device-row"]');
    expect(await rows.evaluateAll((els) => els.map((e) => [e.getAttribute('data-device-id'), e.getAttribute('data-state')]))).toEqual([
      ['job-a1', 'succeeded'],
      ['job-a2', 'succeeded'],
      ['job-a3', 'failed'],
    ]);
    expect(await page.locator(`[data-testid="job-device-row"][data-device-id="${FAILING}"]`).innerText()).toContain('battery too low');
    await page.screenshot({ path: SCREENSHOT, fullPage: true });

    await page.getByRole('link', { name: '← Jobs' }).click();
    const row = page.locator(`[data-testid="job-row"][data-job-id="${jobId}"]`);
    await row.waitFor();
    expect(await row.getAttribute('data-state')).toBe('completed');
    expect(await row.innerText()).toContain('3 / 3 done · 2 succeeded');
  });

  it('cancels a running job whose device never answers', async () => {
    const job = await adminApi<Job>('POST', '/jobs', { query: 'tags.fleet = "silent"', command: { name: 'reboot', ttlSec: 600 } });
    await page.goto(`${hangar.url}/#/jobs/${job.id}`);
    await expect.poll(() => count('queued')).toBe('1');
    await page.getByTestId('job-cancel').click();
    await page.getByRole('button', { name: 'Cancel job' }).last().click();
    await expect.poll(() => page.getByTestId('job-state').getAttribute('data-state')).toBe('cancelled');
    expect(await count('cancelled')).toBe('1');
    expect(await page.getByTestId('job-cancel').count()).toBe(0);
    expect((await adminApi<Job>('GET', `/jobs/${job.id}`)).state).toBe('cancelled');
  });
});
