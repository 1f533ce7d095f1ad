import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHangar, type TestHangar } from '../../testing/test-hangar.js';
import { STORE_KINDS } from '../../testing/test-store.js';

/**
 * Bulk import keeps the rule device create and enrollment keep: an id whose deleted device's
 * telemetry is still being purged cannot be reused yet (the new device would be served, and then
 * lose, the old readings).
 */
describe.each(STORE_KINDS)('import of an id still being purged on %s', (kind) => {
  let t: TestHangar;
  beforeAll(async () => {
    t = await startTestHangar(kind);
  });
  afterAll(async () => t?.close());

  it('refuses that row with its line and imports the others', async () => {
    // History left by a deleted device whose purge has not finished (as after a restart mid-purge).
    await t.hangar.store.db
      .insertInto('telemetry_rollup_1h')
      .values({ device_id: 'ghost-1', key: 'temp', bucket: 0, count: 1, num_count: 1, sum: 1, min: 1, max: 1, last_ts: 1, last_num: 1, last_str: null, last_bool: null })
      .execute();
    const body = ['{"id":"fresh-1"}', '{"id":"ghost-1"}', '{"id":"fresh-2"}'].join('\n') + '\n';
    const res = await t.call('POST', '/api/v1/devices/import', { payload: body, headers: { 'content-type': 'application/x-ndjson' } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ created: 2, failed: 1, errors: [{ line: 2, id: 'ghost-1', reason: expect.stringContaining('still being purged') }] });
    expect((await t.call('GET', '/api/v1/devices/ghost-1')).status).toBe(404);
    expect((await t.call('GET', '/api/v1/devices/fresh-2')).status).toBe(200);
    expect([...(await t.hangar.stores.telemetry.withHistory(['fresh-1', 'ghost-1', 'nobody']))]).toEqual(['ghost-1']);
  });
});
