/**
 * LwM2M in a real browser against a real `hangar serve`: the agent's LwM2M client registers over
 * plain CoAP on the server's CoAP port (the device exists and has no PSK or certificate, so the
 * NoSec rule of docs/lwm2m.md lets it in), and the device page shows its registration and object
 * tree; a resource and an instance are read; a good write reaches the device and a bad one shows
 * the server's problem; an Execute with arguments; an Observe whose notification updates the value
 * on the page, then cancelled. The LwM2M page creates and deletes a bootstrap configuration
 * (a bad URI refused), and uploads a DDF file (a malformed one refused with its parse error).
 * Debian's chromium via playwright-core; skipped loudly where missing.
 */
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lwm2mClient } from '../packages/agent/src/index.js';
import { callAsAdmin, chromiumAvailable, ensureDashboardBuilt, launchBrowser, openFromNav, signInWithApiKey, type Browser } from './support/browser.js';
import { REPO_ROOT, startHangar, type RunningHangar } from './support/hangar-process.js';

const hasChromium = chromiumAvailable('e2e/dashboard-lwm2m.test.ts', 'LwM2M browser tests');
const SHOTS = join(REPO_ROOT, '.tmp');
const DEVICE = 'lwm2m-dash-1';
/** expect.poll's 1 s default is short on a loaded two-core machine. */
const POLL = { timeout: 10_000 };

const DDF = `<?xml version="1.0" encoding="utf-8"?>
<LWM2M xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation="http://openmobilealliance.org/tech/profiles/LWM2M.xsd">
  <Object ObjectType="MODefinition">
    <Name>Hangar Dashboard Valve</Name>
    <Description1>a valve for the dashboard test</Description1>
    <ObjectID>32770</ObjectID>
    <ObjectURN>urn:oma:lwm2m:x:32770</ObjectURN>
    <ObjectVersion>1.0</ObjectVersion>
    <MultipleInstances>Multiple</MultipleInstances>
    <Mandatory>Optional</Mandatory>
    <Resources>
      <Item ID="0"><Name>Open</Name><Operations>RW</Operations><MultipleInstances>Single</MultipleInstances><Mandatory>Mandatory</Mandatory><Type>Boolean</Type><RangeEnumeration></RangeEnumeration><Units></Units><Description>open or shut</Description></Item>
      <Item ID="1"><Name>Flow</Name><Operations>R</Operations><MultipleInstances>Single</MultipleInstances><Mandatory>Optional</Mandatory><Type>Float</Type><RangeEnumeration></RangeEnumeration><Units>l/min</Units><Description>flow</Description></Item>
    </Resources>
  </Object>
</LWM2M>`;

interface BootstrapConfig {
  id: string;
  deviceId: string | null;
  servers: Array<{ uri: string; securityMode: string }>;
}

