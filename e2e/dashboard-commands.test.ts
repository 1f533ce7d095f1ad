/**
 * Commands on the device page, in a real browser against a real `hangar serve`: a device
 * connected with MQTT.js answers the `ping` sent from the form, and the row turns `succeeded`
 * with its round trip and result without a reload; bad params JSON is explained next to the
 * form and nothing is sent; a command to a silent device can be cancelled; the timeline shows
 * the command's life; a viewer reads commands but cannot send or cancel. Debian's chromium via playwright-core; skipped loudly where missing.
 */
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callAsAdmin, chromiumAvailable, ensureDashboardBuilt, launchBrowser, signInWithApiKey, type Browser } from './support/browser.js';
import { REPO_ROOT, startHangar, type RunningHangar } from './support/hangar-process.js';

const hasChromium = chromiumAvailable('e2e/dashboard-commands.test.ts', 'device commands browser tests');
const DEVICE = 'pinger-1';
const SILENT = 'silent-1';
const SCREENSHOT = join(REPO_ROOT, '.tmp', 'dashboard-commands.png');

interface Command {
  id: string;
  name: string;
  state: string;
  roundTripMs: number | null;
  result: unknown;
}

describe.skipIf(!hasChromium)('device commands in a browser', () => {
  let hangar: RunningHangar;
  let browser: Browser;
  let page: Page;
  let device: MqttClient | undefined;

  const adminApi = <T>(method: string, path: string, body?: unknown): Promise<T> => callAsAdmin<T>(hangar, method, path, body);
  const commands = async (id: string): Promise<Command[]> => (await adminApi<{ items: Command[] }>('GET', `/devices/${id}/commands`)).items;

  beforeAll(async () => {
    await ensureDashboardBuilt({ whenStale: true });
    hangar = await startHangar({ args: ['--mqtt-port', '0'] });
    await adminApi('POST', '/devices', { id: DEVICE });
    await adminApi('POST', '/devices', { id: SILENT });
    const token = (await adminApi<{ token: string }>('POST', `/devices/${DEVICE}/credentials`, { type: 'token' })).token;
    // What a device does (docs/commands.md): subscribe to its commands and answer each one.
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${hangar.endpoints['mqtt']}`, { clientId: DEVICE, username: DEVICE, password: token, protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 5000 });
    device = client;
    client.on('message', (topic, payload) => {
      const cmdId = topic.split('/').pop() ?? '';
      const command = JSON.parse(payload.toString()) as { name: string; params: Record<string, unknown> };
      const answer = command.name === 'ping' ? { status: 'succeeded', result: { pong: true, echo: command.params } } : { status: 'failed', error: `unknown command ${command.name}` };
      void client.publishAsync(`devices/${DEVICE}/commands/${cmdId}/result`, JSON.stringify(answer), { qos: 1 });
    });
    await client.subscribeAsync(`devices/${DEVICE}/commands/+`, { qos: 1 });
    browser = await launchBrowser();
    page = browser.page;
    await page.goto(`${hangar.url}/`);
    await signInWithApiKey(page, hangar.adminToken);
  }, 180_000);

  afterAll(async () => {
    device?.end(true);
    await browser?.close();
    await hangar?.stop();
  });

  it('sends ping from the form to an MQTT device that answers: succeeded with its round trip, live', async () => {
    await page.goto(`${hangar.url}/#/devices/${DEVICE}`);
    await page.getByTestId('commands-empty').waitFor();
    await page.locator('[data-testid="live-status"][data-status="live"]').waitFor();
    await page.getByTestId('command-pick-ping').click();
    expect(await page.getByTestId('command-name').inputValue()).toBe('ping');
    await page.getByTestId('command-params').fill('{"seq": 7}');
    await page.getByTestId('command-timeout').fill('20');
    await page.getByTestId('command-send').click();
    await page.getByTestId('command-sent').waitFor();

    const row = page.locator('[data-testid="command-row"][data-name="ping"]');
    await expect.poll(() => row.getAttribute('data-state'), { timeout: 10_000 }).toBe('succeeded');
    const [stored] = await commands(DEVICE);
    expect(stored).toMatchObject({ name: 'ping', state: 'succeeded', result: { pong: true, echo: { seq: 7 } } });
    expect(stored?.roundTripMs).toEqual(expect.any(Number));
    expect(await row.getAttribute('data-command-id')).toBe(stored?.id);
    expect((await row.getByTestId('command-roundtrip').innerText()).trim()).toBe(`${stored?.roundTripMs} ms`);
    expect(await row.getByTestId('command-result').innerText()).toContain('"pong":true');
    expect(await row.getByTestId('command-state').innerText()).toBe('succeeded');
  });

  it('shows a device’s refusal as failed with its error', async () => {
    await page.getByTestId('command-name').fill('reboot');
    await page.getByTestId('command-params').fill('');
    await page.getByTestId('command-send').click();
    const row = page.locator('[data-testid="command-row"][data-name="reboot"]');
    await expect.poll(() => row.getAttribute('data-state'), { timeout: 10_000 }).toBe('failed');
    expect(await row.getByTestId('command-error').innerText()).toBe('unknown command reboot');
  });

  it('refuses params that are not a JSON object inline, and sends nothing', async () => {
    const before = (await commands(DEVICE)).length;
    await page.getByTestId('command-name').fill('ping');
    await page.getByTestId('command-params').fill('{"seq": 7');
    await page.getByTestId('command-send').click();
    await page.getByTestId('command-form-error').waitFor();
    expect(await page.getByTestId('command-form-error').innerText()).toContain('Params is not valid JSON');
    await page.getByTestId('command-params').fill('[1, 2]');
    await page.getByTestId('command-send').click();
    await expect.poll(() => page.getByTestId('command-form-error').innerText()).toContain('must be a JSON object');
    await page.getByTestId('command-params').fill('{}');
    await page.getByTestId('command-timeout').fill('-3');
    await page.getByTestId('command-send').click();
    await expect.poll(() => page.getByTestId('command-form-error').innerText()).toContain('Timeout must be a whole number');
    expect(await commands(DEVICE)).toHaveLength(before);
  });

  it('shows the server’s refusal of a bad command name', async () => {
    await page.getByTestId('command-timeout').fill('');
    await page.getByTestId('command-name').fill('no spaces allowed');
    await page.getByTestId('command-send').click();
    await page.getByTestId('command-send-error').waitFor();
    expect(await page.getByTestId('command-send-error').innerText()).toMatch(/^400/);
  });

  it('cancels a command queued for an offline device', async () => {
    await page.goto(`${hangar.url}/#/devices/${SILENT}`);
    await page.getByTestId('commands-empty').waitFor();
    await page.getByTestId('command-pick-get-system-info').click();
    await page.getByTestId('command-ttl').fill('600');
    await page.getByTestId('command-send').click();
    const row = page.locator('[data-testid="command-row"][data-name="get-system-info"]');
    await expect.poll(() => row.getAttribute('data-state')).toBe('queued');
    await row.getByTestId('command-cancel').click();
    await expect.poll(() => row.getAttribute('data-state')).toBe('cancelled');
    expect(await row.getByTestId('command-cancel').count()).toBe(0);
    expect((await commands(SILENT))[0]?.state).toBe('cancelled');
  });

  it('lists the command’s life on the timeline, filterable by family', async () => {
    const labels = page.locator('[data-testid="timeline-entry"] [data-testid="timeline-label"]');
    await expect.poll(() => labels.allInnerTexts(), { timeout: 10_000 }).toContain('Command get-system-info cancelled');
    expect(await labels.allInnerTexts()).toContain('Command get-system-info queued');
    await page.getByTestId('device-timeline').screenshot({ path: SCREENSHOT.replace('.png', '-timeline.png') });
    await page.getByTestId('timeline-types').selectOption('device.*');
    await expect.poll(() => page.locator('[data-testid="timeline-entry"]').evaluateAll((els) => els.map((e) => e.getAttribute('data-type')))).toEqual(['device.created']);
    await page.getByTestId('device-commands').screenshot({ path: SCREENSHOT });
  });

  it('shows a viewer the commands but no send form and no cancel', async () => {
    const viewerKey = (await adminApi<{ token: string }>('POST', '/api-keys', { name: 'e2e-commands-viewer', role: 'viewer' })).token;
    await adminApi('POST', `/devices/${SILENT}/commands`, { name: 'reboot', ttlSec: 600 });
    await page.getByTestId('sign-out').click();
    await signInWithApiKey(page, viewerKey);
    await page.goto(`${hangar.url}/#/devices/${SILENT}`);
    const row = page.locator('[data-testid="command-row"][data-name="reboot"]');
    await expect.poll(() => row.getAttribute('data-state')).toBe('queued');
    expect(await page.getByTestId('command-form').count()).toBe(0);
    expect(await row.getByTestId('command-cancel').count()).toBe(0);
  });
});
