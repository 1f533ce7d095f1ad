import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InProcessEventBus } from '../../bus/event-bus.js';
import type { EventOf } from '../../bus/events.js';
import type { HangarError } from '../../errors.js';
import { STORE_KINDS, openTestStore, type TestStore } from '../../testing/test-store.js';
import type { Device } from '../registry/device.js';
import { DeviceService } from '../registry/device-service.js';
import { INLINE_PURGE_ROWS } from './device-history.js';
import { systemPrincipal } from '../tenancy/principal.js';
import { TelemetryService } from './telemetry-service.js';

const T0 = Date.UTC(2026, 0, 15, 10, 0, 0);
const DAY = 86_400_000;
const logger = pino({ level: 'silent' });
const json = (v: unknown): Uint8Array => Buffer.from(JSON.stringify(v));
const ident = (deviceId: string, tenantId = 't1') => ({ tenantId, deviceId, credentialId: 'c' });
const ctx = (tenantId = 't1') => ({ principal: systemPrincipal(tenantId) });

function device(id: string, tenantId = 't1'): Device {
  return { id, tenantId, type: 'sensor', status: 'active', tags: {}, attributes: {}, firmwareVersion: null, online: false, lastSeen: null, createdAt: 1, updatedAt: 1 };
}

describe.each(STORE_KINDS)('telemetry service on %s', (kind) => {
  let t: TestStore;
  let clock = T0;
  const now = (): number => clock;

  beforeAll(async () => {
    t = await openTestStore(kind);
    await t.stores.tenancy.insertTenant({ id: 't1', name: 'One', createdAt: 1 });
    await t.stores.tenancy.insertTenant({ id: 't2', name: 'Two', createdAt: 2 });
    for (let i = 0; i < 50; i++) await t.stores.devices.insert(device(`dev-${i}`));
    for (const id of ['flood', 'calm', 'gone', 'stays', 'old-1', 'del-1', 'q-1']) await t.stores.devices.insert(device(id));
    await t.stores.devices.insert(device('old-2', 't2'));
  });
  afterAll(async () => {
    await t?.cleanup();
  });

  function service(options: ConstructorParameters<typeof TelemetryService>[3] = {}) {
    const bus = new InProcessEventBus(logger);
    return { bus, svc: new TelemetryService(t.stores, bus, logger, { now, ...options }) };
  }

  it('acknowledges only stored readings: once ingest resolves, they are queryable', async () => {
    const { svc } = service();
    expect(await svc.ingest(ident('dev-0'), json({ temp: 21.5, door: 'open' }), 'json')).toEqual({ accepted: 2 });
    expect(await svc.latest(ctx(), 'dev-0')).toEqual([
      { key: 'door', ts: T0, value: 'open' },
      { key: 'temp', ts: T0, value: 21.5 },
    ]);
    await svc.close();
  });

  it('writes concurrent messages of many devices in few transactions and publishes one event per device', async () => {
    const { svc, bus } = service({ writer: { lingerMs: 5 } });
    const events: Array<EventOf<'telemetry.received'>> = [];
    bus.subscribe('telemetry.received', (e) => void events.push(e));
    let transactions = 0;
    const original = t.stores.transaction.bind(t.stores);
    t.stores.transaction = ((work) => {
      transactions += 1;
      return original(work);
    }) as typeof t.stores.transaction;
    try {
      const calls = [];
      for (let i = 0; i < 50; i++) {
        calls.push(svc.ingest(ident(`dev-${i}`), json([{ ts: T0 - 2000, values: { a: i } }, { ts: T0 - 1000, values: { a: i + 1, b: true } }]), 'json'));
      }
      expect(await Promise.all(calls)).toEqual(Array.from({ length: 50 }, () => ({ accepted: 3 })));
    } finally {
      t.stores.transaction = original;
    }
    expect(transactions).toBeLessThanOrEqual(2);
    await new Promise((r) => setTimeout(r, 10));
    expect(events).toHaveLength(50);
    expect(events.find((e) => e.deviceId === 'dev-7')).toEqual({ type: 'telemetry.received', tenantId: 't1', deviceId: 'dev-7', ts: T0 - 1000, values: { a: 8, b: true } });
    await svc.close();
  });

  it('refuses a bad payload and stores nothing of it', async () => {
    const { svc } = service();
    await expect(svc.ingest(ident('dev-1'), json({ good: 1, bad: { nested: true } }), 'json')).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    await expect(svc.ingest(ident('dev-1'), Buffer.alloc(300 * 1024, 0x20), 'json')).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    expect(await svc.latest(ctx(), 'dev-1', ['good'])).toEqual([]);
    await svc.close();
  });

  it('rate-limits a flooding device without touching the others', async () => {
    const { svc } = service({ rateLimit: { perSecond: 10, burst: 20 } });
    const results = await Promise.allSettled(Array.from({ length: 30 }, (_, i) => svc.ingest(ident('flood'), json({ n: i }), 'json')));
    const refused = results.filter((r) => r.status === 'rejected');
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(20);
    expect(refused).toHaveLength(10);
    const reason = (refused[0] as PromiseRejectedResult).reason as HangarError;
    expect(reason.code).toBe('RATE_LIMITED');
    expect(reason.message).toMatch(/retry in 100 ms/);
    await expect(svc.ingest(ident('calm'), json({ n: 1 }), 'json')).resolves.toEqual({ accepted: 1 });
    clock += 1000; // ten tokens come back
    await expect(svc.ingest(ident('flood'), json({ n: 99 }), 'json')).resolves.toEqual({ accepted: 1 });
    clock = T0;
    await svc.close();
  });

  it('fails only the callers of a device deleted before the write; the rest of the batch is stored', async () => {
    const { svc } = service({ writer: { lingerMs: 20 } });
    const ok = svc.ingest(ident('stays'), json({ v: 1 }), 'json');
    const lost = svc.ingest(ident('gone'), json({ v: 2 }), 'json');
    await t.stores.devices.delete('t1', 'gone');
    await expect(lost).rejects.toMatchObject({ code: 'DEVICE_NOT_FOUND' });
    await expect(ok).resolves.toEqual({ accepted: 1 });
    expect(await svc.latest(ctx(), 'stays')).toEqual([{ key: 'v', ts: T0, value: 1 }]);
    await svc.close();
  });

  it('writes what it accepted when closed, then refuses more', async () => {
    const { svc } = service({ writer: { lingerMs: 10_000 } });
    const pending = svc.ingest(ident('dev-2'), json({ late: 1 }), 'json');
    await svc.close();
    await expect(pending).resolves.toEqual({ accepted: 1 });
    await expect(svc.ingest(ident('dev-2'), json({ late: 2 }), 'json')).rejects.toMatchObject({ code: 'NOT_READY' });
  });

  it('answers raw points and buckets, and refuses bad queries clearly', async () => {
    const { svc } = service({ rateLimit: false });
    for (let i = 0; i < 10; i++) await svc.ingest(ident('q-1'), json({ ts: T0 - 600_000 + i * 60_000, values: { t: i } }), 'json');
    const raw = await svc.series(ctx(), 'q-1', { keys: 't', from: String(T0 - DAY), to: new Date(T0).toISOString(), limit: 3 });
    expect(raw.series).toEqual([{ key: 't', points: [{ ts: T0 - 600_000, value: 0 }, { ts: T0 - 540_000, value: 1 }, { ts: T0 - 480_000, value: 2 }], truncated: true }]);
    const avg = await svc.series(ctx(), 'q-1', { keys: 't', agg: 'avg', interval: '5m', from: String(T0 - 600_000), to: String(T0) });
    expect(avg).toMatchObject({ source: 'rollup_1m', intervalMs: 300_000, series: [{ key: 't', points: [{ ts: T0 - 600_000, value: 2 }, { ts: T0 - 300_000, value: 7 }] }] });
    const all = await svc.series(ctx(), 'q-1', {});
    expect(all.series.map((s) => s.key)).toEqual(['t']);
    await expect(svc.series(ctx(), 'nope', {})).rejects.toMatchObject({ code: 'DEVICE_NOT_FOUND' });
    await expect(svc.series(ctx('t2'), 'q-1', {})).rejects.toMatchObject({ code: 'DEVICE_NOT_FOUND' });
    await expect(svc.series(ctx(), 'q-1', { agg: 'median', interval: '1m' })).rejects.toThrow(/unknown agg "median"/);
    await svc.close();
  });

  it('deletes history past each tenant’s retention, keeping latest values', async () => {
    const { svc } = service({ rateLimit: false, retention: { chunk: 2 } });
    clock = T0 - 40 * DAY;
    await svc.ingest(ident('old-1'), json({ v: 1 }), 'json');
    await svc.ingest(ident('old-2', 't2'), json({ v: 1 }), 'json');
    clock = T0 - 10 * DAY;
    for (let i = 0; i < 5; i++) await svc.ingest(ident('old-1'), json({ ts: clock + i, values: { v: 2 } }), 'json');
    await svc.ingest(ident('old-2', 't2'), json({ v: 2 }), 'json');
    clock = T0;
    await svc.updateSettings(ctx(), { retentionDays: 7 });
    await expect(svc.updateSettings(ctx(), { retentionDays: 0 })).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(await svc.settings(ctx())).toMatchObject({ retentionDays: 7 });
    expect(await svc.settings(ctx('t2'))).toMatchObject({ retentionDays: 30 });
    const { deleted } = await svc.runRetention();
    expect(deleted).toBeGreaterThanOrEqual(6 + 1); // t1: 6 raw points + rollups; t2: the 40-day-old point + rollups
    const left1 = await t.stores.telemetry.range({ deviceId: 'old-1', key: 'v', from: 0, to: T0, limit: 100, desc: false });
    const left2 = await t.stores.telemetry.range({ deviceId: 'old-2', key: 'v', from: 0, to: T0, limit: 100, desc: false });
    expect(left1).toEqual([]);
    expect(left2).toEqual([{ ts: T0 - 10 * DAY, value: 2 }]);
    expect(await svc.latest(ctx(), 'old-1')).toHaveLength(1);
    await svc.close();
  });

  it('refuses, and stores nothing of, a payload that repeats a key without its own ts', async () => {
    const { svc } = service({ rateLimit: false });
    await t.stores.devices.insert(device('dup-1'));
    await expect(svc.ingest(ident('dup-1'), json([{ temp: 1 }, { temp: 2 }]), 'json')).rejects.toMatchObject({ code: 'VALIDATION_FAILED', message: expect.stringMatching(/\[1\]: key "temp"/) });
    await expect(svc.ingest(ident('dup-1'), json([{ n: 'temp', v: 1 }, { n: 'temp', v: 2 }]), 'senml+json')).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(await svc.latest(ctx(), 'dup-1')).toEqual([]);
    expect(await svc.ingest(ident('dup-1'), json([{ ts: T0 - 1, values: { temp: 1 } }, { temp: 2 }]), 'json')).toEqual({ accepted: 2 });
    await svc.compactNow();
    const stored = await t.stores.telemetry.range({ deviceId: 'dup-1', key: 'temp', from: 0, to: T0 + 1000, limit: 10, desc: false });
    expect(stored.map((p) => p.value)).toEqual([1, 2]);
    await svc.close();
  });

  it('purges the history of a deleted device', async () => {
    const { svc, bus } = service({ rateLimit: false, retention: { chunk: 1 } });
    svc.start();
    await svc.ingest(ident('del-1'), json([{ ts: T0 - 1000, values: { a: 1, b: 2 } }, { a: 3 }]), 'json');
    await t.stores.devices.delete('t1', 'del-1');
    bus.publish({ type: 'device.deleted', tenantId: 't1', deviceId: 'del-1' });
    await expect.poll(() => t.stores.telemetry.orphanDevices(10), { timeout: 10_000 }).toEqual([]);
    await svc.close();
    for (const key of ['a', 'b']) expect(await t.stores.telemetry.range({ deviceId: 'del-1', key, from: 0, to: T0 + 1, limit: 10, desc: false })).toEqual([]);
  });

  it('finishes, in a retention pass, the purge of a device deleted while no purge ran', async () => {
    const { svc } = service({ rateLimit: false });
    await t.stores.devices.insert(device('del-2'));
    await svc.ingest(ident('del-2'), json({ a: 1 }), 'json');
    await t.stores.devices.delete('t1', 'del-2');
    await svc.compactNow();
    expect(await t.stores.telemetry.orphanDevices(10)).toEqual(['del-2']);
    await svc.runRetention();
    expect(await t.stores.telemetry.orphanDevices(10)).toEqual([]);
    expect(await t.stores.telemetry.range({ deviceId: 'del-2', key: 'a', from: 0, to: T0 + 1, limit: 10, desc: false })).toEqual([]);
    await svc.close();
  });

  describe('a device id used again after a deletion', () => {
    const registry = () => new DeviceService(t.stores, now);
    const everything = (deviceId: string, key: string) => t.stores.telemetry.range({ deviceId, key, from: 0, to: T0 + DAY, limit: 100_000, desc: false });

    it('is free at once when the history was small: the deletion removed it in its own transaction', async () => {
      const { svc } = service({ rateLimit: false });
      await registry().create(ctx(), { id: 'reuse-1' });
      await svc.ingest(ident('reuse-1'), json([{ ts: T0 - 2000, values: { temp: 1 } }, { ts: T0 - 1000, values: { temp: 2 } }]), 'json');
      await svc.compactNow();
      await svc.ingest(ident('reuse-1'), json({ ts: T0 - 500, values: { temp: 3 } }), 'json'); // still in the inbox
      // No purge runs in the background here: what the deletion leaves stays.
      await registry().delete(ctx(), 'reuse-1');
      expect(await t.stores.telemetry.hasHistory('reuse-1')).toBe(false);

      await registry().create(ctx('t2'), { id: 'reuse-1' });
      await svc.compactNow();
      expect(await everything('reuse-1', 'temp')).toEqual([]);
      expect(await svc.latest(ctx('t2'), 'reuse-1')).toEqual([]);
      expect((await svc.series(ctx('t2'), 'reuse-1', { from: String(T0 - DAY), to: String(T0 + 1) })).series).toEqual([]);
      await svc.close();
    });

    it('is refused (409) while a large history is still being purged, and free once the purge is done', async () => {
      const { svc } = service({ rateLimit: false });
      await registry().create(ctx(), { id: 'reuse-2' });
      const readings = INLINE_PURGE_ROWS + 500;
      for (let at = 0; at < readings; at += 1000) {
        const batch = Array.from({ length: Math.min(1000, readings - at) }, (_, i) => ({ ts: T0 - 3 * DAY + (at + i) * 1000, values: { v: at + i } }));
        await svc.ingest(ident('reuse-2'), json(batch), 'json');
      }
      await svc.compactNow();
      await registry().delete(ctx(), 'reuse-2');
      expect(await t.stores.telemetry.hasHistory('reuse-2')).toBe(true);

      const refused = registry().create(ctx('t2'), { id: 'reuse-2' });
      await expect(refused).rejects.toMatchObject({ code: 'DEVICE_EXISTS', status: 409, message: expect.stringMatching(/cannot be reused yet: .* still being purged; retry in a few minutes/) });
      expect(await t.stores.devices.get('t2', 'reuse-2')).toBeUndefined();

      // The retention pass (a minute after start, then hourly) finishes what no purge did.
      await svc.runRetention();
      expect(await t.stores.telemetry.hasHistory('reuse-2')).toBe(false);
      await registry().create(ctx('t2'), { id: 'reuse-2' });
      expect(await everything('reuse-2', 'v')).toEqual([]);
      await svc.close();
    });

    it('is left alone by a purge still running when it is created again', async () => {
      const { svc, bus } = service({ rateLimit: false });
      await t.stores.devices.insert(device('reuse-3'));
      await svc.ingest(ident('reuse-3'), json({ ts: T0 - 5000, values: { old: 1 } }), 'json');
      await svc.compactNow();
      // The store-level race the creation check cannot see: deleted, then created again before the purge ran.
      await t.stores.devices.delete('t1', 'reuse-3');
      await t.stores.devices.insert(device('reuse-3', 't2'));
      await svc.ingest(ident('reuse-3', 't2'), json({ ts: T0 - 1000, values: { fresh: 2 } }), 'json');
      await svc.compactNow();

      svc.start();
      bus.publish({ type: 'device.deleted', tenantId: 't1', deviceId: 'reuse-3' });
      await new Promise((resolve) => setImmediate(resolve));
      await svc.close(); // waits for the purge
      expect(await everything('reuse-3', 'fresh')).toEqual([{ ts: T0 - 1000, value: 2 }]);
    });
  });
});
