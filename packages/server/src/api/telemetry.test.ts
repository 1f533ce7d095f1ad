import { Encoder } from 'cbor-x';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORE_KINDS } from '../testing/test-store.js';
import { startTestHangar, type TestHangar } from '../testing/test-hangar.js';

const MIN = 60_000;
const ident = (deviceId: string) => ({ tenantId: 'default', deviceId, credentialId: 'test' });
const json = (v: unknown): Uint8Array => Buffer.from(JSON.stringify(v));

describe.each(STORE_KINDS)('telemetry REST API on %s', (kind) => {
  let t: TestHangar;
  let viewer: string;
  // Whole minutes in the recent past, so the readings are within the accepted window.
  const base = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 2 * 3_600_000;

  beforeAll(async () => {
    t = await startTestHangar(kind);
    viewer = (await t.call('POST', '/api/v1/api-keys', { body: { name: 'viewer', role: 'viewer' } })).body.token;
    for (const id of ['th-1', 'th-2', 'th-purge']) expect((await t.call('POST', '/api/v1/devices', { body: { id } })).status).toBe(201);
    const telemetry = t.hangar.services.telemetry;
    const messages = Array.from({ length: 30 }, (_, i) => ({ ts: base + i * MIN, values: { temp: 20 + i, mode: i % 2 ? 'eco' : 'boost', on: i % 3 === 0 } }));
    await telemetry.ingest(ident('th-1'), json(messages), 'json');
    const senml = new Encoder({ useRecords: false, mapsAsObjects: false, variableMapSize: true });
    await telemetry.ingest(ident('th-2'), senml.encode([new Map<number, unknown>([[-2, 'env.'], [0, 'hum'], [2, 40]])]), 'senml+cbor');
    await telemetry.ingest(ident('th-purge'), json({ temp: 1 }), 'json');
  });
  afterAll(async () => {
    await t?.close();
  });

  it('answers raw points to a viewer, oldest first, with limit and order', async () => {
    const res = await t.call('GET', `/api/v1/devices/th-1/telemetry?keys=temp,mode&from=${base}&to=${new Date(base + 3 * MIN).toISOString()}`, { token: viewer });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ deviceId: 'th-1', from: new Date(base).toISOString(), agg: null, source: 'raw' });
    expect(res.body.series).toEqual([
      { key: 'temp', points: [{ ts: base, value: 20 }, { ts: base + MIN, value: 21 }, { ts: base + 2 * MIN, value: 22 }], truncated: false },
      { key: 'mode', points: [{ ts: base, value: 'boost' }, { ts: base + MIN, value: 'eco' }, { ts: base + 2 * MIN, value: 'boost' }], truncated: false },
    ]);
    const newest = await t.call('GET', `/api/v1/devices/th-1/telemetry?keys=on&from=${base}&order=desc&limit=2`);
    expect(newest.body.series).toEqual([{ key: 'on', points: [{ ts: base + 29 * MIN, value: false }, { ts: base + 28 * MIN, value: false }], truncated: true }]);
  });

  it('answers every key when none is named', async () => {
    const res = await t.call('GET', `/api/v1/devices/th-1/telemetry?from=${base}&limit=1`);
    expect(res.body.series.map((s: { key: string }) => s.key)).toEqual(['mode', 'on', 'temp']);
  });

  it('answers buckets from rollups or raw points by interval', async () => {
    const tenMin = await t.call('GET', `/api/v1/devices/th-1/telemetry?keys=temp&from=${base}&to=${base + 30 * MIN}&agg=avg&interval=10m`);
    expect(tenMin.status).toBe(200);
    expect(tenMin.body).toMatchObject({ agg: 'avg', interval: '10m', intervalMs: 600_000, source: 'rollup_1m' });
    expect(tenMin.body.series[0].points).toEqual([
      { ts: base, value: 24.5 },
      { ts: base + 10 * MIN, value: 34.5 },
      { ts: base + 20 * MIN, value: 44.5 },
    ]);
    const hourly = await t.call('GET', `/api/v1/devices/th-1/telemetry?keys=temp,mode&from=${base}&to=${base + 30 * MIN}&agg=last&interval=1h`);
    expect(hourly.body.source).toBe('rollup_1h');
    expect(hourly.body.series).toEqual([
      { key: 'temp', points: [{ ts: base, value: 49 }], truncated: false },
      { key: 'mode', points: [{ ts: base, value: 'eco' }], truncated: false },
    ]);
    const ninety = await t.call('GET', `/api/v1/devices/th-1/telemetry?keys=temp&from=${base}&to=${base + 3 * MIN}&agg=count&interval=90s`);
    expect(ninety.body.source).toBe('raw');
    expect(ninety.body.series[0].points.reduce((n: number, p: { value: number }) => n + p.value, 0)).toBe(3);
  });

  it('answers the latest value per key', async () => {
    const res = await t.call('GET', '/api/v1/devices/th-1/telemetry/latest', { token: viewer });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      deviceId: 'th-1',
      values: { mode: { ts: base + 29 * MIN, value: 'eco' }, on: { ts: base + 29 * MIN, value: false }, temp: { ts: base + 29 * MIN, value: 49 } },
    });
    const senml = await t.call('GET', '/api/v1/devices/th-2/telemetry/latest?keys=env.hum,nope');
    expect(senml.body.values).toEqual({ 'env.hum': { ts: expect.any(Number), value: 40 } });
  });

  it('lets fleet queries find devices by their latest telemetry', async () => {
    const res = await t.call('GET', `/api/v1/devices?q=${encodeURIComponent('telemetry.temp > 40 AND telemetry.mode = "eco"')}`);
    expect(res.body.items.map((d: { id: string }) => d.id)).toEqual(['th-1']);
  });

  it.each([
    ['an unknown device', '/api/v1/devices/nope/telemetry', 404, /no device "nope"/],
    ['an unknown device (latest)', '/api/v1/devices/nope/telemetry/latest', 404, /no device "nope"/],
    ['from after to', '/api/v1/devices/th-1/telemetry?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z', 400, /must be before to/],
    ['an unknown agg', '/api/v1/devices/th-1/telemetry?agg=median&interval=1m', 400, /unknown agg "median"/],
    ['agg without interval', '/api/v1/devices/th-1/telemetry?agg=avg', 400, /agg needs interval/],
    ['a bad interval', '/api/v1/devices/th-1/telemetry?agg=avg&interval=fortnight', 400, /interval must be a count and a unit/],
    ['too many buckets', '/api/v1/devices/th-1/telemetry?agg=avg&interval=1s&from=0&to=86400000', 400, /86400 buckets; the limit is 10000/],
    ['too many keys', `/api/v1/devices/th-1/telemetry?keys=${Array.from({ length: 60 }, (_, i) => `k${i}`).join(',')}`, 400, /60 keys; the limit is 50/],
    ['a key fleet queries cannot name', '/api/v1/devices/th-1/telemetry?keys=a%2Fb', 400, /may only hold/],
    ['a bad time', '/api/v1/devices/th-1/telemetry?from=last%20week', 400, /from must be epoch milliseconds or an ISO 8601/],
    ['a limit out of range', '/api/v1/devices/th-1/telemetry?limit=0', 400, /limit/],
    ['an unknown parameter', '/api/v1/devices/th-1/telemetry?key=temp', 400, /key/],
  ])('refuses %s', async (_name, url, status, detail) => {
    const res = await t.call('GET', url);
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(`${res.body.detail} ${JSON.stringify(res.body.errors ?? [])}`).toMatch(detail);
  });

  it('keeps retention settings per tenant, changed by admins only and audited', async () => {
    const installation = { rateLimit: { perSecond: 100, burst: 200 }, rateLimitSource: 'installation' };
    expect((await t.call('GET', '/api/v1/telemetry/settings', { token: viewer })).body).toEqual({ retentionDays: 30, ...installation });
    expect((await t.call('PUT', '/api/v1/telemetry/settings', { body: { retentionDays: 7 }, token: viewer })).status).toBe(403);
    expect((await t.call('PUT', '/api/v1/telemetry/settings', { body: { retentionDays: 0 } })).status).toBe(400);
    expect((await t.call('PUT', '/api/v1/telemetry/settings', { body: { retentionDays: '7' } })).status).toBe(400);
    const put = await t.call('PUT', '/api/v1/telemetry/settings', { body: { retentionDays: 90 } });
    expect(put.status).toBe(200);
    expect(put.body).toEqual({ retentionDays: 90, ...installation });
    expect((await t.call('GET', '/api/v1/telemetry/settings')).body).toEqual({ retentionDays: 90, ...installation });
    const audit = await t.call('GET', '/api/v1/audit?action=telemetry.settings.update');
    expect(audit.body.items[0]).toMatchObject({ action: 'telemetry.settings.update' });
  });

  it('keeps a per-device rate limit per tenant that limits its devices at once, and refuses bad values', async () => {
    const send = (token: string) => t.call('POST', '/device/v1/telemetry', { body: { temp: 1 }, token });
    await t.call('POST', '/api/v1/devices', { body: { id: 'th-rate' } });
    const token = (await t.call('POST', '/api/v1/devices/th-rate/credentials', { body: { type: 'token' } })).body.token as string;
    expect((await send(token)).status).toBe(200);

    expect((await t.call('PUT', '/api/v1/telemetry/settings', { body: { rateLimit: { perSecond: 1 } }, token: viewer })).status).toBe(403);
    const put = await t.call('PUT', '/api/v1/telemetry/settings', { body: { rateLimit: { perSecond: 0.5, burst: 2 } } });
    expect(put.status).toBe(200);
    expect(put.body).toEqual({ retentionDays: expect.any(Number), rateLimit: { perSecond: 0.5, burst: 2 }, rateLimitSource: 'tenant' });
    expect((await t.call('GET', '/api/v1/telemetry/settings', { token: viewer })).body).toMatchObject({ rateLimit: { perSecond: 0.5, burst: 2 }, rateLimitSource: 'tenant' });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await send(token)).status);
    expect(statuses).toEqual([200, 200, 429]);

    // A burst left out is two seconds' worth; null gives the tenant the installation's limit again.
    expect((await t.call('PUT', '/api/v1/telemetry/settings', { body: { rateLimit: { perSecond: 50 } } })).body.rateLimit).toEqual({ perSecond: 50, burst: 100 });
    // The emptied bucket refills at the new rate: a token within 20 ms.
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect((await send(token)).status).toBe(200);
    expect((await t.call('PUT', '/api/v1/telemetry/settings', { body: { rateLimit: null } })).body).toEqual({ retentionDays: expect.any(Number), rateLimit: { perSecond: 100, burst: 200 }, rateLimitSource: 'installation' });

    for (const body of [{}, { rateLimit: { perSecond: 0 } }, { rateLimit: { perSecond: -1 } }, { rateLimit: { perSecond: '5' } }, { rateLimit: { perSecond: 100_001 } }, { rateLimit: { perSecond: 5, burst: 0 } }, { rateLimit: { perSecond: 5, burst: 1.5 } }, { rateLimit: { burst: 5 } }, { rateLimit: 5 }, { rateLimit: { perSecond: 5, extra: 1 } }]) {
      const res = await t.call('PUT', '/api/v1/telemetry/settings', { body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.code).toBe('VALIDATION_FAILED');
    }
    const audit = await t.call('GET', '/api/v1/audit?action=telemetry.settings.update');
    expect(audit.body.items[0]).toMatchObject({ summary: { before: { rateLimit: { perSecond: 50, burst: 100 } }, after: { rateLimit: null } } });
  });

  it('purges the history when a device is decommissioned with purgeData', async () => {
    expect((await t.call('POST', '/api/v1/devices/th-purge/decommission', { body: { purgeData: true } })).status).toBe(200);
    const res = await t.call('GET', '/api/v1/devices/th-purge/telemetry?from=0');
    expect(res.body.series).toEqual([]);
    expect(await t.hangar.stores.telemetry.range({ deviceId: 'th-purge', key: 'temp', from: 0, to: Date.now() + 1, limit: 10, desc: false })).toEqual([]);
  });

  it('documents its routes in the OpenAPI description', async () => {
    const spec = (await t.call('GET', '/api/v1/openapi.json')).body;
    expect(Object.keys(spec.paths)).toEqual(expect.arrayContaining(['/api/v1/devices/{id}/telemetry', '/api/v1/devices/{id}/telemetry/latest', '/api/v1/telemetry/settings']));
  });
});
