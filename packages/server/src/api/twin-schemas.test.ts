import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORE_KINDS } from '../testing/test-store.js';
import { startTestHangar, type TestHangar } from '../testing/test-hangar.js';

const THERMOSTAT = {
  desired: { type: 'object', properties: { setpoint: { type: 'number', minimum: 5, maximum: 30 }, mode: { enum: ['eco', 'comfort'] } }, additionalProperties: false },
  reported: { type: 'object', properties: { fw: { type: 'string' } }, required: ['fw'] },
};

/**
 * Twin JSON Schemas per device type, and fleet queries over twin fields, through the REST API
 * on both stores.
 */
describe.each(STORE_KINDS)('twin schemas and twin fleet queries on %s', (kind) => {
  let t: TestHangar;
  let viewer: string;

  beforeAll(async () => {
    t = await startTestHangar(kind);
    for (const [id, type] of [['th-1', 'thermostat'], ['th-2', 'thermostat'], ['free-1', 'gateway']]) expect((await t.call('POST', '/api/v1/devices', { body: { id, type } })).status).toBe(201);
    viewer = (await t.call('POST', '/api/v1/api-keys', { body: { name: 'viewer', role: 'viewer' } })).body.token;
  });
  afterAll(async () => {
    await t.close();
  });

  const desired = (id: string, patch: unknown): ReturnType<TestHangar['call']> => t.call('PATCH', `/api/v1/devices/${id}/twin`, { body: { desired: patch } });

  it('stores, lists, reads and replaces the schemas of a device type', async () => {
    const put = await t.call('PUT', '/api/v1/twin-schemas/thermostat', { body: THERMOSTAT });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ deviceType: 'thermostat', desired: THERMOSTAT.desired, reported: THERMOSTAT.reported });
    expect((await t.call('GET', '/api/v1/twin-schemas', { token: viewer })).body.items.map((s: { deviceType: string }) => s.deviceType)).toEqual(['thermostat']);
    expect((await t.call('GET', '/api/v1/twin-schemas/thermostat', { token: viewer })).body.desired).toEqual(THERMOSTAT.desired);
    const audit = await t.call('GET', '/api/v1/audit?limit=5');
    expect(audit.body.items.some((e: { action: string }) => e.action === 'twin.schema.put')).toBe(true);
  });

  it('refuses desired and reported writes that break the schema, saying where, and changes nothing', async () => {
    expect((await desired('th-1', { setpoint: 21, mode: 'eco' })).status).toBe(200);
    const tooHot = await desired('th-1', { setpoint: 45 });
    expect(tooHot.status).toBe(400);
    expect(tooHot.body.detail).toContain('/setpoint must be <= 30');
    expect(tooHot.body.detail).toContain('device type "thermostat"');
    const extra = await desired('th-1', { colour: 'red' });
    expect(extra.status).toBe(400);
    expect(extra.body.detail).toContain('"colour"');
    expect((await t.call('GET', '/api/v1/devices/th-1/twin')).body.desired).toMatchObject({ setpoint: 21, mode: 'eco', $version: 1 });
    await expect(t.hangar.services.twins.patchReported('default', 'th-1', { uptime: 5 })).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(await t.hangar.services.twins.patchReported('default', 'th-1', { fw: '1.0', uptime: 5 })).toEqual({ $version: 1 });
    // Another type is not bound by it.
    expect((await desired('free-1', { colour: 'red', setpoint: 99 })).status).toBe(200);
  });

  it('takes a new schema at once, and a removed one no longer binds', async () => {
    const looser = { desired: { type: 'object', properties: { setpoint: { type: 'number', maximum: 50 } } } };
    expect((await t.call('PUT', '/api/v1/twin-schemas/thermostat', { body: looser })).status).toBe(200);
    expect((await desired('th-2', { setpoint: 45 })).status).toBe(200);
    expect((await desired('th-2', { setpoint: 55 })).status).toBe(400);
    // The reported schema went with the replacement.
    expect(await t.hangar.services.twins.patchReported('default', 'th-2', { uptime: 1 })).toEqual({ $version: 1 });
    expect((await t.call('DELETE', '/api/v1/twin-schemas/thermostat')).status).toBe(204);
    expect((await desired('th-2', { setpoint: 55 })).status).toBe(200);
    expect((await t.call('GET', '/api/v1/twin-schemas/thermostat')).status).toBe(404);
    expect((await t.call('DELETE', '/api/v1/twin-schemas/thermostat')).status).toBe(404);
  });

  it.each([
    ['not a schema object', { desired: 'strict' }, 'must be a JSON Schema object'],
    ['an unknown keyword (strict)', { desired: { type: 'object', maxProps: 3 } }, 'not a valid JSON Schema'],
    ['a bad type', { reported: { type: 'objekt' } }, 'not a valid JSON Schema'],
    ['an unresolvable $ref', { desired: { $ref: 'https://example.com/s.json' } }, 'not a valid JSON Schema'],
    ['neither half', {}, 'give a desired schema'],
    ['an unknown field', { desired: {}, wanted: {} }, 'wanted'],
  ])('refuses %s with a 400', async (_what, body, message) => {
    const r = await t.call('PUT', '/api/v1/twin-schemas/sensor', { body });
    expect(r.status).toBe(400);
    expect(JSON.stringify(r.body)).toContain(message);
    expect((await t.call('GET', '/api/v1/twin-schemas/sensor')).status).toBe(404);
  });

  it('refuses a bad device type, an oversize schema, and viewers', async () => {
    expect((await t.call('PUT', '/api/v1/twin-schemas/bad%20type', { body: { desired: {} } })).status).toBe(400);
    const huge = { desired: { type: 'object', description: 'x'.repeat(70 * 1024) } };
    expect((await t.call('PUT', '/api/v1/twin-schemas/sensor', { body: huge })).status).toBe(413);
    expect((await t.call('PUT', '/api/v1/twin-schemas/sensor', { body: { desired: {} }, token: viewer })).status).toBe(403);
  });

  it('finds devices by twin.desired and twin.reported fields in fleet queries', async () => {
    const q = async (query: string): Promise<string[]> => {
      const r = await t.call('GET', `/api/v1/devices?q=${encodeURIComponent(query)}`);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      return r.body.items.map((d: { id: string }) => d.id).sort();
    };
    expect(await q('twin.desired.setpoint = 21')).toEqual(['th-1']);
    expect(await q('twin.desired.setpoint >= 45')).toEqual(['free-1', 'th-2']);
    expect(await q('twin.reported.fw = "1.0"')).toEqual(['th-1']);
    expect(await q('twin.desired.mode ~ "ec*" AND type = "thermostat"')).toEqual(['th-1']);
    expect(await q('twin.reported.uptime > 0')).toEqual(['th-1', 'th-2']);
  });
});
