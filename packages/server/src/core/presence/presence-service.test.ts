import pino from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { InProcessEventBus } from '../../bus/event-bus.js';
import type { DomainEvent } from '../../bus/events.js';
import { STORE_KINDS, openTestStore, type TestStore } from '../../testing/test-store.js';
import type { CallContext } from '../context.js';
import type { DeviceIdentity } from '../identity/device-authenticator.js';
import { deviceQuery, parseFleetQuery } from '../query/index.js';
import type { Device } from '../registry/device.js';
import { PresenceService, type PresenceOptions } from './presence-service.js';

const T0 = Date.UTC(2025, 0, 15, 12, 0, 0);
const MIN = 60_000;
const WINDOW = 5 * MIN;
const viewer: CallContext = { principal: { tenantId: 'tp', type: 'api_key', id: 'k', name: 'viewer', role: 'viewer' } };

let counter = 0;
/** A fresh device per test, so tests on one store stay independent. */
function newDeviceId(): string {
  counter += 1;
  return `pd-${counter}`;
}

function identity(deviceId: string): DeviceIdentity {
  return { tenantId: 'tp', deviceId, credentialId: 'cred' };
}

function device(id: string): Device {
  return { id, tenantId: 'tp', type: 'sensor', status: 'active', tags: {}, attributes: {}, firmwareVersion: null, online: false, lastSeen: null, createdAt: T0, updatedAt: T0 };
}

