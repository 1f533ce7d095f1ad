/**
 * Device logs on the device page, in a real browser against a real `hangar serve`: records a
 * device uploads over `POST /device/v1/logs` listed newest first; the level, text and time
 * filters; paging; the live tail, which shows new uploads without a reload only while it is on;
 * error records summarised on the timeline.
 * Debian's chromium via playwright-core; skipped loudly where missing.
 */
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callAsAdmin, chromiumAvailable, ensureDashboardBuilt, launchBrowser, signInWithApiKey, type Browser } from './support/browser.js';
import { REPO_ROOT, startHangar, type RunningHangar } from './support/hangar-process.js';

const hasChromium = chromiumAvailable('e2e/dashboard-logs.test.ts', 'device logs browser tests');
const DEVICE = 'logger-1';
const SCREENSHOT = join(REPO_ROOT, '.tmp', 'dashboard-logs.png');

describe.skipIf(!hasChromium)('device logs in a browser', () => {
  let hangar: RunningHangar;
  let browser: Browser;
  let page: Page;
  let deviceToken = '';
  const base = Date.now() - 60 * 60_000;

  /** What a device does: `POST /device/v1/logs` with its token (docs/logs.md). */
  async function upload(body: unknown): Promise<void> {
    const res = await fetch(`${hangar.url}/device/v1/logs`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${DEVICE}:${deviceToken}`).toString('base64')}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (res.status !== 200) throw new Error(`POST /device/v1/logs → ${res.status}: ${await res.text()}`);
  }

  const messages = (): Promise<string[]> => page.locator('[data-testid="log-row"] [data-testid="log-msg"]').allInnerTexts();
  const levels = (): Promise<(string | null)[]> => page.locator('[data-testid="log-row"]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-level')));

  beforeAll(async () => {
    await ensureDashboardBuilt({ whenStale: true });
    hangar = await startHangar();
    await callAsAdmin(hangar, 'POST', '/devices', { id: DEVICE });
    deviceToken = (await callAsAdmin<{ token: string }>(hangar, 'POST', `/devices/${DEVICE}/credentials`, { type: 'token' })).token;
    await upload([
      { ts: base, level: 'debug', msg: 'boot sequence start' },
      { ts: base + 1_000, level: 'info', msg: 'network up' },
      { ts: base + 2_000, level: 'warn', msg: 'disk almost full', fields: { pct: 93 } },
      { ts: base + 3_000, level: 'error', msg: 'sensor read failed' },
      { ts: base + 4_000, level: 'info', msg: 'Sensor recovered' },
    ]);
    browser = await launchBrowser();
    page = browser.page;
    await page.goto(`${hangar.url}/`);
    await signInWithApiKey(page, hangar.adminToken);
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await hangar?.stop();
  });

  it('lists what the device uploaded over HTTP, newest first, with levels and fields', async () => {
    await page.goto(`${hangar.url}/#/devices/${DEVICE}`);
    await page.getByTestId('logs-table').waitFor();
    expect(await messages()).toEqual(['Sensor recovered', 'sensor read failed', 'disk almost full', 'network up', 'boot sequence start']);
    expect(await levels()).toEqual(['info', 'error', 'warn', 'info', 'debug']);
    expect(await page.locator('[data-testid="log-row"][data-level="warn"]').innerText()).toContain('{"pct":93}');
  });

  it('filters by least level, by text (case-insensitive) and by time range', async () => {
    await page.getByTestId('logs-level').selectOption('warn');
    await page.getByTestId('logs-apply').click();
    await expect.poll(messages).toEqual(['sensor read failed', 'disk almost full']);
    await page.getByTestId('logs-level').selectOption('error');
    await page.getByTestId('logs-apply').click();
    await expect.poll(levels).toEqual(['error']);

    await page.getByTestId('logs-level').selectOption('debug');
    await page.getByTestId('logs-text').fill('SENSOR');
    await page.getByTestId('logs-apply').click();
    await expect.poll(messages).toEqual(['Sensor recovered', 'sensor read failed']);

    await page.getByTestId('logs-text').fill('no such text');
    await page.getByTestId('logs-apply').click();
    await page.getByTestId('logs-empty').waitFor();
    expect(await page.getByTestId('logs-empty').innerText()).toContain('match these filters');

    // The inputs are minute-precise local times: from the minute after `base` leaves only the records in it.
    const pad = (n: number): string => String(n).padStart(2, '0');
    const local = (ms: number): string => {
      const d = new Date(ms);
      return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
    };
    await page.getByTestId('logs-text').fill('');
    await page.getByTestId('logs-from').fill(local(base + 3 * 60_000));
    await page.getByTestId('logs-apply').click();
    await page.getByTestId('logs-empty').waitFor();
    await page.getByTestId('logs-from').fill('');
    await page.getByTestId('logs-to').fill(local(base - 60_000));
    await page.getByTestId('logs-apply').click();
    await page.getByTestId('logs-empty').waitFor();
    await page.getByTestId('logs-to').fill(local(base + 3 * 60_000));
    await page.getByTestId('logs-apply').click();
    await expect.poll(messages).toHaveLength(5);
  });

  it('pages through the records', async () => {
    await page.getByTestId('device-logs').getByTestId('page-size').selectOption('2');
    await expect.poll(messages).toEqual(['Sensor recovered', 'sensor read failed']);
    await page.getByTestId('device-logs').getByTestId('pager-next').click();
    await expect.poll(messages).toEqual(['disk almost full', 'network up']);
    await page.getByTestId('device-logs').getByTestId('pager-next').click();
    await expect.poll(messages).toEqual(['boot sequence start']);
    expect(await page.getByTestId('device-logs').getByTestId('pager-next').isDisabled()).toBe(true);
    await page.getByTestId('device-logs').getByTestId('page-size').selectOption('25');
    await expect.poll(messages).toHaveLength(5);
  });

  it('tails new uploads live while the tail is on, and not after', async () => {
    // A `to` bound would hide what arrives now: the tail shows what the filters let through.
    await page.getByTestId('logs-clear').click();
    expect(await page.getByTestId('logs-to').inputValue()).toBe('');
    await page.getByTestId('logs-tail').check();
    await page.locator('[data-testid="logs-tail-status"][data-status="live"]').waitFor();
    await upload({ level: 'error', msg: 'watchdog fired' });
    await expect.poll(messages, { timeout: 8_000 }).toContain('watchdog fired');
    expect((await messages())[0]).toBe('watchdog fired');
    await page.getByTestId('device-logs').screenshot({ path: SCREENSHOT });

    await page.getByTestId('logs-tail').uncheck();
    expect(await page.getByTestId('logs-tail-status').count()).toBe(0);
    await upload({ level: 'info', msg: 'quiet line' });
    // Nothing tails it now; a reload shows it (the record was stored all along).
    await new Promise((r) => setTimeout(r, 1_000));
    expect(await messages()).not.toContain('quiet line');
    await page.getByTestId('logs-reload').click();
    await expect.poll(messages).toContain('quiet line');
  });

  it('summarises error records on the device timeline', async () => {
    await page.getByTestId('timeline-types').selectOption('log.error');
    const labels = page.locator('[data-testid="timeline-entry"][data-type="log.error"] [data-testid="timeline-label"]');
    await expect.poll(() => labels.allInnerTexts(), { timeout: 10_000 }).toContainEqual(expect.stringMatching(/^1 error log record: (sensor read failed|watchdog fired)$/));
  });
});