/** Polls until `check` holds (no fixed sleeps for correctness). */
async function waitFor<T>(check: () => Promise<T | undefined | false> | T | undefined | false, what: string, timeoutMs = 15_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.skipIf(!hasChromium)('LwM2M in a browser', () => {
  let hangar: RunningHangar;
  let client: Lwm2mClient;
  let browser: Browser;
  let page: Page;

  const adminApi = <T>(method: string, path: string, body?: unknown): Promise<T> => callAsAdmin<T>(hangar, method, path, body);
  const resource = (path: string): ReturnType<Page['locator']> => page.locator(`[data-testid="lwm2m-resource"][data-path="${path}"]`);
  /** The value shown for `path`, without its units ('' before one is known). */
  const valueOf = async (path: string): Promise<string> => (await resource(path).getByTestId('lwm2m-value').getAttribute('data-value')) ?? '';
  const outcomeOf = (path: string): ReturnType<Page['locator']> => page.locator(`[data-testid="lwm2m-resource"][data-path="${path}"] + tr [data-testid="lwm2m-outcome"]`);
  const openObject = async (objectId: number): Promise<void> => {
    const details = page.locator(`[data-testid="lwm2m-object"][data-object="${objectId}"]`);
    if ((await details.getAttribute('open')) === null) await details.locator('summary').click();
  };

  beforeAll(async () => {
    await ensureDashboardBuilt({ whenStale: true });
    hangar = await startHangar({ args: ['--coap-port', '0'] });
    await adminApi('POST', '/devices', { id: DEVICE, type: 'sensor' });
    client = new Lwm2mClient({ endpointName: DEVICE, serverUri: `coap://127.0.0.1:${String(hangar.endpoints['coap'])}`, lifetimeSec: 300 });
    await client.start();
    await waitFor(() => client.registered, `${DEVICE} to register`);
    browser = await launchBrowser();
    page = browser.page;
    await page.goto(`${hangar.url}/`);
    await signInWithApiKey(page, hangar.adminToken);
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await client?.stop();
    await hangar?.stop();
  });

  it('shows the registration and the object tree with the registry’s names and the values read at registration', async () => {
    await page.goto(`${hangar.url}/#/devices/${DEVICE}`);
    const panel = page.getByTestId('lwm2m-panel');
    await panel.waitFor();
    expect(await page.getByTestId('lwm2m-endpoint').innerText()).toBe(DEVICE);
    expect(await page.getByTestId('lwm2m-version').innerText()).toBe('1.1');
    expect(await page.getByTestId('lwm2m-binding').innerText()).toContain('U');
    expect(await page.getByTestId('lwm2m-lifetime').innerText()).toContain('300 s');
    expect(await page.getByTestId('lwm2m-security').getAttribute('data-secure')).toBe('false');
    const objects = await page.getByTestId('lwm2m-object').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-object'))));
    expect(objects).toEqual(expect.arrayContaining([1, 3, 3303]));
    const battery = resource('/3/0/9');
    expect(await battery.innerText()).toContain('Battery Level');
    // Object 3 is read after every Register: its values are there without asking.
    await expect.poll(() => valueOf('/3/0/0'), POLL).toBe('Hangar');
    expect(await resource('/3303/0/5700').innerText()).toContain('Sensor Value');
    await panel.scrollIntoViewIfNeeded();
    await panel.screenshot({ path: join(SHOTS, 'dashboard-lwm2m-device.png') });
  });

  it('reads a resource and an instance', async () => {
    await resource('/3/0/9').getByTestId('lwm2m-read').click();
    await expect.poll(() => outcomeOf('/3/0/9').getAttribute('data-state'), POLL).toBe('completed');
    expect(await outcomeOf('/3/0/9').innerText()).toContain('2.05');
    expect(await valueOf('/3/0/9')).toBe('100');

    const instance = page.locator('[data-testid="lwm2m-instance"][data-path="/3303/0"]');
    await instance.locator('.lwm2m-path-actions [data-testid="lwm2m-read"]').click();
    await expect.poll(() => instance.locator('> [data-testid="lwm2m-outcome"]').getAttribute('data-state'), POLL).toBe('completed');
    // The instance's resources got their values: units and sensor range among them.
    await expect.poll(() => valueOf('/3303/0/5701'), POLL).toBe('Cel');
    expect(Number.parseFloat(await valueOf('/3303/0/5700'))).not.toBeNaN();
  });

  it('writes a good value to the device and shows the server’s problem for a bad one', async () => {
    await openObject(1);
    await resource('/1/0/1').getByTestId('lwm2m-write').click();
    const form = page.getByTestId('lwm2m-write-form');
    await form.getByTestId('lwm2m-write-input').fill('not a number');
    await form.getByTestId('lwm2m-write-submit').click();
    const problem = form.getByTestId('lwm2m-error');
    await problem.waitFor();
    expect(await problem.innerText()).toContain('400');
    expect(await problem.innerText()).toMatch(/whole number/);
    await page.screenshot({ path: join(SHOTS, 'dashboard-lwm2m-write-refused.png') });

    await form.getByTestId('lwm2m-write-input').fill('240');
    await form.getByTestId('lwm2m-write-submit').click();
    await form.waitFor({ state: 'detached' });
    expect(await outcomeOf('/1/0/1').innerText()).toContain('2.04');
    expect(await valueOf('/1/0/1')).toBe('240');
    // The device holds it: a read from the API answers the new lifetime.
    const read = await adminApi<{ values: Array<{ value: unknown }> }>('GET', `/devices/${DEVICE}/lwm2m/1/0/1`);
    expect(read.values[0]?.value).toBe(240);
  });

  it('executes a resource with arguments', async () => {
    await resource('/3303/0/5605').getByTestId('lwm2m-execute').click();
    const form = page.getByTestId('lwm2m-execute-form');
    await form.getByTestId('lwm2m-execute-args').fill("0='now'");
    await form.getByTestId('lwm2m-execute-submit').click();
    await form.waitFor({ state: 'detached' });
    await expect.poll(() => outcomeOf('/3303/0/5605').getAttribute('data-state'), POLL).toBe('completed');
    expect(await outcomeOf('/3303/0/5605').innerText()).toContain('2.04');
  });

  it('observes a resource: a notification updates the value on the page; then cancels', async () => {
    const path = '/3303/0/5700';
    await resource(path).getByTestId('lwm2m-observe').click();
    await expect.poll(() => resource(path).getAttribute('data-observed'), POLL).toBe('true');
    await page.getByTestId('lwm2m-observations').waitFor();
    const before = await valueOf(path);
    const latestReading = async (): Promise<{ ts: number; value: unknown } | undefined> =>
      (await adminApi<{ values: Record<string, { ts: number; value: unknown }> }>('GET', `/devices/${DEVICE}/telemetry/latest`)).values['3303.0.5700'];
    // One new reading at a time, each waited for as telemetry, until one differs from what the
    // page showed (the sensor walks by tenths and may stay put); then no more readings, so the
    // page must end on exactly that value.
    let last = await latestReading();
    for (let i = 0; i < 50 && (last === undefined || String(last.value) === before); i++) {
      const seen = last?.ts;
      client.readTemperature();
      last = await waitFor(async () => {
        const reading = await latestReading();
        return reading !== undefined && reading.ts !== seen ? reading : undefined;
      }, 'the notification of a new reading');
    }
    expect(String(last?.value)).not.toBe(before);
    await expect.poll(() => valueOf(path), POLL).toBe(String(last?.value));
    await page.screenshot({ path: join(SHOTS, 'dashboard-lwm2m-observed.png') });

    await resource(path).getByTestId('lwm2m-cancel-observe').click();
    await expect.poll(() => resource(path).getAttribute('data-observed'), POLL).toBe('false');
    const view = await adminApi<{ observations: string[][] }>('GET', `/devices/${DEVICE}/lwm2m`);
    expect(view.observations).toEqual([]);
  });

  it('creates a bootstrap configuration (a bad URI refused first), edits it and deletes it', async () => {
    await openFromNav(page, 'lwm2m');
    await page.getByTestId('bootstrap-empty').waitFor();
    await page.getByTestId('bootstrap-new').click();
    const form = page.getByTestId('new-bootstrap-form');
    await form.getByTestId('bootstrap-target-id').fill(DEVICE);
    await form.getByTestId('bootstrap-server-uri').fill('http://hangar.example');
    await form.getByTestId('new-bootstrap-submit').click();
    const problem = form.getByTestId('bootstrap-form-error');
    await problem.waitFor();
    expect(await problem.innerText()).toContain('400');
    expect(await adminApi<{ items: BootstrapConfig[] }>('GET', '/lwm2m/bootstrap-configs')).toEqual({ items: [] });

    await form.getByTestId('bootstrap-server-uri').fill('coap://127.0.0.1:5683');
    await form.getByTestId('bootstrap-server-lifetime').fill('600');
    await form.getByTestId('new-bootstrap-submit').click();
    await page.getByTestId('bootstrap-saved').waitFor();
    const row = page.locator(`[data-testid="bootstrap-row"][data-device-id="${DEVICE}"]`);
    await row.waitFor();
    expect(await row.innerText()).toContain('coap://127.0.0.1:5683');
    const { items } = await adminApi<{ items: BootstrapConfig[] }>('GET', '/lwm2m/bootstrap-configs');
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ deviceId: DEVICE, servers: [{ uri: 'coap://127.0.0.1:5683', securityMode: 'nosec', lifetimeSec: 600 }] });
    await page.screenshot({ path: join(SHOTS, 'dashboard-lwm2m-bootstrap.png') });

    // Edit: the accounts change, the target stays.
    await row.getByTestId('bootstrap-edit').click();
    const edit = page.getByTestId('edit-bootstrap-form');
    expect(await edit.getByTestId('bootstrap-server-lifetime').inputValue()).toBe('600');
    await edit.getByTestId('bootstrap-server-lifetime').fill('900');
    await edit.getByTestId('edit-bootstrap-submit').click();
    await edit.waitFor({ state: 'detached' });
    await expect.poll(() => row.innerText(), POLL).toContain('lifetime 900 s');
    const edited = await adminApi<BootstrapConfig & { servers: Array<{ lifetimeSec: number }> }>('GET', `/lwm2m/bootstrap-configs/${items[0]!.id}`);
    expect(edited).toMatchObject({ deviceId: DEVICE, servers: [{ lifetimeSec: 900 }] });

    await row.getByTestId('bootstrap-delete').click();
    await row.getByTestId('bootstrap-delete-confirm').click();
    await page.getByTestId('bootstrap-empty').waitFor();
    expect(await adminApi<{ items: BootstrapConfig[] }>('GET', '/lwm2m/bootstrap-configs')).toEqual({ items: [] });
  });

  it('uploads a DDF file into the registry and shows why a malformed one is refused', async () => {
    await page.getByTestId('lwm2m-tab-objects').click();
    await page.getByTestId('object-models-table').waitFor();
    await page.getByTestId('ddf-file').setInputFiles({ name: 'bad-valve.xml', mimeType: 'application/xml', buffer: Buffer.from(DDF.replace('<Type>Boolean</Type>', '<Type>Banana</Type>')) });
    await page.getByTestId('ddf-upload-submit').click();
    const problem = page.getByTestId('ddf-error');
    await problem.waitFor();
    expect(await problem.innerText()).toContain('400');
    expect(await problem.innerText()).toContain('Banana');
    expect(await page.locator('[data-testid="object-model-row"][data-object-id="32770"]').count()).toBe(0);
    await page.screenshot({ path: join(SHOTS, 'dashboard-lwm2m-ddf-refused.png') });

    await page.getByTestId('ddf-file').setInputFiles({ name: 'valve.xml', mimeType: 'application/xml', buffer: Buffer.from(DDF) });
    await page.getByTestId('ddf-upload-submit').click();
    await page.getByTestId('ddf-uploaded').waitFor();
    expect(await page.getByTestId('ddf-uploaded').innerText()).toContain('32770 Hangar Dashboard Valve v1.0');
    const row = page.locator('[data-testid="object-model-row"][data-object-id="32770"]');
    await row.waitFor();
    expect(await row.getAttribute('data-source')).toBe('uploaded');
    const models = await adminApi<{ items: Array<{ id: number; source: string }> }>('GET', '/lwm2m/objects');
    expect(models.items.find((m) => m.id === 32770)?.source).toBe('uploaded');
  });

  it('lets a viewer read the tree but offers no write, execute, observe or configuration change', async () => {
    const viewerKey = (await adminApi<{ token: string }>('POST', '/api-keys', { name: 'e2e-lwm2m-viewer', role: 'viewer' })).token;
    const viewer = await launchBrowser();
    try {
      await viewer.page.goto(`${hangar.url}/`);
      await signInWithApiKey(viewer.page, viewerKey);
      await viewer.page.goto(`${hangar.url}/#/devices/${DEVICE}`);
      const battery = viewer.page.locator('[data-testid="lwm2m-resource"][data-path="/3/0/9"]');
      await battery.waitFor();
      await battery.getByTestId('lwm2m-read').click();
      await viewer.page.locator('[data-testid="lwm2m-resource"][data-path="/3/0/9"] + tr [data-testid="lwm2m-outcome"][data-state="completed"]').waitFor();
      for (const action of ['lwm2m-write', 'lwm2m-execute', 'lwm2m-observe', 'lwm2m-attributes']) expect(await viewer.page.getByTestId(action).count()).toBe(0);
      await viewer.page.goto(`${hangar.url}/#/lwm2m`);
      await viewer.page.getByTestId('bootstrap-configs').waitFor();
      expect(await viewer.page.getByTestId('bootstrap-new').count()).toBe(0);
      await viewer.page.goto(`${hangar.url}/#/lwm2m?tab=objects`);
      await viewer.page.getByTestId('object-models-table').waitFor();
      expect(await viewer.page.getByTestId('ddf-upload-form').count()).toBe(0);
      expect(await viewer.page.getByTestId('object-model-delete').count()).toBe(0);
    } finally {
      await viewer.close();
    }
  });
});
