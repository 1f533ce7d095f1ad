import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredConfiguration } from '../core/configurations/ports.js';
import { STORE_KINDS } from '../testing/test-store.js';
import { startTestHangar, type TestHangar } from '../testing/test-hangar.js';

describe.each(STORE_KINDS)('the configuration store on %s', (kind) => {
  let t: TestHangar;
  const conf = (id: string, name: string, extra: Partial<StoredConfiguration> = {}): StoredConfiguration => ({
    id,
    tenantId: 'default',
    name,
    target: 'tags.x = "1"',
    content: { desired: { a: { b: [1, 'two'] } } },
    priority: 0,
    labels: { k: 'v' },
    createdAt: 1000,
    updatedAt: 1000,
    deletedAt: null,
    ...extra,
  });

  beforeAll(async () => {
    // No reconciler timer: this suite drives the store alone.
    t = await startTestHangar(kind);
    await t.hangar.configurationReconciler.stop();
    for (const id of ['sc-1', 'sc-2', 'sc-3']) await t.call('POST', '/api/v1/devices', { body: { id } });
  });
  afterAll(async () => {
    await t.close();
  });

  it('stores configurations, finds live ones by name and frees a deleted one’s name', async () => {
    const s = t.hangar.stores.configurations;
    await s.insert(conf('c-1', 'one'));
    await s.insert(conf('c-2', 'two', { priority: -5 }));
    expect(await s.get('default', 'c-1')).toEqual(conf('c-1', 'one'));
    expect(await s.get('other', 'c-1')).toBeUndefined();
    expect((await s.findByName('default', 'two'))?.priority).toBe(-5);
    await expect(s.insert(conf('c-3', 'one'))).rejects.toThrow();
    await s.update({ ...conf('c-1', 'one'), target: '', priority: 7, labels: {}, updatedAt: 2000, deletedAt: 2000 });
    expect(await s.findByName('default', 'one')).toBeUndefined();
    await s.insert(conf('c-3', 'one'));
    expect((await s.list('default', undefined, 10)).map((c) => c.id)).toEqual(['c-2', 'c-3']);
    expect((await s.list('default', 'c-2', 10)).map((c) => c.id)).toEqual(['c-3']);
    expect((await s.listAll('default')).map((c) => [c.id, c.deletedAt])).toEqual([['c-1', 2000], ['c-2', null], ['c-3', null]]);
    expect(await s.get('default', 'c-1')).toMatchObject({ target: '', priority: 7, labels: {}, content: { desired: { a: { b: [1, 'two'] } } } });
  });

  it('keeps per-device records, counts them and lists them by status', async () => {
    const s = t.hangar.stores.configurations;
    const rec = (configurationId: string, deviceId: string, applied: boolean, conflicting: boolean) => ({ configurationId, deviceId, written: [{ path: ['a', 'b'], value: [1, 'two'] }], applied, conflicting, updatedAt: 3000 });
    await s.saveRecords('default', [rec('c-2', 'sc-1', true, false), rec('c-2', 'sc-2', false, true), rec('c-3', 'sc-1', false, false), rec('c-1', 'sc-3', false, false)], []);
    await s.saveRecords('default', [{ ...rec('c-3', 'sc-1', true, false), written: [] }], []);
    const counts = await s.counts('default', ['c-2', 'c-3', 'c-x']);
    expect(counts.get('c-2')).toEqual({ targeted: 2, applied: 1, conflicting: 1 });
    expect(counts.get('c-3')).toEqual({ targeted: 1, applied: 1, conflicting: 0 });
    expect(counts.get('c-x')).toEqual({ targeted: 0, applied: 0, conflicting: 0 });
    expect((await s.listRecords('default', 'c-2', 'pending', undefined, 10)).map((r) => r.deviceId)).toEqual(['sc-2']);
    expect((await s.listRecords('default', 'c-2', 'applied', undefined, 10)).map((r) => r.deviceId)).toEqual(['sc-1']);
    expect((await s.listRecords('default', 'c-2', 'conflicting', undefined, 10)).map((r) => r.deviceId)).toEqual(['sc-2']);
    expect((await s.listRecords('default', 'c-2', undefined, 'sc-1', 10)).map((r) => r.deviceId)).toEqual(['sc-2']);
    const records = await s.recordsOf('default', ['sc-1']);
    expect(records.sort((a, b) => a.configurationId.localeCompare(b.configurationId))).toEqual([rec('c-2', 'sc-1', true, false), { ...rec('c-3', 'sc-1', true, false), written: [] }]);
    expect(await s.recordsOf('other', ['sc-1'])).toEqual([]);

    // A deleted configuration goes only once no record refers to it.
    expect(await s.purgeDeleted('default')).toBe(0);
    await s.saveRecords('default', [], [{ configurationId: 'c-1', deviceId: 'sc-3' }]);
    expect(await s.purgeDeleted('default')).toBe(1);
    expect(await s.get('default', 'c-1')).toBeUndefined();
  });

  it('reads reported twins in bulk and drops records with their device', async () => {
    const s = t.hangar.stores.configurations;
    await t.hangar.services.twins.patchReported('default', 'sc-2', { fw: '1.0' });
    const reported = await s.reportedOf('default', ['sc-1', 'sc-2']);
    expect([...reported.entries()]).toEqual([['sc-2', { fw: '1.0' }]]);
    expect((await t.call('DELETE', '/api/v1/devices/sc-2')).status).toBe(204);
    expect(await s.recordsOf('default', ['sc-2'])).toEqual([]);
  });
});
