import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORE_KINDS } from '../../testing/test-store.js';
import { startTestHangar, type TestHangar } from '../../testing/test-hangar.js';

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
