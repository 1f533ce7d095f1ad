import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deviceQuery, parseFleetQuery } from '../core/query/index.js';
import { fleetQueryFixture as f, seedFleetQueryFixture } from './fleet-query-fixture.js';
import { STORE_KINDS, openTestStore, type TestStore } from '../testing/test-store.js';

/**
 * The fleet query contract: every fixture query returns the same devices on every store,
 * through the device store's own list path (the one the API uses).
 */
describe.each(STORE_KINDS)('fleet queries on %s', (kind) => {
  let t: TestStore;

  beforeAll(async () => {
    t = await openTestStore(kind);
    await seedFleetQueryFixture(t.conn.db);
  });
  afterAll(async () => {
    await t?.cleanup();
  });

  it.each(f.cases)('$query', async ({ query, ids }) => {
    const where = deviceQuery(parseFleetQuery(query), f.now);
    const rows = await t.stores.devices.list({ tenantId: f.tenantId, where, limit: 1000 });
    expect(rows.map((r) => r.id)).toEqual(ids);
    expect(await t.stores.devices.count(f.tenantId, where)).toBe(ids.length);
  });
});
