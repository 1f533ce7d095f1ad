import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PresencePeriod } from '../core/presence/ports.js';
import type { Device } from '../core/registry/device.js';
import { STORE_KINDS, openTestStore, type TestStore } from '../testing/test-store.js';

/** The presence store contract, on a SQLite file and a PostgreSQL schema. */
const T0 = 1_700_000_000_000;

function device(id: string, tenantId = 't1'): Device {
  return { id, tenantId, type: 'sensor', status: 'active', tags: {}, attributes: {}, firmwareVersion: null, online: false, lastSeen: null, createdAt: T0, updatedAt: T0 };
}

function period(deviceId: string, sessionId: string, over: Partial<PresencePeriod> = {}): PresencePeriod {
  return { sessionId, tenantId: 't1', deviceId, kind: 'session', nodeId: 'n1', protocol: 'mqtt', remoteAddress: '10.0.0.1', connectedAt: T0, ...over };
}

describe.each(STORE_KINDS)('presence store contract on %s', (kind) => {
  let t: TestStore;

  beforeAll(async () => {
    t = await openTestStore(kind);
    await t.stores.tenancy.insertTenant({ id: 't1', name: 'One', createdAt: 1 });
    await t.stores.tenancy.insertTenant({ id: 't2', name: 'Two', createdAt: 2 });
  });
  afterAll(async () => {
    await t?.cleanup();
  });

  it('knows a device that never connected as offline, and no device as undefined', async () => {
    await t.stores.devices.insert(device('p-new'));
    expect(await t.stores.presence.get('t1', 'p-new')).toEqual({
      tenantId: 't1',
      deviceId: 'p-new',
      status: 'active',
      online: false,
      lastSeen: null,
      current: null,
      protocol: null,
      remoteAddress: null,
      disconnectedAt: null,
      disconnectReason: null,
    });
    expect(await t.stores.presence.get('t2', 'p-new')).toBeUndefined();
    expect(await t.stores.presence.get('t1', 'nope')).toBeUndefined();
  });

  it('begins a period: online, lastSeen, current period and an open history row', async () => {
    await t.stores.devices.insert(device('p-begin'));
    const p = period('p-begin', 'S1', { connectedAt: T0 + 10 });
    await t.stores.transaction(async (tx) => {
      expect((await tx.presence.get('t1', 'p-begin', { forUpdate: true }))?.current).toBeNull();
      await tx.presence.begin(p);
    });
    const got = await t.stores.presence.get('t1', 'p-begin');
    expect(got).toMatchObject({ online: true, lastSeen: T0 + 10, current: p, protocol: 'mqtt', remoteAddress: '10.0.0.1', disconnectedAt: null });
    expect((await t.stores.devices.get('t1', 'p-begin'))?.online).toBe(true);
    expect(await t.stores.presence.history('t1', 'p-begin', undefined, 10)).toEqual([{ ...p, disconnectedAt: null, reason: null }]);
  });

  it('never moves lastSeen backwards when a period begins', async () => {
    await t.stores.devices.insert(device('p-back'));
    await t.stores.presence.markSeen([{ tenantId: 't1', deviceId: 'p-back', at: T0 + 500 }]);
    await t.stores.presence.begin(period('p-back', 'B1', { connectedAt: T0 + 100 }));
    expect((await t.stores.presence.get('t1', 'p-back'))?.lastSeen).toBe(T0 + 500);
  });

  it('ends only the current period; a stale id changes nothing', async () => {
    await t.stores.devices.insert(device('p-end'));
    await t.stores.presence.begin(period('p-end', 'E1'));
    await t.stores.presence.begin(period('p-end', 'E2', { connectedAt: T0 + 1, remoteAddress: '10.0.0.2' }));
    expect(await t.stores.presence.end('t1', 'p-end', 'E1', T0 + 5, 'taken over')).toBe(false);
    expect(await t.stores.presence.get('t1', 'p-end')).toMatchObject({ online: true, current: { sessionId: 'E2' } });
    expect(await t.stores.presence.end('t2', 'p-end', 'E2', T0 + 6, 'wrong tenant')).toBe(false);
    expect(await t.stores.presence.end('t1', 'p-end', 'E2', T0 + 7, 'keep-alive timeout')).toBe(true);
    expect(await t.stores.presence.get('t1', 'p-end')).toMatchObject({
      online: false,
      current: null,
      protocol: 'mqtt',
      remoteAddress: '10.0.0.2',
      disconnectedAt: T0 + 7,
      disconnectReason: 'keep-alive timeout',
    });
  });

  it('closes a history row once, and only on its own device', async () => {
    await t.stores.devices.insert(device('p-close'));
    await t.stores.presence.begin(period('p-close', 'C1'));
    expect(await t.stores.presence.close('t1', 'other-device', 'C1', T0 + 1, 'x')).toBe(false);
    expect(await t.stores.presence.close('t1', 'p-close', 'C1', T0 + 2, 'client disconnect')).toBe(true);
    expect(await t.stores.presence.close('t1', 'p-close', 'C1', T0 + 3, 'again')).toBe(false);
    expect(await t.stores.presence.close('t1', 'p-close', 'unknown', T0 + 3, 'x')).toBe(false);
    const [row] = await t.stores.presence.history('t1', 'p-close', undefined, 10);
    expect(row).toMatchObject({ sessionId: 'C1', disconnectedAt: T0 + 2, reason: 'client disconnect' });
  });

  it('records a period that does not become current', async () => {
    await t.stores.devices.insert(device('p-rec'));
    await t.stores.presence.begin(period('p-rec', 'R2'));
    await t.stores.presence.record(period('p-rec', 'R1', { nodeId: 'n2' }));
    expect((await t.stores.presence.get('t1', 'p-rec'))?.current?.sessionId).toBe('R2');
    expect((await t.stores.presence.history('t1', 'p-rec', undefined, 10)).map((r) => r.sessionId)).toEqual(['R2', 'R1']);
  });

  it('marks lastSeen of many devices in one call, never backwards, ignoring unknown ones', async () => {
    const ids = Array.from({ length: 4500 }, (_, i) => `seen-${String(i).padStart(4, '0')}`);
    await t.stores.devices.insertMany(ids.map((id) => device(id)));
    await t.stores.presence.markSeen([{ tenantId: 't1', deviceId: 'seen-0001', at: T0 + 9000 }]);
    await t.stores.presence.markSeen([
      ...ids.map((id, i) => ({ tenantId: 't1', deviceId: id, at: T0 + i })),
      { tenantId: 't1', deviceId: 'no-such-device', at: T0 },
      // Another tenant's id does not touch this tenant's device.
      { tenantId: 't2', deviceId: 'seen-0002', at: T0 + 99_999 },
    ]);
    expect((await t.stores.devices.get('t1', 'seen-0000'))?.lastSeen).toBe(T0);
    expect((await t.stores.devices.get('t1', 'seen-0001'))?.lastSeen).toBe(T0 + 9000);
    expect((await t.stores.devices.get('t1', 'seen-0002'))?.lastSeen).toBe(T0 + 2);
    expect((await t.stores.devices.get('t1', 'seen-4499'))?.lastSeen).toBe(T0 + 4499);
    expect((await t.stores.devices.get('t1', 'seen-4499'))?.online).toBe(false);
    await t.stores.presence.markSeen([]);
  });

  it('resets only one node: its periods end at the last sign of life, history closed, others untouched', async () => {
    for (const id of ['r-a', 'r-b', 'r-c', 'r-orphan']) await t.stores.devices.insert(device(id));
    await t.stores.presence.begin(period('r-a', 'RA1', { nodeId: 'dead', connectedAt: T0 + 100 }));
    await t.stores.presence.markSeen([{ tenantId: 't1', deviceId: 'r-a', at: T0 + 700 }]);
    // r-b: an older session of the dead node that never got its disconnect, then the current one.
    await t.stores.presence.record(period('r-b', 'RB0', { nodeId: 'dead', connectedAt: T0 + 50 }));
    await t.stores.presence.begin(period('r-b', 'RB1', { nodeId: 'dead', kind: 'activity', protocol: 'http', connectedAt: T0 + 200 }));
    await t.stores.presence.begin(period('r-c', 'RC1', { nodeId: 'alive', connectedAt: T0 + 300 }));
    await t.conn.db.updateTable('devices').set({ online: 1 }).where('id', '=', 'r-orphan').execute();

    const ended = await t.stores.transaction((tx) => tx.presence.resetNode('dead', 'server restart', null, { orphans: true }));
    expect(ended.map((e) => [e.deviceId, e.sessionId, e.protocol, e.disconnectedAt]).sort()).toEqual([
      ['r-a', 'RA1', 'mqtt', T0 + 700],
      ['r-b', 'RB1', 'http', T0 + 200],
    ]);
    expect(await t.stores.presence.get('t1', 'r-a')).toMatchObject({ online: false, current: null, disconnectedAt: T0 + 700, disconnectReason: 'server restart' });
    expect(await t.stores.presence.get('t1', 'r-b')).toMatchObject({ online: false, current: null, disconnectedAt: T0 + 200 });
    expect(await t.stores.presence.get('t1', 'r-c')).toMatchObject({ online: true, current: { sessionId: 'RC1' } });
    expect((await t.stores.devices.get('t1', 'r-orphan'))?.online).toBe(false);
    const rb = await t.stores.presence.history('t1', 'r-b', undefined, 10);
    expect(rb.map((r) => [r.sessionId, r.disconnectedAt, r.reason])).toEqual([
      ['RB1', T0 + 200, 'server restart'],
      // Its device's last sign of life, not its own start: the device was there until then.
      ['RB0', T0 + 200, 'server restart'],
    ]);
    expect((await t.stores.presence.history('t1', 'r-c', undefined, 10))[0]?.disconnectedAt).toBeNull();

    // A graceful stop names the moment.
    const stopped = await t.stores.presence.resetNode('alive', 'server shutdown', T0 + 999);
    expect(stopped.map((e) => [e.deviceId, e.disconnectedAt])).toEqual([['r-c', T0 + 999]]);
    expect(await t.stores.presence.resetNode('alive', 'server shutdown', T0 + 1000)).toEqual([]);
  });

  it('pages history newest first, scoped by tenant', async () => {
    await t.stores.devices.insert(device('h-dev'));
    const ids = ['000000000000001-0000-n1', '000000000000001-0001-n1', '000000000000002-0000-n1', '000000000000010-0000-n1'];
    for (const id of ids) await t.stores.presence.record(period('h-dev', id));
    const first = await t.stores.presence.history('t1', 'h-dev', undefined, 3);
    expect(first.map((r) => r.sessionId)).toEqual([ids[3], ids[2], ids[1]]);
    expect((await t.stores.presence.history('t1', 'h-dev', ids[1], 3)).map((r) => r.sessionId)).toEqual([ids[0]]);
    expect(await t.stores.presence.history('t2', 'h-dev', undefined, 3)).toEqual([]);
  });

  it('trims closed history beyond the newest rows, keeping open ones', async () => {
    await t.stores.devices.insert(device('trim-dev'));
    for (let i = 0; i < 6; i++) {
      const id = `00000000000000${i}-0000-trim`;
      await t.stores.presence.record(period('trim-dev', id));
      if (i !== 0) await t.stores.presence.close('t1', 'trim-dev', id, T0 + i, 'gone');
    }
    expect(await t.stores.presence.trimHistory('t1', 'trim-dev', 3)).toBe(2);
    // The oldest stays: it is still open.
    expect((await t.stores.presence.history('t1', 'trim-dev', undefined, 10)).map((r) => r.sessionId.slice(0, 15))).toEqual(['000000000000005', '000000000000004', '000000000000003', '000000000000000']);
    expect(await t.stores.presence.trimHistory('t1', 'trim-dev', 3)).toBe(0);
    expect(await t.stores.presence.trimHistory('t1', 'no-rows', 3)).toBe(0);
  });

  it('forgets presence and history with the device', async () => {
    await t.stores.devices.insert(device('gone-dev'));
    await t.stores.presence.begin(period('gone-dev', 'G1'));
    await t.stores.devices.delete('t1', 'gone-dev');
    expect(await t.stores.presence.get('t1', 'gone-dev')).toBeUndefined();
    expect(await t.stores.presence.history('t1', 'gone-dev', undefined, 10)).toEqual([]);
    expect(await t.stores.presence.close('t1', 'gone-dev', 'G1', T0, 'x')).toBe(false);
    expect(await t.stores.presence.end('t1', 'gone-dev', 'G1', T0, 'x')).toBe(false);
  });
});
