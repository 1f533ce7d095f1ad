import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestOtaPort, testOffer } from '../../testing/test-ota-port.js';
import { coapClient, startCoapHarness, type CoapHarness } from './coap-fixture.js';

/**
 * OTA over CoAP with libcoap's coap-client against the endpoint on a whole Hangar's bus, the
 * OTA port being the in-memory test port: GET `ota` (observable: notified on
 * `ota.offer.changed`) and POST `ota/status`, answered with the catalog's CoAP codes.
 */

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('OTA over CoAP', () => {
  let h: CoapHarness;
  const port = new TestOtaPort();

  beforeAll(async () => {
    h = await startCoapHarness({ ota: port });
    port.attach(h.t.hangar.bus);
  });
  afterAll(async () => {
    await h?.close();
  });

  it('answers GET ota with the current offer, or {"deploymentId":null}', async () => {
    const d = await h.device('coap-ota-get');
    const none = await coapClient(['-m', 'get', h.url('ota', d.id, d.token)]);
    expect(none.stderr).toBe('');
    expect(JSON.parse(none.stdout)).toEqual({ deploymentId: null });
    port.offer('default', d.id, testOffer('r-c1'));
    const run = await coapClient(['-m', 'get', h.url('ota', d.id, d.token)]);
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toEqual(testOffer('r-c1'));
  });

  it('notifies an observer (coap-client -s) of a new offer and of its withdrawal', async () => {
    const d = await h.device('coap-ota-observer');
    const running = coapClient(['-m', 'get', '-s', '3', h.url('ota', d.id, d.token)]);
    await waitFor(() => h.endpoint.observerCount > 0, 'the observation');
    const before = port.reads;
    port.offer('default', d.id, testOffer('r-c2', '4.0.0'));
    // The notification has read the offer: the withdrawal cannot be folded into it.
    await waitFor(() => port.reads > before, 'the notification read');
    port.withdraw('default', d.id);
    const run = await running;
    expect(run.stderr).toBe('');
    const first = run.stdout.indexOf('{"deploymentId":null}');
    const offered = run.stdout.indexOf(JSON.stringify(testOffer('r-c2', '4.0.0')));
    const withdrawn = run.stdout.lastIndexOf('{"deploymentId":null}');
    expect(first).toBeGreaterThanOrEqual(0);
    expect(offered).toBeGreaterThan(first);
    expect(withdrawn).toBeGreaterThan(offered);
  });

  it('takes POST ota/status reports in order (2.04)', async () => {
    const d = await h.device('coap-ota-status');
    port.offer('default', d.id, testOffer('r-c3'));
    const reports = [
      { deploymentId: 'r-c3', state: 'downloading', progress: 0.5 },
      { deploymentId: 'r-c3', state: 'downloaded' },
      { deploymentId: 'r-c3', state: 'failed', reason: 'verify', error: 'sha256 mismatch' },
    ];
    for (const r of reports) expect((await coapClient(['-m', 'post', '-t', '50', '-e', JSON.stringify(r), h.url('ota/status', d.id, d.token)])).stderr).toBe('');
    expect(port.reports.filter((r) => r.deviceId === d.id).map((r) => r.report)).toEqual(reports);
  });

  it.each([
    ['a deployment the device is not in', JSON.stringify({ deploymentId: 'r-other', state: 'downloading' }), /^4\.04 /],
    ['an out-of-order state', JSON.stringify({ deploymentId: 'r-c4', state: 'downloading' }), /^4\.09 /],
    ['an unknown state', JSON.stringify({ deploymentId: 'r-c4', state: 'melted' }), /^4\.00 /],
    ['malformed JSON', '{"deploymentId":', /^4\.00 the body is not valid JSON/],
  ])('refuses %s and stores nothing', async (_what, body, answer) => {
    const d = await h.device(`coap-ota-bad-${body.length}`);
    port.offer('default', d.id, testOffer('r-c4'));
    expect((await coapClient(['-m', 'post', '-t', '50', '-e', JSON.stringify({ deploymentId: 'r-c4', state: 'installing' }), h.url('ota/status', d.id, d.token)])).stderr).toBe('');
    const run = await coapClient(['-m', 'post', '-t', '50', '-e', body, h.url('ota/status', d.id, d.token)]);
    expect(run.stderr).toMatch(answer);
    expect(port.reports.filter((r) => r.deviceId === d.id)).toHaveLength(1);
  });

  it('refuses a report in another content format (4.15) and a GET of ota/status (4.05)', async () => {
    const d = await h.device('coap-ota-format');
    port.offer('default', d.id, testOffer('r-c5'));
    expect((await coapClient(['-m', 'post', '-t', '0', '-e', 'downloading', h.url('ota/status', d.id, d.token)])).stderr).toMatch(/^4\.15 an OTA status report/);
    expect((await coapClient(['-m', 'get', h.url('ota/status', d.id, d.token)])).stderr).toMatch(/^4\.05 /);
    expect(port.reports.filter((r) => r.deviceId === d.id)).toEqual([]);
  });
});

describe('OTA over CoAP without an OTA port', () => {
  let h: CoapHarness;
  beforeAll(async () => {
    h = await startCoapHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('answers 5.01 for ota and ota/status instead of pretending', async () => {
    const d = await h.device('coap-ota-none');
    expect((await coapClient(['-m', 'get', h.url('ota', d.id, d.token)])).stderr).toMatch(/^5\.01 /);
    expect((await coapClient(['-m', 'post', '-t', '50', '-e', '{"deploymentId":"r","state":"downloading"}', h.url('ota/status', d.id, d.token)])).stderr).toMatch(/^5\.01 /);
  });
});
