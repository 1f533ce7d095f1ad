import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NewLogRecord } from '../core/logs/ports.js';
import { STORE_KINDS, openTestStore, type TestStore } from '../testing/test-store.js';

function rec(deviceId: string, ts: number, level: NewLogRecord['level'], msg: string, extra: Partial<NewLogRecord> = {}): NewLogRecord {
  return { tenantId: 'default', deviceId, ts, receivedAt: ts, level, msg, truncated: false, ...extra };
}

describe.each(STORE_KINDS)('the device log and timeline stores on %s', (kind) => {
  let s: TestStore;

  beforeAll(async () => {
    s = await openTestStore(kind);
  });
  afterAll(async () => {
    await s.cleanup();
  });

  it('appends records in order and lists them by (ts, seq) both ways, with level, range and text filters', async () => {
    const logs = s.stores.deviceLogs;
    const seqs = await logs.append([
      rec('d1', 1000, 'debug', 'boot'),
      rec('d1', 2000, 'info', 'Link UP 100%_full'),
      rec('d1', 2000, 'warn', 'disk 90% full', { fields: '{"disk":"/"}' }),
      rec('d1', 3000, 'error', 'sensor FAILED', { truncated: true }),
      rec('d2', 2500, 'error', 'other device'),
      rec('d1', 2000, 'error', 'same ts, other tenant', { tenantId: 'other' }),
    ]);
    expect(seqs).toHaveLength(6);
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
    const base = { tenantId: 'default', deviceId: 'd1', limit: 10 } as const;
    const desc = await logs.list({ ...base, order: 'desc' });
    expect(desc.map((r) => r.msg)).toEqual(['sensor FAILED', 'disk 90% full', 'Link UP 100%_full', 'boot']);
    expect(desc[0]).toMatchObject({ ts: 3000, level: 'error', truncated: true, fields: null });
    expect(desc[1]).toMatchObject({ fields: '{"disk":"/"}', truncated: false, receivedAt: 2000 });
    expect((await logs.list({ ...base, order: 'asc' })).map((r) => r.msg)).toEqual(['boot', 'Link UP 100%_full', 'disk 90% full', 'sensor FAILED']);
    expect((await logs.list({ ...base, order: 'asc', minLevel: 'warn' })).map((r) => r.level)).toEqual(['warn', 'error']);
    expect((await logs.list({ ...base, order: 'asc', from: 2000, to: 3000 })).map((r) => r.ts)).toEqual([2000, 2000]);
    // Case-insensitive, and % and _ are literal characters.
    expect((await logs.list({ ...base, order: 'asc', contains: 'failed' })).map((r) => r.msg)).toEqual(['sensor FAILED']);
    expect((await logs.list({ ...base, order: 'asc', contains: '%_' })).map((r) => r.msg)).toEqual(['Link UP 100%_full']);
    expect((await logs.list({ ...base, order: 'asc', contains: '0%' })).map((r) => r.msg)).toEqual(['Link UP 100%_full', 'disk 90% full']);
    // Keyset pages: after the second record of ts 2000 in each direction.
    const [, second] = await logs.list({ ...base, order: 'asc', limit: 2 });
    expect((await logs.list({ ...base, order: 'asc', after: { ts: second!.ts, seq: second!.seq } })).map((r) => r.msg)).toEqual(['disk 90% full', 'sensor FAILED']);
    expect((await logs.list({ ...base, order: 'desc', after: { ts: second!.ts, seq: second!.seq } })).map((r) => r.msg)).toEqual(['boot']);
  });

  it('trims a device to its newest records, deletes by receive time, and purges one device only', async () => {
    const logs = s.stores.deviceLogs;
    await logs.append(Array.from({ length: 7 }, (_, i) => rec('cap', 10_000 + i, 'info', `m${i}`, { receivedAt: 50_000 + i })));
    expect(await logs.devicesOver(5, 10)).toEqual([{ tenantId: 'default', deviceId: 'cap', count: 7 }]);
    expect(await logs.trimDevice('default', 'cap', 5)).toBe(2);
    expect((await logs.list({ tenantId: 'default', deviceId: 'cap', order: 'asc', limit: 10 })).map((r) => r.msg)).toEqual(['m2', 'm3', 'm4', 'm5', 'm6']);
    expect(await logs.trimDevice('default', 'cap', 5)).toBe(0);
    expect(await logs.deleteReceivedBefore(50_004, 2)).toBe(2);
    expect(await logs.deleteReceivedBefore(50_004, 100)).toBeGreaterThanOrEqual(1);
    expect((await logs.list({ tenantId: 'default', deviceId: 'cap', order: 'asc', limit: 10 })).map((r) => r.msg)).toEqual(['m4', 'm5', 'm6']);
    expect(await logs.purgeDevice('default', 'cap')).toBe(3);
    expect(await logs.list({ tenantId: 'default', deviceId: 'cap', order: 'asc', limit: 10 })).toEqual([]);
  });

  it('keeps a timeline per device in a stable order, filtered by types, range and cursor', async () => {
    const tl = s.stores.timeline;
    await tl.append([
      { tenantId: 'default', deviceId: 't1', ts: 100, type: 'device.connected', data: { protocol: 'mqtt' } },
      { tenantId: 'default', deviceId: 't1', ts: 200, type: 'twin.desired.changed', data: { version: 1 } },
      { tenantId: 'default', deviceId: 't1', ts: 200, type: 'twin.reported.changed', data: { version: 1 } },
      { tenantId: 'default', deviceId: 't1', ts: 300, type: 'alert.raised', data: { alertId: 'a' } },
      { tenantId: 'default', deviceId: 't2', ts: 150, type: 'device.connected', data: {} },
    ]);
    const base = { tenantId: 'default', deviceId: 't1', limit: 10 } as const;
    expect((await tl.list({ ...base, order: 'asc' })).map((e) => e.type)).toEqual(['device.connected', 'twin.desired.changed', 'twin.reported.changed', 'alert.raised']);
    expect((await tl.list({ ...base, order: 'desc' })).map((e) => e.type)).toEqual(['alert.raised', 'twin.reported.changed', 'twin.desired.changed', 'device.connected']);
    expect((await tl.list({ ...base, order: 'asc', types: { exact: ['alert.raised'], prefixes: ['twin.'] } })).map((e) => e.type)).toEqual(['twin.desired.changed', 'twin.reported.changed', 'alert.raised']);
    expect((await tl.list({ ...base, order: 'asc', from: 200, to: 300 })).map((e) => e.data)).toEqual([{ version: 1 }, { version: 1 }]);
    const [first, second] = await tl.list({ ...base, order: 'asc', limit: 2 });
    expect(first!.seq).toBeLessThan(second!.seq);
    expect((await tl.list({ ...base, order: 'asc', after: { ts: second!.ts, seq: second!.seq } })).map((e) => e.type)).toEqual(['twin.reported.changed', 'alert.raised']);
    expect(await tl.deleteBefore(150, 100)).toBe(1);
    expect(await tl.purgeDevice('default', 't1')).toBe(3);
    expect((await tl.list({ ...base, deviceId: 't2', order: 'asc' })).map((e) => e.ts)).toEqual([150]);
  });
});
