import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORE_KINDS } from '../testing/test-store.js';
import { startTestHangar, type TestHangar } from '../testing/test-hangar.js';

describe.each(STORE_KINDS)('fleet stats on %s', (kind) => {
  let t: TestHangar;
  let viewer: string;

  beforeAll(async () => {
    t = await startTestHangar(kind);
    viewer = (await t.call('POST', '/api/v1/api-keys', { body: { name: 'viewer', role: 'viewer' } })).body.token;
    // A known fleet: [id, type, site, online, firmware]
    const fleet = [
      ['s1', 'sensor', 'berlin', true, '1.0.0'],
      ['s2', 'sensor', 'berlin', true, '1.0.0'],
      ['s3', 'sensor', 'paris', false, '1.1.0'],
      ['s4', 'sensor', 'berlin', false, '2.0.0'],
      ['g1', 'gateway', 'paris', true, '1.0.0'],
      ['g2', 'gateway', 'berlin', false, null],
    ] as const;
    const db = t.hangar.store.db;
    for (const [id, type, site, online, firmware] of fleet) {
      expect((await t.call('POST', '/api/v1/devices', { body: { id, type, tags: { site } } })).status).toBe(201);
      await db.updateTable('devices').set({ online: online ? 1 : 0, firmware_version: firmware, last_seen: 1 }).where('id', '=', id).execute();
      await db.insertInto('telemetry_latest').values({ tenant_id: 'default', device_id: id, key: 'battery', value_num: id.startsWith('s') ? 10 : 90, value_str: null, value_bool: null, ts: 1 }).execute();
    }
    await t.call('PATCH', '/api/v1/devices/s4', { body: { status: 'suspended' } });
    await t.call('POST', '/api/v1/alert-rules', { body: { name: 'Low battery', severity: 'warning', condition: 'telemetry.battery < 20' } });
    await t.call('POST', '/api/v1/alert-rules', { body: { name: 'Offline', severity: 'critical', condition: 'offline for 1m', target: 'tags.site = "berlin"' } });
    await t.hangar.alertEvaluator.sweep();
    await t.hangar.alertEvaluator.idle();
    const s1Low = (await t.call('GET', '/api/v1/alerts?device=s1')).body.items[0];
    await t.call('POST', `/api/v1/alerts/${s1Low.id}/acknowledge`);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('counts the whole fleet: online, types, statuses, firmware and open alerts', async () => {
    const res = await t.call('GET', '/api/v1/fleet/stats', { token: viewer });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      total: 6,
      online: 3,
      offline: 3,
      byType: { sensor: 4, gateway: 2 },
      typeOther: 0,
      byStatus: { active: 5, suspended: 1 },
      firmware: { '1.0.0': 3, '1.1.0': 1, '2.0.0': 1 },
      firmwareOther: 0,
      firmwareUnknown: 1,
      // Low battery: s1 s2 s3 s4 (warning); offline in Berlin: s4 g2 (critical).
      alerts: { open: 6, bySeverity: { critical: 2, major: 0, minor: 0, warning: 4, info: 0 }, byState: { raised: 5, acknowledged: 1 } },
    });
  });

  it('counts only the devices a fleet query selects', async () => {
    const q = encodeURIComponent('tags.site = "berlin" AND type = "sensor"');
    const res = await t.call('GET', `/api/v1/fleet/stats?q=${q}&firmwareTop=1`);
    expect(res.body).toMatchObject({
      total: 3,
      online: 2,
      offline: 1,
      byType: { sensor: 3 },
      byStatus: { active: 2, suspended: 1 },
      firmware: { '1.0.0': 2 },
      firmwareOther: 1,
      firmwareUnknown: 0,
      alerts: { open: 4, bySeverity: { critical: 1, warning: 3 } },
    });
    const none = await t.call('GET', `/api/v1/fleet/stats?q=${encodeURIComponent('telemetry.battery > 100')}`);
    expect(none.body).toMatchObject({ total: 0, online: 0, offline: 0, byType: {}, byStatus: {}, firmware: {}, alerts: { open: 0 } });
  });

  it('answers 400 with the position for a bad query and for a bad firmwareTop', async () => {
    const bad = await t.call('GET', `/api/v1/fleet/stats?q=${encodeURIComponent('tags.site = berlin')}`);
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ code: 'INVALID_QUERY', position: 12 });
    expect((await t.call('GET', '/api/v1/fleet/stats?firmwareTop=0')).status).toBe(400);
    expect((await t.call('GET', '/api/v1/fleet/stats?firmwareTop=101')).status).toBe(400);
    expect((await t.call('GET', '/api/v1/fleet/stats?colour=red')).status).toBe(400);
    expect((await t.call('GET', '/api/v1/fleet/stats', { token: null })).status).toBe(401);
  });

  it('shows another tenant nothing of this fleet', async () => {
    const created = await t.call('POST', '/api/v1/tenants', { body: { id: 'acme', name: 'Acme' } });
    const res = await t.call('GET', '/api/v1/fleet/stats', { token: created.body.adminApiKey.token });
    expect(res.body).toMatchObject({ total: 0, online: 0, byType: {}, alerts: { open: 0 } });
  });

  it('is described in the OpenAPI document with the alert routes', async () => {
    const doc = (await t.call('GET', '/api/v1/openapi.json')).body;
    for (const path of ['/api/v1/fleet/stats', '/api/v1/alert-rules', '/api/v1/alert-rules/{id}', '/api/v1/alerts', '/api/v1/alerts/{id}/acknowledge', '/api/v1/alerts/{id}/clear']) {
      expect(doc.paths[path], path).toBeDefined();
    }
  });
});
