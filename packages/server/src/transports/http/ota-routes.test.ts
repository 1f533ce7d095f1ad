import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDeviceHarness, type DeviceHarness } from '../../testing/device-harness.js';
import { TestOtaPort, testOffer } from '../../testing/test-ota-port.js';

/**
 * The OTA resources of the HTTP device API with fetch over loopback against a whole Hangar
 * whose OTA port is the in-memory test port: `GET /device/v1/ota` (at once, long poll, 204,
 * wake on change, 429) and `POST /device/v1/ota/status` (accepted; refused with the catalog's
 * problem documents, changing nothing).
 */

async function until(check: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('OTA over the HTTP device API', () => {
  let h: DeviceHarness;
  const port = new TestOtaPort();

  beforeAll(async () => {
    h = await startDeviceHarness({ otaDevicePort: port });
    port.attach(h.t.hangar.bus);
  });
  afterAll(async () => {
    await h?.close();
  });

  async function device(id: string): Promise<Record<string, string>> {
    const token = await h.device(id);
    return { authorization: `Basic ${Buffer.from(`${id}:${token}`).toString('base64')}` };
  }
  const poll = (auth: Record<string, string>, query = '', signal?: AbortSignal): Promise<Response> => fetch(`${h.httpBase}/device/v1/ota${query}`, { headers: auth, signal });
  const report = (auth: Record<string, string>, body: string, type = 'application/json'): Promise<Response> =>
    fetch(`${h.httpBase}/device/v1/ota/status`, { method: 'POST', headers: { ...auth, 'content-type': type }, body });
  /** Resolves once the port was read `n` more times than now: a long poll reads after it armed its wait. */
  const readsAfter = (n: number): (() => Promise<void>) => {
    const before = port.reads;
    return () => until(() => port.reads >= before + n, 'the long poll to read the offer');
  };

  it('answers the current offer at once without wait, and {"deploymentId":null} when there is none', async () => {
    const auth = await device('hota-now');
    expect(await (await poll(auth)).json()).toEqual({ deploymentId: null });
    port.offer('default', 'hota-now', testOffer('r-1'));
    const res = await poll(auth);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(testOffer('r-1'));
  });

  it('answers a long poll at once when the offer differs from the deployment the device has', async () => {
    const auth = await device('hota-differs');
    port.offer('default', 'hota-differs', testOffer('r-new'));
    // No deploymentId: the device has none, and there is one.
    expect(await (await poll(auth, '?wait=30')).json()).toEqual(testOffer('r-new'));
    expect(await (await poll(auth, '?wait=30&deploymentId=r-old')).json()).toEqual(testOffer('r-new'));
    // Withdrawn: the device that has r-new learns at once that nothing is offered.
    port.withdraw('default', 'hota-differs');
    expect(await (await poll(auth, '?wait=30&deploymentId=r-new')).json()).toEqual({ deploymentId: null });
  });

  it('holds a device that has the current offer until it changes, then answers the new one', async () => {
    const auth = await device('hota-wake');
    port.offer('default', 'hota-wake', testOffer('r-a'));
    const armed = readsAfter(1);
    const pending = poll(auth, '?wait=30&deploymentId=r-a');
    await armed();
    port.offer('default', 'hota-wake', testOffer('r-b', '2.2.0'));
    const res = await pending;
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(testOffer('r-b', '2.2.0'));
  });

  it('holds a device without an offer until one comes', async () => {
    const auth = await device('hota-first');
    const armed = readsAfter(1);
    const pending = poll(auth, '?wait=30');
    await armed();
    port.offer('default', 'hota-first', testOffer('r-first'));
    expect(await (await pending).json()).toEqual(testOffer('r-first'));
  });

  it('answers 204 when nothing changed within wait; a change for another device does not end it', async () => {
    const auth = await device('hota-idle');
    await device('hota-other');
    const armed = readsAfter(1);
    const pending = poll(auth, '?wait=1');
    await armed();
    port.offer('default', 'hota-other', testOffer('r-other'));
    const res = await pending;
    expect(res.status).toBe(204);
    expect(await res.text()).toBe('');
  });

  it.each([
    ['?wait=61', 'wait'],
    ['?wait=soon', 'wait'],
    ['?wait=1&since=3', 'since'],
    [`?wait=1&deploymentId=${'x'.repeat(129)}`, 'deploymentId'],
  ])('refuses %s with a 400 naming the parameter', async (query, name) => {
    const auth = await device(`hota-bad-${name}-${query.length}`);
    const res = await poll(auth, query);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { detail: string }).detail).toContain(name);
  });

  it('refuses more long polls of one device than it may hold, with Retry-After; a change answers them all', async () => {
    const auth = await device('hota-many');
    const armed = readsAfter(4);
    const held = Array.from({ length: 4 }, () => poll(auth, '?wait=30'));
    await armed();
    const fifth = await poll(auth, '?wait=30');
    expect(fifth.status).toBe(429);
    expect(fifth.headers.get('retry-after')).toBe('1');
    expect(((await fifth.json()) as { code: string }).code).toBe('RATE_LIMITED');
    port.offer('default', 'hota-many', testOffer('r-many'));
    for (const res of await Promise.all(held)) expect(await res.json()).toEqual(testOffer('r-many'));
  });

  it('refuses an unauthenticated poll with 401', async () => {
    expect((await poll({})).status).toBe(401);
    expect((await report({}, '{}')).status).toBe(401);
  });

  it('stores status reports in order and answers 204', async () => {
    const auth = await device('hota-status');
    port.offer('default', 'hota-status', testOffer('r-s'));
    const reports = [
      { deploymentId: 'r-s', state: 'downloading', progress: 0.1 },
      { deploymentId: 'r-s', state: 'downloading', progress: 0.9 },
      { deploymentId: 'r-s', state: 'downloaded' },
      { deploymentId: 'r-s', state: 'installing' },
      { deploymentId: 'r-s', state: 'rolled_back', reason: 'self_test', version: '2.0.0' },
    ];
    for (const r of reports) {
      const res = await report(auth, JSON.stringify(r));
      expect(res.status).toBe(204);
    }
    expect(port.reports.filter((r) => r.deviceId === 'hota-status').map((r) => r.report)).toEqual(reports);
  });

  it.each([
    ['a deployment the device is not in', JSON.stringify({ deploymentId: 'r-elsewhere', state: 'downloading' }), 404, 'OTA_NOT_IN_ROLLOUT'],
    ['an out-of-order state', JSON.stringify({ deploymentId: 'r-bad', state: 'downloading' }), 409, 'OTA_STATE_CONFLICT'],
    ['a repeated state', JSON.stringify({ deploymentId: 'r-bad', state: 'installing' }), 409, 'OTA_STATE_CONFLICT'],
    ['an unknown state', JSON.stringify({ deploymentId: 'r-bad', state: 'bricked' }), 400, 'VALIDATION_FAILED'],
    ['a progress over 1', JSON.stringify({ deploymentId: 'r-bad', state: 'downloading', progress: 2 }), 400, 'VALIDATION_FAILED'],
    ['an array', '[1]', 400, 'VALIDATION_FAILED'],
    ['malformed JSON', '{"deploymentId":', 400, 'INVALID_JSON'],
    ['an empty body', '', 400, 'VALIDATION_FAILED'],
  ])('refuses %s with a problem document and stores nothing', async (what, body, status, code) => {
    const id = `hota-refused-${status}-${body.length}`;
    const auth = await device(id);
    port.offer('default', id, testOffer('r-bad'));
    expect((await report(auth, JSON.stringify({ deploymentId: 'r-bad', state: 'installing' }))).status).toBe(204);
    const res = await report(auth, body);
    expect(res.status, what).toBe(status);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    const problem = (await res.json()) as { code: string; detail: string };
    expect(problem.code).toBe(code);
    if (code === 'OTA_STATE_CONFLICT') expect(problem).toMatchObject({ state: 'installing' });
    expect(port.reports.filter((r) => r.deviceId === id)).toHaveLength(1);
  });

  it('refuses a report that is not application/json with 415', async () => {
    const auth = await device('hota-415');
    port.offer('default', 'hota-415', testOffer('r-415'));
    const res = await report(auth, JSON.stringify({ deploymentId: 'r-415', state: 'downloading' }), 'text/plain');
    expect(res.status).toBe(415);
    expect(port.reports.filter((r) => r.deviceId === 'hota-415')).toEqual([]);
  });
});

