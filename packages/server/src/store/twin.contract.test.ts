import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DomainEvent } from '../bus/events.js';
import { STORE_KINDS } from '../testing/test-store.js';
import { startTestHangar, type TestHangar } from '../testing/test-hangar.js';

describe.each(STORE_KINDS)('the twin store on %s', (kind) => {
  let t: TestHangar;

  beforeAll(async () => {
    t = await startTestHangar(kind);
    for (const id of ['tc-1', 'tc-2', 'tc-3']) await t.call('POST', '/api/v1/devices', { body: { id } });
  });
  afterAll(async () => {
    await t.close();
  });

  it('writes a half only while its version is the one the writer read', async () => {
    const twins = t.hangar.stores.twins;
    const half = (version: number, v: number): { version: number; properties: Record<string, unknown>; metadata: Record<string, unknown> } => ({ version, properties: { v }, metadata: {} });
    expect(await twins.writeHalf('default', 'tc-1', 'desired', half(1, 1), 0, 1000)).toBe(true);
    expect(await twins.writeHalf('default', 'tc-1', 'desired', half(1, 2), 0, 1001)).toBe(false);
    expect(await twins.writeHalf('default', 'tc-1', 'reported', half(1, 3), 0, 1002)).toBe(true);
    expect(await twins.writeHalf('default', 'tc-1', 'desired', half(2, 4), 1, 1003)).toBe(true);
    expect(await twins.writeHalf('default', 'tc-1', 'desired', half(2, 5), 1, 1004)).toBe(false);
    expect(await twins.get('default', 'tc-1')).toEqual({ desired: half(2, 4), reported: half(1, 3), updatedAt: 1003 });
    expect(await twins.get('other', 'tc-1')).toBeUndefined();
  });

  it('loses no update when devices and operators write the same twin concurrently', async () => {
    const writers = 8;
    await Promise.all(Array.from({ length: writers }, (_, i) => t.hangar.services.twins.patchReported('default', 'tc-2', { [`k${i}`]: i })));
    const stored = await t.hangar.stores.twins.get('default', 'tc-2');
    expect(stored?.reported.version).toBe(writers);
    expect(stored?.reported.properties).toEqual(Object.fromEntries(Array.from({ length: writers }, (_, i) => [`k${i}`, i])));
    await Promise.all(Array.from({ length: writers }, (_, i) => t.call('PATCH', '/api/v1/devices/tc-2/twin', { body: { desired: { [`d${i}`]: i } } })));
    const read = await t.call('GET', '/api/v1/devices/tc-2/twin');
    expect(read.body.desired.$version).toBe(writers);
    expect(Object.keys(read.body.desired).filter((k) => !k.startsWith('$')).sort()).toEqual(Array.from({ length: writers }, (_, i) => `d${i}`).sort());
  });

  it('publishes twin.desired.changed and twin.reported.changed after each write, none for a refused one', async () => {
    const seen: DomainEvent[] = [];
    const stop = t.hangar.bus.subscribeAll((e) => {
      if (e.type.startsWith('twin.')) seen.push(e);
    });
    try {
      await t.call('PATCH', '/api/v1/devices/tc-3/twin', { body: { desired: { a: 1 } } });
      await t.hangar.services.twins.patchReported('default', 'tc-3', { a: 1 });
      await t.call('PATCH', '/api/v1/devices/tc-3/twin', { body: { desired: { a: 2 } }, headers: { 'if-match': '"9-9"' } });
      await new Promise((r) => setImmediate(r));
      expect(seen).toEqual([
        { type: 'twin.desired.changed', tenantId: 'default', deviceId: 'tc-3', version: 1 },
        { type: 'twin.reported.changed', tenantId: 'default', deviceId: 'tc-3', version: 1 },
      ]);
    } finally {
      stop();
    }
  });
});
