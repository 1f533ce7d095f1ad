/**
 * The monitoring pages in a real browser against a real `hangar serve`: the fleet overview
 * following the event stream, a device's live presence, latest values and uPlot charts fed by
 * real device telemetry (HTTP device API, and MQTT when serve has the listener), an alert rule
 * raising an alert that is acknowledged and cleared, a webhook delivering to a loopback
 * receiver, and what a viewer may not do. Debian's chromium via playwright-core; skipped with a
 * loud notice where it is missing.
 */
import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callAsAdmin, chromiumAvailable, ensureDashboardBuilt, launchBrowser, openFromNav, signInWithApiKey, type Browser } from './support/browser.js';
import { startHangar, type RunningHangar } from './support/hangar-process.js';

const hasChromium = chromiumAvailable('e2e/dashboard-monitoring.test.ts', 'monitoring dashboard browser tests');
const SENSOR = 'sensor-1';
const GATEWAY = 'gateway-1';
const BAD_CONDITION = 'telemetry.temp > > 80';

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A webhook receiver on loopback that answers 204 and keeps what it got. */
async function startReceiver(): Promise<{ url: string; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      received.push({ path: req.url ?? '', headers: req.headers, body });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe.skipIf(!hasChromium)('monitoring dashboard in a browser', () => {
  let hangar: RunningHangar;
  let browser: Browser;
  let page: Page;
  let adminKey: string;
  let viewerKey: string;
  let sensorToken: string;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let webhookSecret = '';
  let ruleAlertId = '';

  const adminApi = <T>(method: string, path: string, body?: unknown): Promise<T> => callAsAdmin<T>(hangar, method, path, body);

  /** Real device traffic: `POST /device/v1/telemetry` with the device's token (docs/devices.md). */
  async function sendHttpTelemetry(values: Record<string, number | string | boolean>): Promise<void> {
    const res = await fetch(`${hangar.url}/device/v1/telemetry`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${SENSOR}:${sensorToken}`).toString('base64')}`, 'content-type': 'application/json' },
      body: JSON.stringify(values),
    });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`POST /device/v1/telemetry → ${res.status}: ${text}`);
  }

  const text = async (testId: string): Promise<string> => ((await page.getByTestId(testId).first().textContent()) ?? '').trim();

  beforeAll(async () => {
    // This suite looks for elements a bundle built before these pages would not have.
    await ensureDashboardBuilt({ whenStale: true });
    hangar = await startHangar({ args: ['--mqtt-port', '0'] });
    await adminApi('POST', '/devices', { id: SENSOR, type: 'sensor', tags: { site: 'berlin' } });
    await adminApi('POST', '/devices', { id: GATEWAY, type: 'gateway', tags: { site: 'paris' } });
    const issued = await adminApi<{ token: string }>('POST', `/devices/${SENSOR}/credentials`, { type: 'token' });
    sensorToken = issued.token;
    adminKey = (await adminApi<{ token: string }>('POST', '/api-keys', { name: 'e2e-monitoring', role: 'admin' })).token;
    viewerKey = (await adminApi<{ token: string }>('POST', '/api-keys', { name: 'e2e-watcher', role: 'viewer' })).token;
    receiver = await startReceiver();
    browser = await launchBrowser();
    page = browser.page;
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await hangar?.stop();
    await receiver?.close();
  });

  it('lands on the fleet overview after sign-in, following the event stream', async () => {
    await page.goto(`${hangar.url}/`);
    await signInWithApiKey(page, adminKey);
    await page.getByTestId('overview-page').waitFor();
    expect(page.url()).toContain('#/overview');
    await expect.poll(() => text('stat-total')).toBe('2');
    expect(await text('stat-online')).toBe('0');
    expect(await text('stat-offline')).toBe('2');
    expect(await page.locator('[data-testid="by-type-row"]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-label')).sort())).toEqual(['gateway', 'sensor']);
    await page.locator('[data-testid="live-status"][data-status="live"]').waitFor();
  });

  it('counts a device online as soon as it sends telemetry, without a reload', async () => {
    await sendHttpTelemetry({ temp: 21.5, humidity: 40, door: 'closed' });
    // The stream brings device.connected; the page's slow poll (30 s) would come too late for this wait.
    await expect.poll(() => text('stat-online'), { timeout: 8_000 }).toBe('1');
    expect(await text('stat-offline')).toBe('1');
  });

  it('filters the overview with a fleet query and marks a bad one at its position', async () => {
    await page.getByTestId('fleet-query').fill('type = "gateway"');
    await page.getByTestId('fleet-query').press('Enter');
    await expect.poll(() => text('stat-total')).toBe('1');
    expect(await text('stat-online')).toBe('0');

    const bad = 'type = "gateway" AND %%';
    const res = await fetch(`${hangar.url}/api/v1/fleet/stats?q=${encodeURIComponent(bad)}`, { headers: { authorization: `Bearer ${hangar.adminToken}` } });
    const problem = (await res.json()) as { position: number };
    expect(res.status).toBe(400);
    await page.getByTestId('fleet-query').fill(bad);
    await page.getByTestId('fleet-query').press('Enter');
    await page.getByTestId('query-error').waitFor();
    expect(await page.getByTestId('query-error-mark').getAttribute('data-position')).toBe(String(Math.min(problem.position, bad.length)));
    await page.getByTestId('nav-overview').click();
    await expect.poll(() => text('stat-total')).toBe('2');
  });

  it('shows live presence, latest values and a chart per numeric key on the device page', async () => {
    await page.goto(`${hangar.url}/#/devices/${SENSOR}`);
    await page.locator(`[data-testid="device-page"][data-device-id="${SENSOR}"]`).waitFor();
    // The existing identity features are still there.
    await page.getByTestId('device-credentials').waitFor();

    await page.locator('[data-testid="presence-online"][data-online="true"]').waitFor();
    expect(await text('presence-protocol')).toContain('http');
    expect(await text('presence-remote')).toContain('127.0.0.1');
    await page.getByTestId('connection-row').first().waitFor();

    const latest = (key: string): Promise<string> => page.locator(`[data-testid="latest-row"][data-key="${key}"] [data-testid="latest-value"]`).innerText();
    await expect.poll(() => latest('temp')).toBe('21.5');
    expect(await latest('humidity')).toBe('40');
    expect(await latest('door')).toBe('closed');

    const tempChart = page.locator('[data-testid="telemetry-chart"][data-key="temp"]');
    await tempChart.locator('canvas').waitFor();
    expect(await tempChart.getByTestId('chart-last').innerText()).toContain('21.5');
    await page.locator('[data-testid="telemetry-chart"][data-key="humidity"] canvas').waitFor();
    // A text key gets no chart: it is named under them instead.
    expect(await page.locator('[data-testid="telemetry-chart"][data-key="door"]').count()).toBe(0);
    expect(await text('telemetry-other')).toContain('door');

    // A new reading appears without a reload: in the table and as a new point on the chart.
    await page.locator('[data-testid="live-status"][data-status="live"]').waitFor();
    const pointsBefore = Number(await tempChart.getAttribute('data-points'));
    await sendHttpTelemetry({ temp: 23.25 });
    await expect.poll(() => latest('temp'), { timeout: 8_000 }).toBe('23.25');
    await expect.poll(async () => Number(await tempChart.getAttribute('data-points')), { timeout: 8_000 }).toBe(pointsBefore + 1);
    expect(await tempChart.getByTestId('chart-last').innerText()).toContain('23.25');
  });

  it('reads aggregates over a longer range, with an interval that follows the range', async () => {
    await page.getByTestId('telemetry-range').selectOption('24h');
    expect(await page.getByTestId('telemetry-agg').inputValue()).toBe('avg');
    await expect.poll(() => text('telemetry-interval')).toBe('per 5m');
    const tempChart = page.locator('[data-testid="telemetry-chart"][data-key="temp"]');
    await tempChart.locator('canvas').waitFor();
    // Both readings fall in one or two 5-minute buckets; their average or each value is shown.
    await expect.poll(async () => (await tempChart.innerText()).includes('avg per 5m')).toBe(true);
    await page.getByTestId('telemetry-agg').selectOption('max');
    await expect.poll(() => tempChart.getByTestId('chart-last').innerText()).toContain('23.25');

    await page.getByTestId('telemetry-range').selectOption('custom');
    await page.getByTestId('telemetry-to').fill('2000-01-01T00:00');
    await page.getByTestId('telemetry-apply').click();
    await page.getByTestId('telemetry-range-error').waitFor();
    await page.getByTestId('telemetry-range').selectOption('15m');
    await page.locator('[data-testid="telemetry-chart"][data-key="temp"] canvas').waitFor();
  });

  it('shows readings a device publishes over MQTT', async (ctx) => {
    const mqttPort = hangar.endpoints['mqtt'];
    if (typeof mqttPort !== 'number') {
      console.warn('[dashboard-monitoring] `hangar serve` printed no mqtt port: the MQTT part of this suite did NOT run.');
      ctx.skip();
      return;
    }
    const { connectAsync } = await import('mqtt');
    const client = await connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { clientId: SENSOR, username: SENSOR, password: sensorToken, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 10_000 });
    try {
      await page.locator('[data-testid="presence-online"][data-online="true"]').waitFor();
      await expect.poll(() => text('presence-protocol'), { timeout: 8_000 }).toContain('mqtt');
      await client.publishAsync(`devices/${SENSOR}/telemetry`, JSON.stringify({ pressure: 1013.25 }), { qos: 1 });
      const pressure = page.locator('[data-testid="latest-row"][data-key="pressure"] [data-testid="latest-value"]');
      await expect.poll(() => pressure.innerText(), { timeout: 8_000 }).toBe('1013.25');
      const chart = page.locator('[data-testid="telemetry-chart"][data-key="pressure"]');
      await chart.locator('canvas').waitFor();
      expect(await chart.getByTestId('chart-last').innerText()).toContain('1013.25');
      await page.locator('[data-testid="connection-row"][data-open="true"]', { hasText: 'mqtt' }).waitFor();
    } finally {
      await client.endAsync();
    }
  });

  it('refuses a bad rule condition at its position, then creates the rule', async () => {
    await openFromNav(page, 'alert-rules');
    await page.getByTestId('new-rule-button').click();
    await page.getByTestId('new-rule-name').fill('Too hot');
    await page.getByTestId('new-rule-severity').selectOption('critical');
    await page.getByTestId('new-rule-condition').fill(BAD_CONDITION);
    await page.getByTestId('new-rule-submit').click();

    const res = await fetch(`${hangar.url}/api/v1/alert-rules`, {
      method: 'POST',
      headers: { authorization: `Bearer ${hangar.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'probe', severity: 'info', condition: BAD_CONDITION }),
    });
    const problem = (await res.json()) as { field: string; position: number; detail: string };
    expect(res.status).toBe(400);
    expect(problem.field).toBe('condition');
    const form = page.getByTestId('new-rule-form');
    await form.getByTestId('query-error').waitFor();
    expect(await form.getByTestId('query-error-message').innerText()).toContain(problem.detail);
    expect(await form.getByTestId('query-error-mark').getAttribute('data-position')).toBe(String(problem.position));

    await page.getByTestId('new-rule-condition').fill('telemetry.temp > 80');
    await page.getByTestId('new-rule-submit').click();
    await page.getByTestId('rule-saved').waitFor();
    const row = page.locator('[data-testid="rule-row"][data-rule-name="Too hot"]');
    await row.waitFor();
    expect(await row.innerText()).toContain('telemetry.temp > 80');
  });

  it('raises an alert when the device reports 90, then acknowledges and clears it', async () => {
    await page.getByTestId('nav-alerts').click();
    await page.getByTestId('alerts-page').waitFor();
    await page.locator('[data-testid="live-status"][data-status="live"]').waitFor();
    await sendHttpTelemetry({ temp: 90 });
    const raised = page.locator(`[data-testid="alert-row"][data-rule="Too hot"][data-device-id="${SENSOR}"][data-state="raised"]`);
    await raised.waitFor({ timeout: 15_000 });
    ruleAlertId = (await raised.getAttribute('data-alert-id')) ?? '';
    expect(await raised.getByTestId('alert-message').innerText()).toContain('90');

    const row = page.locator(`[data-testid="alert-row"][data-alert-id="${ruleAlertId}"]`);
    await page.getByTestId(`acknowledge-${ruleAlertId}`).click();
    await expect.poll(() => row.getAttribute('data-state')).toBe('acknowledged');
    expect(await row.innerText()).toContain('e2e-monitoring');

    await page.getByTestId(`clear-${ruleAlertId}`).click();
    await page.getByTestId(`clear-${ruleAlertId}-confirm`).click();
    await expect.poll(() => row.getAttribute('data-state')).toBe('cleared');
    const alert = await adminApi<{ state: string; clearedReason: string }>('GET', `/alerts/${ruleAlertId}`);
    expect(alert).toMatchObject({ state: 'cleared', clearedReason: 'operator' });
  });

  it('filters alerts by state and severity through the URL', async () => {
    await page.getByTestId('alerts-filter-state').selectOption('cleared');
    await expect.poll(() => page.url()).toContain('state=cleared');
    await page.locator(`[data-testid="alert-row"][data-alert-id="${ruleAlertId}"]`).waitFor();
    expect(await page.locator('[data-testid="alert-row"]:not([data-state="cleared"])').count()).toBe(0);
    await page.getByTestId('alerts-filter-severity').selectOption('info');
    await page.getByTestId('alerts-empty').waitFor();
  });

  it('creates a webhook, shows its secret once, and lists its signed deliveries', async () => {
    await openFromNav(page, 'webhooks');
    await page.getByTestId('new-webhook-button').click();
    await page.getByTestId('new-webhook-url').fill(receiver.url);
    await page.getByTestId('new-webhook-events').fill('telemetry.received');
    await page.getByTestId('new-webhook-description').fill('loopback receiver');
    await page.getByTestId('new-webhook-submit').click();
    await page.getByTestId('webhook-secret-panel').waitFor();
    webhookSecret = (await page.getByTestId('webhook-secret').innerText()).trim();
    expect(webhookSecret.length).toBeGreaterThanOrEqual(16);

    await page.getByTestId('created-webhook-link').click();
    await page.getByTestId('webhook-page').waitFor();
    await page.getByTestId('deliveries-empty').waitFor();

    await page.getByTestId('test-webhook').click();
    await page.locator('[data-testid="delivery-row"][data-event-type="webhook.test"][data-status="delivered"]').waitFor({ timeout: 15_000 });

    await sendHttpTelemetry({ temp: 22 });
    const delivered = page.locator('[data-testid="delivery-row"][data-event-type="telemetry.received"][data-status="delivered"]');
    await delivered.first().waitFor({ timeout: 15_000 });
    expect(await delivered.first().getByTestId('delivery-last').innerText()).toContain('204');
    expect(await delivered.first().getByTestId('delivery-attempts').innerText()).toBe('1');

    // The receiver got the same deliveries, signed with the secret the page showed.
    const event = receiver.received.find((r) => r.headers['x-hangar-event'] === 'telemetry.received');
    expect(event).toBeDefined();
    const signature = createHmac('sha256', webhookSecret).update(`${String(event!.headers['x-hangar-timestamp'])}.${event!.body}`).digest('hex');
    expect(event!.headers['x-hangar-signature']).toBe(`sha256=${signature}`);
    expect(JSON.parse(event!.body)).toMatchObject({ type: 'telemetry.received', deviceId: SENSOR });

    const deliveryId = (await delivered.first().getAttribute('data-delivery-id')) ?? '';
    await page.getByTestId(`delivery-details-${deliveryId}`).click();
    await page.getByTestId('delivery-attempt').first().waitFor();
    expect(await page.getByTestId('delivery-details').innerText()).toContain('telemetry.received');

    // Sending a settled delivery again queues it with a fresh budget: the receiver gets it twice.
    await page.getByTestId(`retry-delivery-${deliveryId}`).click();
    await expect.poll(() => receiver.received.filter((r) => r.headers['x-hangar-delivery'] === deliveryId).length, { timeout: 15_000 }).toBe(2);
    await page.locator(`[data-testid="delivery-row"][data-delivery-id="${deliveryId}"][data-status="delivered"]`).waitFor({ timeout: 15_000 });
  });

  it('disables a webhook and rotates its secret', async () => {
    await page.getByTestId('toggle-webhook').click();
    await expect.poll(() => text('webhook-enabled')).toBe('disabled');
    await page.getByTestId('rotate-webhook-secret').click();
    await page.getByTestId('rotate-webhook-secret-confirm').click();
    await page.getByTestId('webhook-secret-panel').waitFor();
    const rotated = (await page.getByTestId('webhook-secret').innerText()).trim();
    expect(rotated).not.toBe(webhookSecret);
  });

  it('lets a viewer read the monitoring pages but offers no write actions', async () => {
    await page.getByTestId('sign-out').click();
    await signInWithApiKey(page, viewerKey);
    await page.getByTestId('overview-page').waitFor();
    await page.goto(`${hangar.url}/#/alerts`);
    await page.locator(`[data-testid="alert-row"][data-alert-id="${ruleAlertId}"]`).waitFor();
    expect(await page.locator('[data-testid^="acknowledge-"], [data-testid^="clear-"]').count()).toBe(0);
    await page.goto(`${hangar.url}/#/alert-rules`);
    await page.locator('[data-testid="rule-row"][data-rule-name="Too hot"]').waitFor();
    expect(await page.getByTestId('new-rule-button').count()).toBe(0);
    expect(await page.locator('[data-testid^="edit-rule-"], [data-testid^="delete-rule-"]').count()).toBe(0);
    await page.goto(`${hangar.url}/#/webhooks`);
    await page.getByTestId('webhook-row').first().waitFor();
    expect(await page.getByTestId('new-webhook-button').count()).toBe(0);
    await page.getByTestId('webhook-row').first().locator('a').click();
    await page.getByTestId('delivery-history').waitFor();
    expect(await page.locator('[data-testid="test-webhook"], [data-testid="webhook-danger-zone"], [data-testid^="retry-delivery-"]').count()).toBe(0);
  });
});