describe('the HTTP device API with the core OTA service', () => {
  let h: DeviceHarness;
  beforeAll(async () => {
    h = await startDeviceHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('answers {"deploymentId":null} to a device in no rollout and 404 to its report for an unknown deployment', async () => {
    const token = await h.device('hota-none');
    const auth = { authorization: `Bearer ${token}` };
    const offer = await fetch(`${h.httpBase}/device/v1/ota`, { headers: auth });
    expect(offer.status).toBe(200);
    expect(await offer.json()).toEqual({ deploymentId: null });
    const res = await fetch(`${h.httpBase}/device/v1/ota/status`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ deploymentId: 'r-x', state: 'downloading' }) });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { code: string }).code).toBe('OTA_NOT_IN_ROLLOUT');
  });
});

describe('OTA long polls across a shutdown', () => {
  it('answers an open long poll with 204 when the server closes', async () => {
    const port = new TestOtaPort();
    const h = await startDeviceHarness({ otaDevicePort: port });
    try {
      port.attach(h.t.hangar.bus);
      const token = await h.device('hota-close');
      const before = port.reads;
      const pending = fetch(`${h.httpBase}/device/v1/ota?wait=60`, { headers: { authorization: `Bearer ${token}` } });
      await until(() => port.reads > before, 'the long poll');
      const closing = h.close();
      expect((await pending).status).toBe(204);
      await closing;
    } catch (err) {
      await h.close().catch(() => undefined);
      throw err;
    }
  });
});
