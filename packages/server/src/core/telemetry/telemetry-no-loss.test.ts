import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InProcessEventBus } from '../../bus/event-bus.js';
import { STORE_KINDS, openTestStore, type TestStore } from '../../testing/test-store.js';
import { systemPrincipal } from '../tenancy/principal.js';
import { TelemetryService } from './telemetry-service.js';

const T0 = Date.UTC(2026, 0, 15, 10, 0, 0);
const json = (v: unknown): Uint8Array => Buffer.from(JSON.stringify(v));
const ident = { tenantId: 't1', deviceId: 'burst', credentialId: 'c' };

/** Acknowledged means stored: readings without their own time, sent within one millisecond, are all kept. */
describe.each(STORE_KINDS)('telemetry without device timestamps on %s', (kind) => {
  let t: TestStore;
  beforeAll(async () => {
    t = await openTestStore(kind);
    await t.stores.tenancy.insertTenant({ id: 't1', name: 'One', createdAt: 1 });
    await t.stores.devices.insert({ id: 'burst', tenantId: 't1', type: 'sensor', status: 'active', tags: {}, attributes: {}, firmwareVersion: null, online: false, lastSeen: null, createdAt: 1, updatedAt: 1 });
  });
  afterAll(async () => t?.cleanup());

  it('keeps every acknowledged reading of a burst in the same millisecond, in arrival order', async () => {
    const svc = new TelemetryService(t.stores, new InProcessEventBus(), pino({ level: 'silent' }), { now: () => T0, rateLimit: false });
    const acks = await Promise.all(Array.from({ length: 20 }, (_, i) => svc.ingest(ident, json({ seq: i }), 'json')));
    expect(acks.every((a) => a.accepted === 1)).toBe(true);
    const history = await svc.series({ principal: systemPrincipal('t1') }, 'burst', { keys: 'seq', from: String(T0 - 1000), to: String(T0 + 1000) });
    expect(history.series[0]!.points.map((p) => p.value)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect((await svc.latest({ principal: systemPrincipal('t1') }, 'burst'))[0]).toMatchObject({ key: 'seq', value: 19 });
    await svc.close();
  });
});
