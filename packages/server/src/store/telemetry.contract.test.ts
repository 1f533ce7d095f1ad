import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Device } from '../core/registry/device.js';
import type { Aggregate, PointToWrite } from '../core/telemetry/ports.js';
import { STORE_KINDS, openTestStore, type TestStore } from '../testing/test-store.js';

const T0 = Date.UTC(2026, 0, 15, 10, 0, 0); // on an hour boundary
const MIN = 60_000;
const HOUR = 3_600_000;

function device(id: string, tenantId = 't1'): Device {
  return { id, tenantId, type: 'sensor', status: 'active', tags: {}, attributes: {}, firmwareVersion: null, online: false, lastSeen: null, createdAt: 1, updatedAt: 1 };
}

function pt(deviceId: string, key: string, ts: number, value: PointToWrite['value'], tenantId = 't1'): PointToWrite {
  return { tenantId, deviceId, key, ts, value };
}

describe.each(STORE_KINDS)('telemetry store contract on %s', (kind) => {
  let t: TestStore;
  /** The acknowledged write, then a compaction of everything into the history tables. */
  async function write(points: PointToWrite[]): Promise<void> {
    await t.stores.transaction((tx) => tx.telemetry.writeBatch(points));
    while ((await t.stores.transaction((tx) => tx.telemetry.compactInbox(1000))) === 1000);
  }

  beforeAll(async () => {
    t = await openTestStore(kind);
    await t.stores.tenancy.insertTenant({ id: 't1', name: 'One', createdAt: 1 });
    await t.stores.tenancy.insertTenant({ id: 't2', name: 'Two', createdAt: 2 });
    for (const id of ['d1', 'd2', 'd3', 'd4', 'd5', 'bulk']) await t.stores.devices.insert(device(id));
    await t.stores.devices.insert(device('other', 't2'));
  });
  afterAll(async () => {
    await t?.cleanup();
  });

  it('stores points of every type and reads a range back in order', async () => {
    await write([pt('d1', 'temp', T0 + 2000, 21.5), pt('d1', 'temp', T0, 20), pt('d1', 'door', T0, 'open'), pt('d1', 'ok', T0, true), pt('d1', 'ok', T0 + 1, false)]);
    expect(await t.stores.telemetry.range({ deviceId: 'd1', key: 'temp', from: T0, to: T0 + HOUR, limit: 10, desc: false })).toEqual([
      { ts: T0, value: 20 },
      { ts: T0 + 2000, value: 21.5 },
    ]);
    expect(await t.stores.telemetry.range({ deviceId: 'd1', key: 'temp', from: T0, to: T0 + HOUR, limit: 1, desc: true })).toEqual([{ ts: T0 + 2000, value: 21.5 }]);
    expect(await t.stores.telemetry.range({ deviceId: 'd1', key: 'temp', from: T0 + 1, to: T0 + 2000, limit: 10, desc: false })).toEqual([]);
    expect(await t.stores.telemetry.range({ deviceId: 'd1', key: 'ok', from: T0, to: T0 + 10, limit: 10, desc: false })).toEqual([
      { ts: T0, value: true },
      { ts: T0 + 1, value: false },
    ]);
    expect(await t.stores.telemetry.range({ deviceId: 'd1', key: 'door', from: 0, to: T0 + 10, limit: 10, desc: false })).toEqual([{ ts: T0, value: 'open' }]);
  });

  it('keeps the first write of a (device, key, ts): a redelivery is dropped and not counted twice', async () => {
    await write([pt('d2', 'v', T0, 1), pt('d2', 'v', T0, 99)]);
    await write([pt('d2', 'v', T0, 5), pt('d2', 'v', T0 + 1, 2)]);
    const range = { deviceId: 'd2', key: 'v', from: T0, to: T0 + HOUR, limit: 100 };
    expect(await t.stores.telemetry.range({ ...range, desc: false })).toEqual([
      { ts: T0, value: 1 },
      { ts: T0 + 1, value: 2 },
    ]);
    expect(await t.stores.telemetry.aggregate({ ...range, agg: 'count', intervalMs: HOUR, source: 'rollup_1h' })).toEqual([{ ts: T0, value: 2 }]);
    expect(await t.stores.telemetry.aggregate({ ...range, agg: 'sum', intervalMs: MIN, source: 'rollup_1m' })).toEqual([{ ts: T0, value: 3 }]);
  });

  it('rolls up a compaction of new readings exactly as one that has to skip a redelivery', async () => {
    // On SQLite the first compaction runs in SQL (every reading new), the second in JavaScript
    // (one reading is already stored): both must leave the same buckets.
    const readings = (id: string): PointToWrite[] => [
      pt(id, 'n', T0 + 5, 2),
      pt(id, 'n', T0 + 1, 7.5),
      pt(id, 'n', T0 + MIN + 3, -1),
      pt(id, 'mix', T0, 'low'),
      pt(id, 'mix', T0 + 10, true),
      pt(id, 'mix', T0 + 20, 4),
      pt(id, 'mix', T0 + 30, false),
      pt(id, 's', T0 + HOUR + 1, 'b'),
      pt(id, 's', T0 + HOUR, 'a'),
    ];
    await t.stores.devices.insert(device('roll-fresh'));
    await t.stores.devices.insert(device('roll-again'));
    await write(readings('roll-fresh'));
    await write([pt('roll-again', 'n', T0 + 5, 2)]);
    await write(readings('roll-again')); // its first reading is a redelivery
    for (const table of ['telemetry_rollup_1m', 'telemetry_rollup_1h'] as const) {
      const rows = async (id: string): Promise<unknown[]> =>
        (await t.conn.db.selectFrom(table).selectAll().where('device_id', '=', id).orderBy('key').orderBy('bucket').execute()).map(({ device_id: _, ...rest }) => ({ ...rest }));
      const fresh = await rows('roll-fresh');
      expect(fresh).toHaveLength(table === 'telemetry_rollup_1m' ? 4 : 3);
      expect(await rows('roll-again')).toEqual(fresh);
    }
    const q = { deviceId: 'roll-fresh', from: T0, to: T0 + 2 * HOUR, limit: 10 };
    expect(await t.stores.telemetry.aggregate({ ...q, key: 'mix', agg: 'avg', intervalMs: MIN, source: 'rollup_1m' })).toEqual([{ ts: T0, value: 5 / 3 }]);
    expect(await t.stores.telemetry.aggregate({ ...q, key: 'mix', agg: 'last', intervalMs: MIN, source: 'rollup_1m' })).toEqual([{ ts: T0, value: false }]);
    expect(await t.stores.telemetry.aggregate({ ...q, key: 'n', agg: 'last', intervalMs: HOUR, source: 'rollup_1h' })).toEqual([{ ts: T0, value: -1 }]);
    expect(await t.stores.telemetry.aggregate({ ...q, key: 's', agg: 'last', intervalMs: HOUR, source: 'rollup_1h' })).toEqual([{ ts: T0 + HOUR, value: 'b' }]);
  });

  it('makes readings durable in the inbox and shows them in history once compacted', async () => {
    await t.stores.devices.insert(device('inbox'));
    await t.stores.transaction((tx) => tx.telemetry.writeBatch([pt('inbox', 'a', T0, 1), pt('inbox', 'a', T0 + 1, 2), pt('inbox', 'b', T0, 'x')]));
    expect(await t.stores.telemetry.latest('t1', 'inbox')).toEqual([
      { key: 'a', ts: T0 + 1, value: 2 },
      { key: 'b', ts: T0, value: 'x' },
    ]);
    expect(await t.stores.telemetry.range({ deviceId: 'inbox', key: 'a', from: 0, to: T0 + HOUR, limit: 10, desc: false })).toEqual([]);
    expect(await t.stores.transaction((tx) => tx.telemetry.compactInbox(2))).toBe(2);
    expect(await t.stores.transaction((tx) => tx.telemetry.compactInbox(2))).toBe(1);
    expect(await t.stores.transaction((tx) => tx.telemetry.compactInbox(2))).toBe(0);
    expect(await t.stores.telemetry.range({ deviceId: 'inbox', key: 'a', from: 0, to: T0 + HOUR, limit: 10, desc: false })).toEqual([
      { ts: T0, value: 1 },
      { ts: T0 + 1, value: 2 },
    ]);
  });

  it('keeps the newest value per key in telemetry_latest whatever the arrival order', async () => {
    await write([pt('d3', 'temp', T0 + 5000, 25), pt('d3', 'mode', T0, 'eco')]);
    await write([pt('d3', 'temp', T0 + 1000, 10), pt('d3', 'mode', T0 + 1, 'boost')]);
    expect(await t.stores.telemetry.latest('t1', 'd3')).toEqual([
      { key: 'mode', ts: T0 + 1, value: 'boost' },
      { key: 'temp', ts: T0 + 5000, value: 25 },
    ]);
    expect(await t.stores.telemetry.latest('t1', 'd3', ['temp'])).toEqual([{ key: 'temp', ts: T0 + 5000, value: 25 }]);
    expect(await t.stores.telemetry.latest('t2', 'd3')).toEqual([]);
    expect(await t.stores.telemetry.keysOf('t1', 'd3')).toEqual(['mode', 'temp']);
    // The fleet query reads the same row.
    const row = await t.conn.db.selectFrom('telemetry_latest').selectAll().where('device_id', '=', 'd3').where('key', '=', 'temp').executeTakeFirstOrThrow();
    expect({ ...row, ts: Number(row.ts) }).toEqual({ tenant_id: 't1', device_id: 'd3', key: 'temp', value_num: 25, value_str: null, value_bool: null, ts: T0 + 5000 });
  });

  describe('aggregates', () => {
    // Two hours of readings every 10 s on d4/x, written in several batches out of order,
    // plus strings and booleans on other keys.
    const points: PointToWrite[] = [];
    for (let i = 0; i < 720; i++) points.push(pt('d4', 'x', T0 + i * 10_000, Math.sin(i / 7) * 100 + (i % 13)));
    beforeAll(async () => {
      const shuffled = [...points].sort((a, b) => ((a.ts * 7919) % 1009) - ((b.ts * 7919) % 1009));
      for (let i = 0; i < shuffled.length; i += 97) await write(shuffled.slice(i, i + 97));
      await write([pt('d4', 's', T0, 'a'), pt('d4', 's', T0 + 30_000, 'b'), pt('d4', 's', T0 + 90_000, 'c')]);
      await write([pt('d4', 'b', T0, true), pt('d4', 'b', T0 + 10_000, false), pt('d4', 'b', T0 + 20_000, true), pt('d4', 'b', T0 + 30_000, true)]);
    });

    function expected(agg: Aggregate, intervalMs: number): Array<{ ts: number; value: number }> {
      const buckets = new Map<number, number[]>();
      for (const p of points) {
        const b = p.ts - (p.ts % intervalMs);
        buckets.set(b, [...(buckets.get(b) ?? []), p.value as number]);
      }
      return [...buckets.entries()].map(([ts, vs]) => {
        const sum = vs.reduce((a, b) => a + b, 0);
        const value = { avg: sum / vs.length, sum, min: Math.min(...vs), max: Math.max(...vs), count: vs.length, last: vs[vs.length - 1]! }[agg];
        return { ts, value };
      });
    }

    it.each([
      ['avg', 5 * MIN, 'rollup_1m'],
      ['sum', 2 * MIN, 'raw'],
      ['min', HOUR, 'rollup_1h'],
      ['max', 15 * MIN, 'rollup_1m'],
      ['count', HOUR, 'rollup_1m'],
      ['last', 10 * MIN, 'rollup_1m'],
      ['last', HOUR, 'rollup_1h'],
      ['last', 90_000, 'raw'],
      ['avg', 90_000, 'raw'],
    ] as const)('%s per %d ms from %s equals the aggregate of the raw points', async (agg, intervalMs, source) => {
      const got = await t.stores.telemetry.aggregate({ deviceId: 'd4', key: 'x', from: T0, to: T0 + 2 * HOUR, limit: 10_000, agg, intervalMs, source });
      const want = expected(agg, intervalMs);
      expect(got.map((b) => b.ts)).toEqual(want.map((b) => b.ts));
      got.forEach((b, i) => expect(b.value as number).toBeCloseTo(want[i]!.value, 9));
    });

    it('limits the buckets and reads only the range', async () => {
      const got = await t.stores.telemetry.aggregate({ deviceId: 'd4', key: 'x', from: T0 + HOUR, to: T0 + 2 * HOUR, limit: 3, agg: 'count', intervalMs: 10 * MIN, source: 'rollup_1m' });
      expect(got).toEqual([
        { ts: T0 + HOUR, value: 60 },
        { ts: T0 + HOUR + 10 * MIN, value: 60 },
        { ts: T0 + HOUR + 20 * MIN, value: 60 },
      ]);
    });

    it('counts strings, leaves their avg null and gives the last one', async () => {
      for (const source of ['raw', 'rollup_1m', 'rollup_1h'] as const) {
        const q = { deviceId: 'd4', key: 's', from: T0, to: T0 + HOUR, limit: 10, intervalMs: HOUR, source };
        expect(await t.stores.telemetry.aggregate({ ...q, agg: 'count' })).toEqual([{ ts: T0, value: 3 }]);
        expect(await t.stores.telemetry.aggregate({ ...q, agg: 'avg' })).toEqual([{ ts: T0, value: null }]);
        expect(await t.stores.telemetry.aggregate({ ...q, agg: 'last' })).toEqual([{ ts: T0, value: 'c' }]);
      }
    });

    it('aggregates booleans as 0/1', async () => {
      for (const source of ['raw', 'rollup_1m'] as const) {
        const q = { deviceId: 'd4', key: 'b', from: T0, to: T0 + HOUR, limit: 10, intervalMs: HOUR, source };
        expect(await t.stores.telemetry.aggregate({ ...q, agg: 'avg' })).toEqual([{ ts: T0, value: 0.75 }]);
        expect(await t.stores.telemetry.aggregate({ ...q, agg: 'last' })).toEqual([{ ts: T0, value: true }]);
      }
    });
  });

  it('rolls back every point of a batch when one device does not exist', async () => {
    // A foreign-key failure, told to core as a StoreError (it answers DEVICE_NOT_FOUND).
    await expect(write([pt('d5', 'a', T0, 1), pt('ghost', 'a', T0, 1)])).rejects.toMatchObject({ name: 'StoreError', reason: 'foreignKey' });
    expect(await t.stores.telemetry.range({ deviceId: 'd5', key: 'a', from: 0, to: T0 + HOUR, limit: 10, desc: false })).toEqual([]);
    expect(await t.stores.telemetry.latest('t1', 'd5')).toEqual([]);
  });

  it('writes a large batch in one go', async () => {
    const points: PointToWrite[] = [];
    for (let i = 0; i < 5_000; i++) points.push(pt('bulk', `k${i % 7}`, T0 + i, i));
    await write(points);
    const count = await t.stores.telemetry.aggregate({ deviceId: 'bulk', key: 'k3', from: T0, to: T0 + HOUR, limit: 10, agg: 'count', intervalMs: HOUR, source: 'rollup_1h' });
    expect(count).toEqual([{ ts: T0, value: 714 }]);
  });

  it('deletes old raw points and rollups in bounded chunks', async () => {
    await t.stores.devices.insert(device('old'));
    const points: PointToWrite[] = [];
    for (let i = 0; i < 50; i++) points.push(pt('old', 'v', T0 + i * MIN, i));
    await write(points);
    const series = { deviceId: 'old', key: 'v' };
    const cutoff = T0 + 30 * MIN;
    expect(await t.stores.telemetry.deleteRawBefore(series, cutoff, 20)).toBe(20);
    expect(await t.stores.telemetry.deleteRawBefore(series, cutoff, 20)).toBe(10);
    expect(await t.stores.telemetry.deleteRawBefore(series, cutoff, 20)).toBe(0);
    const left = await t.stores.telemetry.range({ deviceId: 'old', key: 'v', from: 0, to: T0 + HOUR, limit: 100, desc: false });
    expect(left[0]).toEqual({ ts: cutoff, value: 30 });
    expect(left).toHaveLength(20);
    // 1-minute buckets that ended by the cutoff (30 of them); the open hour bucket stays.
    expect(await t.stores.telemetry.deleteRollupsBefore(series, cutoff, 100)).toBe(30);
    const hours = await t.stores.telemetry.aggregate({ deviceId: 'old', key: 'v', from: T0, to: T0 + HOUR, limit: 10, agg: 'count', intervalMs: HOUR, source: 'rollup_1h' });
    expect(hours).toEqual([{ ts: T0, value: 50 }]);
  });

  it('pages through a tenant’s series', async () => {
    const first = await t.stores.telemetry.listSeries('t1', undefined, 3);
    expect(first).toEqual([
      { deviceId: 'bulk', key: 'k0' },
      { deviceId: 'bulk', key: 'k1' },
      { deviceId: 'bulk', key: 'k2' },
    ]);
    const all = [...first];
    for (let page = first; page.length === 3; ) {
      page = await t.stores.telemetry.listSeries('t1', page[page.length - 1], 3);
      all.push(...page);
    }
    expect(all.filter((s) => s.deviceId === 'd4').map((s) => s.key)).toEqual(['b', 's', 'x']);
    expect(new Set(all.map((s) => `${s.deviceId}/${s.key}`)).size).toBe(all.length);
    expect(await t.stores.telemetry.listSeries('t2', undefined, 10)).toEqual([]);
  });

  it('purges a device’s history in chunks and with DeviceStore.purgeData', async () => {
    await t.stores.devices.insert(device('p1'));
    await t.stores.devices.insert(device('p2'));
    await write([pt('p1', 'a', T0, 1), pt('p1', 'a', T0 + HOUR, 2), pt('p1', 'b', T0, 3), pt('p2', 'a', T0, 4)]);
    // Not compacted yet: the purge takes inbox rows too.
    await t.stores.transaction((tx) => tx.telemetry.writeBatch([pt('p1', 'c', T0, 5), pt('p2', 'c', T0, 6)]));
    await t.stores.devices.delete('t1', 'p1');
    expect(await t.stores.telemetry.orphanDevices(10)).toEqual(['p1']);
    let total = 0;
    for (let n = 1; n > 0; total += n) n = await t.stores.telemetry.purgeDeviceChunk('p1', 2);
    expect(await t.stores.telemetry.orphanDevices(10)).toEqual([]);
    expect(total).toBe(1 + 3 + 3 + 3); // inbox, raw, 1-minute and 1-hour rows
    expect(await t.stores.telemetry.range({ deviceId: 'p1', key: 'a', from: 0, to: T0 + 2 * HOUR, limit: 10, desc: false })).toEqual([]);
    await t.stores.transaction((tx) => tx.devices.purgeData('t1', 'p2'));
    expect(await t.stores.transaction((tx) => tx.telemetry.compactInbox(100))).toBe(0);
    expect(await t.stores.telemetry.range({ deviceId: 'p2', key: 'a', from: 0, to: T0 + 2 * HOUR, limit: 10, desc: false })).toEqual([]);
    expect(await t.stores.telemetry.aggregate({ deviceId: 'p2', key: 'a', from: T0, to: T0 + HOUR, limit: 10, agg: 'count', intervalMs: HOUR, source: 'rollup_1h' })).toEqual([]);
    expect(await t.stores.telemetry.aggregate({ deviceId: 'p2', key: 'a', from: T0, to: T0 + HOUR, limit: 10, agg: 'count', intervalMs: MIN, source: 'rollup_1m' })).toEqual([]);
    expect(await t.stores.telemetry.latest('t1', 'p2')).toEqual([]);
  });

  it('keeps a retention setting per tenant', async () => {
    expect(await t.stores.telemetry.getRetentionDays('t1')).toBeNull();
    await t.stores.telemetry.setRetentionDays('t1', 7, 10);
    await t.stores.telemetry.setRetentionDays('t1', 90, 11);
    expect(await t.stores.telemetry.getRetentionDays('t1')).toBe(90);
    expect(await t.stores.telemetry.listRetention()).toEqual([
      { tenantId: 't1', retentionDays: 90 },
      { tenantId: 't2', retentionDays: null },
    ]);
  });
});