/** Lets the bus deliver what was published (its handlers run after the publisher's stack). */
const delivered = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe.each(STORE_KINDS)('presence on %s', (kind) => {
  let t: TestStore;
  let clock: number;
  let bus: InProcessEventBus;
  let events: DomainEvent[];
  let presence: PresenceService;
  const started: PresenceService[] = [];

  function makePresence(options: PresenceOptions = {}): PresenceService {
    const p = new PresenceService(t.stores, bus, {
      now: () => clock,
      activityWindowMs: WINDOW,
      // The tests drive flush and sweep themselves; the timers never fire within a test.
      flushIntervalMs: 3_600_000,
      sweepIntervalMs: 3_600_000,
      logger: pino({ level: 'silent' }),
      ...options,
    });
    started.push(p);
    return p;
  }

  async function addDevice(): Promise<string> {
    const id = newDeviceId();
    await t.stores.devices.insert(device(id));
    return id;
  }

  async function eventsOf(deviceId: string): Promise<Array<{ type: string; sessionId: string; reason?: string; protocol: string; at: number }>> {
    await delivered();
    return events
      .filter((e): e is Extract<DomainEvent, { type: 'device.connected' | 'device.disconnected' }> => (e.type === 'device.connected' || e.type === 'device.disconnected') && e.deviceId === deviceId)
      .map((e) => ({ type: e.type, sessionId: e.sessionId, protocol: e.protocol, at: e.at, ...(e.type === 'device.disconnected' ? { reason: e.reason } : {}) }));
  }

  beforeAll(async () => {
    t = await openTestStore(kind);
    await t.stores.tenancy.insertTenant({ id: 'tp', name: 'Presence', createdAt: 1 });
  });
  afterAll(async () => {
    await t?.cleanup();
  });
  beforeEach(async () => {
    clock = T0;
    bus = new InProcessEventBus();
    events = [];
    bus.subscribeAll((e) => {
      events.push(e);
    });
    presence = makePresence();
    await presence.start();
  });
  afterEach(async () => {
    // Leave no period of a test's node open for the next test's restart reset to find.
    for (const p of started.splice(0)) await p.stop();
  });

  it('connect makes a device online; disconnect makes it offline, with history and events', async () => {
    const id = await addDevice();
    const sessionId = await presence.connected(identity(id), 'mqtt', '10.1.1.1');
    expect(await presence.presence(viewer, id)).toMatchObject({ online: true, lastSeen: T0, protocol: 'mqtt', remoteAddress: '10.1.1.1', connectedAt: T0, sessionId, kind: 'session', disconnectedAt: null });
    expect((await t.stores.devices.get('tp', id))?.online).toBe(true);

    clock = T0 + 10 * MIN;
    await presence.disconnected(identity(id), sessionId, 'client disconnect');
    expect(await presence.presence(viewer, id)).toMatchObject({ online: false, lastSeen: T0, connectedAt: null, sessionId: null, disconnectedAt: T0 + 10 * MIN, disconnectReason: 'client disconnect', protocol: 'mqtt' });
    const history = await presence.connections(viewer, id, { limit: 10 });
    expect(history.items).toMatchObject([{ sessionId, kind: 'session', protocol: 'mqtt', remoteAddress: '10.1.1.1', connectedAt: T0, disconnectedAt: T0 + 10 * MIN, reason: 'client disconnect', nodeId: 'local' }]);
    expect(await eventsOf(id)).toEqual([
      { type: 'device.connected', sessionId, protocol: 'mqtt', at: T0 },
      { type: 'device.disconnected', sessionId, protocol: 'mqtt', reason: 'client disconnect', at: T0 + 10 * MIN },
    ]);
  });

  it('a late disconnect of a taken-over session leaves the device online', async () => {
    const id = await addDevice();
    const a = await presence.connected(identity(id), 'mqtt', '10.0.0.1');
    clock += 1000;
    const b = await presence.connected(identity(id), 'mqtt', '10.0.0.2');
    expect(b > a).toBe(true);
    clock += 1000;
    await presence.disconnected(identity(id), a, 'taken over');
    expect(await presence.presence(viewer, id)).toMatchObject({ online: true, sessionId: b, remoteAddress: '10.0.0.2' });
    expect((await t.stores.devices.get('tp', id))?.online).toBe(true);

    clock += 1000;
    await presence.disconnected(identity(id), b, 'keep-alive timeout');
    expect(await presence.presence(viewer, id)).toMatchObject({ online: false, sessionId: null, disconnectReason: 'keep-alive timeout' });
    expect((await eventsOf(id)).map((e) => [e.type, e.sessionId])).toEqual([
      ['device.connected', a],
      ['device.connected', b],
      ['device.disconnected', b],
    ]);
    const history = (await presence.connections(viewer, id, { limit: 10 })).items;
    expect(history.map((h) => [h.sessionId, h.reason])).toEqual([
      [b, 'keep-alive timeout'],
      [a, 'taken over'],
    ]);
  });

  it('serialises a device’s concurrent connects and disconnects: the newest session wins', async () => {
    const id = await addDevice();
    const first = await presence.connected(identity(id), 'mqtt', null);
    // A reconnect and the old session's disconnect arrive together, in either order.
    const [second] = await Promise.all([presence.connected(identity(id), 'mqtt', null), presence.disconnected(identity(id), first, 'taken over')]);
    const [, third] = await Promise.all([presence.disconnected(identity(id), second, 'taken over'), presence.connected(identity(id), 'mqtt', null)]);
    expect(await presence.presence(viewer, id)).toMatchObject({ online: true, sessionId: third });

    // A burst: twenty sessions at once, then every one but the newest ends, in scrambled order.
    const burst = await Promise.all(Array.from({ length: 20 }, () => presence.connected(identity(id), 'mqtt', null)));
    const newest = [...burst, third].sort().at(-1)!;
    const others = [third, ...burst].filter((s) => s !== newest).reverse();
    await Promise.all(others.map((s) => presence.disconnected(identity(id), s, 'taken over')));
    expect(await presence.presence(viewer, id)).toMatchObject({ online: true, sessionId: newest });
    await presence.disconnected(identity(id), newest, 'client disconnect');
    expect((await presence.presence(viewer, id)).online).toBe(false);
    // `second` was current when its disconnect ran (before `third` connected): a real, brief
    // offline. Every other disconnect was of a session already superseded: no event.
    const disconnects = (await eventsOf(id)).filter((e) => e.type === 'device.disconnected');
    expect(disconnects.map((e) => e.sessionId)).toEqual([second, newest]);
  });

  it('HTTP activity keeps a device online for the window, then the sweeper takes it offline', async () => {
    const id = await addDevice();
    presence.touched(identity(id), 'http', '192.0.2.7');
    await presence.settled();
    const opened = await presence.presence(viewer, id);
    expect(opened).toMatchObject({ online: true, kind: 'activity', protocol: 'http', remoteAddress: '192.0.2.7', connectedAt: T0 });

    clock = T0 + 4 * MIN;
    presence.touched(identity(id), 'http', '192.0.2.7');
    clock = T0 + 8 * MIN; // 4 minutes after the last request: inside its window
    await presence.sweep();
    expect((await presence.presence(viewer, id)).online).toBe(true);

    clock = T0 + 9 * MIN + 1; // the window of the request at +4 min has passed
    await presence.sweep();
    expect(await presence.presence(viewer, id)).toMatchObject({ online: false, disconnectReason: 'inactive', disconnectedAt: T0 + 4 * MIN, lastSeen: T0 + 4 * MIN });
    expect(await eventsOf(id)).toEqual([
      { type: 'device.connected', sessionId: opened.sessionId, protocol: 'http', at: T0 },
      { type: 'device.disconnected', sessionId: opened.sessionId, protocol: 'http', reason: 'inactive', at: T0 + 4 * MIN },
    ]);
    // A request opens a new period, with a new event.
    presence.touched(identity(id), 'coap', '[2001:db8::1]:5683');
    await presence.settled();
    expect(await presence.presence(viewer, id)).toMatchObject({ online: true, protocol: 'coap', remoteAddress: '[2001:db8::1]:5683' });
    expect((await eventsOf(id)).map((e) => e.type)).toEqual(['device.connected', 'device.disconnected', 'device.connected']);
  });

  it('a window set by the option is honoured', async () => {
    const short = makePresence({ nodeId: 'short', activityWindowMs: 30_000 });
    await short.start();
    const id = await addDevice();
    short.touched(identity(id), 'http', null);
    await short.settled();
    clock = T0 + 30_001;
    await short.sweep();
    expect((await short.presence(viewer, id)).online).toBe(false);
    expect(() => makePresence({ activityWindowMs: 0 })).toThrow(/activityWindowMs/);
    expect(() => makePresence({ nodeId: 'bad node' })).toThrow(/node id/);
    expect(() => makePresence({ nodeId: 'x'.repeat(65) })).toThrow(/node id/);
  });

  it('a live session is not ended by the sweeper; HTTP traffic in its window outlives the session', async () => {
    const id = await addDevice();
    const s = await presence.connected(identity(id), 'mqtt', null);
    clock = T0 + 10 * MIN;
    await presence.sweep();
    expect((await presence.presence(viewer, id)).sessionId).toBe(s);

    presence.touched(identity(id), 'http', '192.0.2.9');
    await presence.settled();
    clock = T0 + 11 * MIN;
    await presence.disconnected(identity(id), s, 'keep-alive timeout');
    const after = await presence.presence(viewer, id);
    expect(after).toMatchObject({ online: true, kind: 'activity', protocol: 'http', connectedAt: T0 + 11 * MIN });
    clock = T0 + 15 * MIN + 1;
    await presence.sweep();
    expect(await presence.presence(viewer, id)).toMatchObject({ online: false, disconnectReason: 'inactive', disconnectedAt: T0 + 11 * MIN });
    // Online the whole time until the window ended: one connected, one disconnected.
    expect((await eventsOf(id)).map((e) => [e.type, e.sessionId])).toEqual([
      ['device.connected', s],
      ['device.disconnected', after.sessionId],
    ]);
  });

  it('a session supersedes an activity period', async () => {
    const id = await addDevice();
    presence.touched(identity(id), 'http', null);
    await presence.settled();
    const activity = (await presence.presence(viewer, id)).sessionId;
    clock += 1000;
    const s = await presence.connected(identity(id), 'mqtt', null);
    expect(await presence.presence(viewer, id)).toMatchObject({ online: true, sessionId: s, kind: 'session' });
    const history = (await presence.connections(viewer, id, { limit: 10 })).items;
    expect(history.map((h) => [h.sessionId, h.reason])).toEqual([
      [s, null],
      [activity, 'session started'],
    ]);
    // The activity window passing does not end the session.
    clock += WINDOW + 1;
    await presence.sweep();
    expect((await presence.presence(viewer, id)).sessionId).toBe(s);
  });

  it('coalesces lastSeen in memory and writes it in one batch', async () => {
    const ids = [await addDevice(), await addDevice(), await addDevice()];
    const s = await presence.connected(identity(ids[0]!), 'mqtt', null);
    const markSeen = vi.spyOn(t.stores.presence, 'markSeen');
    try {
      for (let i = 1; i <= 1000; i++) {
        clock = T0 + i;
        for (const id of ids) presence.seen(identity(id));
      }
      presence.touched(identity(ids[2]!), 'http', null);
      expect(markSeen).not.toHaveBeenCalled();
      expect((await t.stores.devices.get('tp', ids[1]!))?.lastSeen).toBeNull();
      // Unflushed sightings are still part of what the API answers.
      expect((await presence.presence(viewer, ids[1]!)).lastSeen).toBe(T0 + 1000);

      await presence.flush();
      expect(markSeen).toHaveBeenCalledTimes(1);
      expect(markSeen.mock.calls[0]![0]).toHaveLength(3);
      for (const id of ids) expect((await t.stores.devices.get('tp', id))?.lastSeen).toBe(T0 + 1000);
      await presence.flush();
      expect(markSeen).toHaveBeenCalledTimes(1);
      expect((await presence.presence(viewer, ids[0]!)).sessionId).toBe(s);
    } finally {
      markSeen.mockRestore();
    }
  });

  it('keeps unwritten sightings when a flush fails, and writes them next time', async () => {
    const id = await addDevice();
    presence.seen(identity(id));
    const markSeen = vi.spyOn(t.stores.presence, 'markSeen').mockRejectedValueOnce(new Error('database away'));
    try {
      await presence.flush();
      expect((await t.stores.devices.get('tp', id))?.lastSeen).toBeNull();
      await presence.flush();
      expect((await t.stores.devices.get('tp', id))?.lastSeen).toBe(T0);
    } finally {
      markSeen.mockRestore();
    }
  });

  it('a restarted node ends what it left open, at each device’s last sign of life, and leaves other nodes alone', async () => {
    const crashed = makePresence({ nodeId: 'node-a' });
    await crashed.start();
    const other = makePresence({ nodeId: 'node-b' });
    await other.start();
    const [viaSession, viaHttp, elsewhere] = [await addDevice(), await addDevice(), await addDevice()];
    const s1 = await crashed.connected(identity(viaSession), 'mqtt', null);
    clock = T0 + 1000;
    crashed.seen(identity(viaSession));
    crashed.touched(identity(viaHttp), 'http', null);
    await crashed.settled();
    await crashed.flush();
    const s3 = await other.connected(identity(elsewhere), 'mqtt', null);
    // node-a dies without stop(); a new run of it starts.
    started.splice(started.indexOf(crashed), 1);
    clock = T0 + 60 * MIN;
    await delivered();
    events.length = 0;
    const restarted = makePresence({ nodeId: 'node-a' });
    await restarted.start();

    expect(await restarted.presence(viewer, viaSession)).toMatchObject({ online: false, disconnectReason: 'server restart', disconnectedAt: T0 + 1000 });
    expect(await restarted.presence(viewer, viaHttp)).toMatchObject({ online: false, disconnectReason: 'server restart' });
    expect(await restarted.presence(viewer, elsewhere)).toMatchObject({ online: true, sessionId: s3 });
    expect((await restarted.connections(viewer, viaSession, { limit: 5 })).items).toMatchObject([{ sessionId: s1, disconnectedAt: T0 + 1000, reason: 'server restart' }]);
    expect((await eventsOf(viaSession)).map((e) => [e.type, e.sessionId, e.reason])).toEqual([['device.disconnected', s1, 'server restart']]);
    expect((await eventsOf(viaHttp)).map((e) => [e.type, e.reason])).toEqual([['device.disconnected', 'server restart']]);
    expect(await eventsOf(elsewhere)).toEqual([]);
    // The restarted node serves the device again.
    const s4 = await restarted.connected(identity(viaSession), 'mqtt', null);
    expect(await restarted.presence(viewer, viaSession)).toMatchObject({ online: true, sessionId: s4 });
  });

  it('stop writes the last sightings and ends the node’s periods; later calls are ignored', async () => {
    const node = makePresence({ nodeId: 'stopping' });
    await node.start();
    const id = await addDevice();
    const s = await node.connected(identity(id), 'mqtt', null);
    clock = T0 + 5000;
    node.seen(identity(id));
    clock = T0 + 6000;
    await node.stop();
    expect(await presence.presence(viewer, id)).toMatchObject({ online: false, lastSeen: T0 + 5000, disconnectedAt: T0 + 6000, disconnectReason: 'server shutdown' });
    await node.disconnected(identity(id), s, 'client disconnect');
    node.touched(identity(id), 'http', null);
    node.seen(identity(id));
    await node.stop();
    expect((await presence.connections(viewer, id, { limit: 5 })).items[0]).toMatchObject({ sessionId: s, reason: 'server shutdown' });
  });

  it('decommissioning ends an activity period at once; a decommissioned device’s session still disconnects', async () => {
    const [web, mqtt] = [await addDevice(), await addDevice()];
    presence.touched(identity(web), 'http', null);
    const s = await presence.connected(identity(mqtt), 'mqtt', null);
    await presence.settled();
    for (const id of [web, mqtt]) {
      await t.conn.db.updateTable('devices').set({ status: 'decommissioned' }).where('id', '=', id).execute();
      bus.publish({ type: 'device.decommissioned', tenantId: 'tp', deviceId: id, purgeData: false });
    }
    await delivered();
    await presence.settled();
    expect(await presence.presence(viewer, web)).toMatchObject({ online: false, disconnectReason: 'decommissioned' });
    // Its transport closes the session; a request in flight does not reopen anything.
    presence.touched(identity(mqtt), 'http', null);
    await presence.disconnected(identity(mqtt), s, 'device decommissioned');
    await presence.settled();
    expect(await presence.presence(viewer, mqtt)).toMatchObject({ online: false, disconnectReason: 'device decommissioned' });
    presence.touched(identity(web), 'http', null);
    await presence.settled();
    expect((await presence.presence(viewer, web)).online).toBe(false);
  });

  it('a deleted device: every call is harmless and nothing is published', async () => {
    const id = await addDevice();
    const s = await presence.connected(identity(id), 'mqtt', null);
    await t.stores.devices.delete('tp', id);
    bus.publish({ type: 'device.deleted', tenantId: 'tp', deviceId: id });
    await delivered();
    events.length = 0;
    await presence.disconnected(identity(id), s, 'device deleted');
    presence.seen(identity(id));
    presence.touched(identity(id), 'http', null);
    await presence.settled();
    await presence.flush();
    await presence.sweep();
    const late = await presence.connected(identity(id), 'mqtt', null);
    await presence.disconnected(identity(id), late, 'gone');
    await presence.disconnected(identity(id), '', 'invalid');
    expect(await eventsOf(id)).toEqual([]);
    await expect(presence.presence(viewer, id)).rejects.toMatchObject({ code: 'DEVICE_NOT_FOUND' });
    await expect(presence.connections(viewer, id, { limit: 5 })).rejects.toMatchObject({ code: 'DEVICE_NOT_FOUND' });
  });

  it('a device made online here is found by the fleet query on online and lastSeen', async () => {
    const [on, off] = [await addDevice(), await addDevice()];
    clock = T0 + 2 * MIN;
    await presence.connected(identity(on), 'mqtt', null);
    clock = T0 + 3 * MIN;
    presence.seen(identity(on));
    await presence.flush();
    const find = async (q: string): Promise<string[]> => {
      const where = deviceQuery(parseFleetQuery(q), clock);
      const rows = await t.stores.devices.list({ tenantId: 'tp', where, limit: 10_000 });
      return rows.map((r) => r.id).filter((x) => x === on || x === off);
    };
    expect(await find('online = true')).toEqual([on]);
    expect(await find('online')).toEqual([on]);
    expect(await find('NOT online')).toEqual([off]);
    expect(await find('lastSeen > "2025-01-15T12:02:30Z"')).toEqual([on]);
    expect(await find('lastSeen > -1m')).toEqual([on]);
    expect(await find('online AND lastSeen >= "2025-01-15T12:03:00Z"')).toEqual([on]);
    expect(await find('lastSeen > "2025-01-15T12:03:00Z"')).toEqual([]);
  });

  it('pages the connection history newest first and refuses a foreign cursor', async () => {
    const id = await addDevice();
    const sessions: string[] = [];
    for (let i = 0; i < 5; i++) {
      clock += 1000;
      const s = await presence.connected(identity(id), 'mqtt', null);
      sessions.push(s);
      await presence.disconnected(identity(id), s, 'client disconnect');
    }
    const first = await presence.connections(viewer, id, { limit: 2 });
    expect(first.items.map((h) => h.sessionId)).toEqual([sessions[4], sessions[3]]);
    const second = await presence.connections(viewer, id, { limit: 2, cursor: first.nextCursor! });
    expect(second.items.map((h) => h.sessionId)).toEqual([sessions[2], sessions[1]]);
    const third = await presence.connections(viewer, id, { limit: 2, cursor: second.nextCursor! });
    expect(third).toMatchObject({ items: [{ sessionId: sessions[0] }], nextCursor: null });
    await expect(presence.connections(viewer, id, { limit: 2, cursor: 'not-a-cursor' })).rejects.toMatchObject({ code: 'INVALID_CURSOR' });
    const otherTenant: CallContext = { principal: { ...viewer.principal, tenantId: 'elsewhere' } };
    await expect(presence.presence(otherTenant, id)).rejects.toMatchObject({ code: 'DEVICE_NOT_FOUND' });
  });

  it('trims each device’s history to the configured number of rows', async () => {
    const trimming = makePresence({ nodeId: 'trim', historyPerDevice: 3, trimChance: 1 });
    await trimming.start();
    const id = await addDevice();
    for (let i = 0; i < 6; i++) {
      clock += 1000;
      const s = await trimming.connected(identity(id), 'mqtt', null);
      await trimming.disconnected(identity(id), s, 'client disconnect');
    }
    await trimming.sweep();
    expect((await trimming.connections(viewer, id, { limit: 10 })).items).toHaveLength(3);
  });
});
