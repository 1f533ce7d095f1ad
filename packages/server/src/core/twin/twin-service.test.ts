import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORE_KINDS } from '../../testing/test-store.js';
import { startTestHangar, type TestHangar } from '../../testing/test-hangar.js';
import { ChangeEvents } from '../events/change-events.js';
import { TwinService } from './twin-service.js';

/** The twin issue adds the writes; until then a test writes the row itself. */
async function setDesired(t: TestHangar, deviceId: string, desired: Record<string, unknown>, version: number): Promise<void> {
  await t.hangar.store.db
    .insertInto('device_twins')
    .values({ tenant_id: 'default', device_id: deviceId, desired: JSON.stringify(desired), reported: '{}', desired_version: version, reported_version: 0, updated_at: Date.now() })
    .execute();
}

describe.each(STORE_KINDS)('the desired twin document on %s', (kind) => {
  let t: TestHangar;

  beforeAll(async () => {
    t = await startTestHangar(kind);
    await t.call('POST', '/api/v1/devices', { body: { id: 'twin-1' } });
    await t.call('POST', '/api/v1/devices', { body: { id: 'twin-2' } });
  });
  afterAll(async () => {
    await t.close();
  });

  it('reads as version 0 and empty before the device has desired state', async () => {
    expect(await t.hangar.services.twins.desiredDocument('default', 'twin-1')).toEqual({ $version: 0 });
  });

  it('carries the desired properties and their version, which a property named $version cannot override', async () => {
    await setDesired(t, 'twin-2', { interval: 60, $version: 99 }, 2);
    expect(await t.hangar.services.twins.desiredDocument('default', 'twin-2')).toEqual({ $version: 2, interval: 60 });
    expect(await t.hangar.services.twins.desiredDocument('other-tenant', 'twin-2')).toEqual({ $version: 0 });
  });
});

describe.each(STORE_KINDS)('the twin service on %s', (kind) => {
  let t: TestHangar;
  let clock = Date.parse('2026-03-01T10:00:00.000Z');
  let twins: TwinService;

  beforeAll(async () => {
    t = await startTestHangar(kind);
    await t.call('POST', '/api/v1/devices', { body: { id: 'ts-1' } });
    await t.call('POST', '/api/v1/devices', { body: { id: 'ts-2' } });
    twins = new TwinService(t.hangar.stores, new ChangeEvents(undefined), { maxBytes: 64, now: () => clock });
  });
  afterAll(async () => {
    await t.close();
  });

  it('raises $version per change and stamps each changed property with the write time', async () => {
    expect(await twins.patchReported('default', 'ts-1', { a: 1, b: { c: 2 } })).toEqual({ $version: 1 });
    clock += 60_000;
    expect(await twins.patchReported('default', 'ts-1', { b: { d: 3 } })).toEqual({ $version: 2 });
    const stored = await t.hangar.stores.twins.get('default', 'ts-1');
    expect(stored?.reported).toEqual({
      version: 2,
      properties: { a: 1, b: { c: 2, d: 3 } },
      metadata: {
        $lastUpdated: '2026-03-01T10:01:00.000Z',
        a: { $lastUpdated: '2026-03-01T10:00:00.000Z' },
        b: { $lastUpdated: '2026-03-01T10:01:00.000Z', c: { $lastUpdated: '2026-03-01T10:00:00.000Z' }, d: { $lastUpdated: '2026-03-01T10:01:00.000Z' } },
      },
    });
    expect(stored?.desired.version).toBe(0);
  });

  it('refuses a half over its configured size limit, saying the size and the limit, and keeps the stored one', async () => {
    await twins.patchReported('default', 'ts-2', { a: 'x'.repeat(40) });
    const before = await t.hangar.stores.twins.get('default', 'ts-2');
    await expect(twins.patchReported('default', 'ts-2', { b: 'y'.repeat(20) })).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE', message: expect.stringMatching(/reported would be 75 bytes .* at most 64 bytes/) });
    expect(await t.hangar.stores.twins.get('default', 'ts-2')).toEqual(before);
    // Deleting makes room again: the limit applies to the result, not to the patch.
    expect(await twins.patchReported('default', 'ts-2', { a: null, b: 'y'.repeat(20) })).toEqual({ $version: 2 });
  });

  it('refuses reported patches for a device that does not exist', async () => {
    await expect(twins.patchReported('default', 'nope', { a: 1 })).rejects.toMatchObject({ code: 'DEVICE_NOT_FOUND' });
    await expect(twins.patchReported('other-tenant', 'ts-1', { a: 1 })).rejects.toMatchObject({ code: 'DEVICE_NOT_FOUND' });
  });
});
