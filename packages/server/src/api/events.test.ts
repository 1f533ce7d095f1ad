import http from 'node:http';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DomainEvent } from '../bus/events.js';
import { STORE_KINDS } from '../testing/test-store.js';
import { SseClient, startListeningHangar, type ListeningHangar } from './events-fixture.js';

/**
 * Opens a stream and stops reading after the first bytes, as a stuck client does; resolves
 * with the server's end of the connection, whose buffers then fill as events are published.
 */
async function openStalled(h: ListeningHangar): Promise<Socket> {
  const server = h.hangar.http.server;
  const sockets: Socket[] = [];
  const track = (s: Socket): void => void sockets.push(s);
  server.on('connection', track);
  try {
    const localPort = await new Promise<number>((resolve, reject) => {
      const req = http.get(`${h.base}/api/v1/events/stream`, { headers: { authorization: `Bearer ${h.adminToken}` } }, (res) => {
        res.once('data', () => {
          res.pause();
          resolve(req.socket!.localPort!);
        });
        res.on('error', () => undefined);
      });
      req.on('error', reject);
    });
    const found = sockets.find((s) => s.remotePort === localPort);
    if (!found) throw new Error('the stream’s server socket was not seen');
    return found;
  } finally {
    server.off('connection', track);
  }
}

/** Publishes big events, letting the stream write each, until the server socket stops taking them. */
async function fillUntilStalled(h: ListeningHangar, socket: Socket): Promise<void> {
  const big = 'x'.repeat(64 * 1024);
  for (let i = 0; i < 4096 && !socket.writableNeedDrain; i++) {
    h.hangar.bus.publish({ type: 'telemetry.received', tenantId: 'default', deviceId: 'b-1', ts: i, values: { blob: big } });
    await new Promise((r) => setImmediate(r));
  }
  expect(socket.writableNeedDrain).toBe(true);
}

async function eventually(what: string, probe: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.each(STORE_KINDS)('event stream (SSE) on %s', (kind) => {
  let h: ListeningHangar;
  let acme: string;
  const open = (path: string, token: string | null = h.adminToken, headers: Record<string, string> = {}): Promise<SseClient> =>
    SseClient.open(h.base, path, token === null ? headers : { authorization: `Bearer ${token}`, ...headers });
  const publish = (e: DomainEvent): void => h.hangar.bus.publish(e);
  const telemetry = (deviceId: string, temp: number, tenantId = 'default'): DomainEvent => ({ type: 'telemetry.received', tenantId, deviceId, ts: 1, values: { temp } });

  beforeAll(async () => {
    h = await startListeningHangar(kind, { eventLogCapacity: 20 });
    for (const [id, site] of [['b-1', 'berlin'], ['b-2', 'berlin'], ['p-1', 'paris']] as const) {
      expect((await h.call('POST', '/api/v1/devices', { body: { id, tags: { site } } })).status).toBe(201);
    }
    acme = (await h.call('POST', '/api/v1/tenants', { body: { id: 'acme', name: 'Acme' } })).body.adminApiKey.token;
  });
  afterAll(async () => {
    await h?.close();
  });

  it('refuses a caller without valid credentials', async () => {
    const none = await open('/api/v1/events/stream', null);
    expect(none.status).toBe(401);
    expect(none.headers['content-type']).toMatch(/problem\+json/);
    expect((await open('/api/v1/events/stream', 'hk_wrong')).status).toBe(401);
  });

  it('streams the tenant’s domain events in the documented shape', async () => {
    const s = await open('/api/v1/events/stream?types=device.*');
    expect(s.headers['content-type']).toMatch(/^text\/event-stream/);
    expect((await h.call('POST', '/api/v1/devices', { body: { id: 'new-1' } })).status).toBe(201);
    expect((await h.call('DELETE', '/api/v1/devices/new-1')).status).toBe(204);
    await s.waitFor((c) => c.events.some((e) => e.type === 'device.deleted'));
    const e = s.events.find((x) => x.type === 'device.deleted')!;
    expect(Object.keys(e).sort()).toEqual(['at', 'data', 'deviceId', 'id', 'tenant', 'type']);
    expect(e).toMatchObject({ tenant: 'default', deviceId: 'new-1', data: {} });
    expect(e.at).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(s.events.filter((x) => x.deviceId === 'new-1').map((x) => x.type)).toEqual(['device.created', 'device.deleted']);
    expect(s.frames.filter((f) => f.event === 'message').map((f) => f.id)).toContain(String(e.id));
    s.close();
  });

  it('filters by type patterns, device and fleet query', async () => {
    const byType = await open('/api/v1/events/stream?types=device.connected,alert.*');
    const byDevice = await open('/api/v1/events/stream?device=b-2');
    const byQuery = await open(`/api/v1/events/stream?types=telemetry.received&q=${encodeURIComponent('tags.site = "berlin"')}`);
    publish({ type: 'device.connected', tenantId: 'default', deviceId: 'b-1', protocol: 'mqtt', remoteAddress: null, sessionId: 's1', at: 1 });
    publish(telemetry('p-1', 1));
    publish(telemetry('b-1', 2));
    publish({ type: 'alert.raised', tenantId: 'default', deviceId: 'b-2', alertId: 'a1', ruleId: 'r1', ruleName: 'hot', severity: 'major', message: 'hot' });
    for (let i = 0; i < 50; i++) publish(telemetry(i % 2 ? 'p-1' : 'b-2', 10 + i)); // many events, few devices: cached answers
    publish({ type: 'device.deleted', tenantId: 'default', deviceId: 'zz' }); // marker
    await byType.waitFor((c) => c.events.some((e) => e.type === 'alert.raised'));
    expect(byType.events.map((e) => e.type)).toEqual(['device.connected', 'alert.raised']);
    await byDevice.waitFor((c) => c.events.filter((e) => e.type === 'telemetry.received').length === 25);
    expect(new Set(byDevice.events.map((e) => e.deviceId))).toEqual(new Set(['b-2']));
    await byQuery.waitFor((c) => c.events.length === 26);
    expect(byQuery.events.every((e) => e.type === 'telemetry.received' && (e.deviceId === 'b-1' || e.deviceId === 'b-2'))).toBe(true);
    // Order is kept even though membership is looked up asynchronously.
    expect(byQuery.events.map((e) => e.id)).toEqual([...byQuery.events.map((e) => e.id)].sort((a, b) => a - b));
    for (const s of [byType, byDevice, byQuery]) s.close();
  });

  it('refuses bad filters with a 400 before streaming', async () => {
    const cases: Array<[string, RegExp]> = [
      ['types=device.exploded', /unknown event type "device.exploded"/],
      ['types=nothing.*', /unknown event type "nothing.\*"/],
      [`q=${encodeURIComponent('tags.site = ')}`, /./],
      ['device=bad%2Fid', /not a valid device id/],
      ['lastEventId=abc', /Last-Event-ID/],
      ['colour=red', /unknown field "colour"/],
    ];
    for (const [query, detail] of cases) {
      const s = await open(`/api/v1/events/stream?${query}`);
      expect(s.status, query).toBe(400);
      const problem = JSON.parse(s.body);
      expect(problem.detail, query).toMatch(detail);
      if (query.startsWith('q=')) expect(problem).toMatchObject({ code: 'INVALID_QUERY', position: expect.any(Number) });
    }
    const badHeader = await open('/api/v1/events/stream', h.adminToken, { 'last-event-id': 'x-1' });
    expect(badHeader.status).toBe(400);
    expect(h.hangar.services.events.openCount).toBe(0);
  });

  it('shows a tenant only its own events', async () => {
    const mine = await open('/api/v1/events/stream', acme);
    const theirs = await open('/api/v1/events/stream');
    publish(telemetry('b-1', 99));
    publish(telemetry('acme-dev', 7, 'acme'));
    await mine.waitFor((c) => c.events.length === 1);
    await theirs.waitFor((c) => c.events.some((e) => e.deviceId === 'b-1'));
    publish({ type: 'device.deleted', tenantId: 'acme', deviceId: 'marker' });
    await mine.waitFor((c) => c.events.length === 2);
    expect(mine.events.map((e) => [e.tenant, e.deviceId])).toEqual([['acme', 'acme-dev'], ['acme', 'marker']]);
    expect(theirs.events.every((e) => e.tenant === 'default')).toBe(true);
    mine.close();
    theirs.close();
  });

  it('resumes after Last-Event-ID from the recent-event buffer', async () => {
    const first = await open('/api/v1/events/stream?types=telemetry.received&device=p-1');
    publish(telemetry('p-1', 1));
    publish(telemetry('p-1', 2));
    await first.waitFor((c) => c.events.length === 2);
    const lastSeen = first.frames.at(-1)!.id!;
    first.close();
    publish(telemetry('p-1', 3));
    publish(telemetry('b-1', 3));
    publish(telemetry('p-1', 4));
    const resumed = await open('/api/v1/events/stream?types=telemetry.received&device=p-1', h.adminToken, { 'last-event-id': lastSeen });
    publish(telemetry('p-1', 5));
    await resumed.waitFor((c) => c.events.length === 3);
    expect(resumed.events.map((e) => e.data.values)).toEqual([{ temp: 3 }, { temp: 4 }, { temp: 5 }]);
    expect(resumed.frames.some((f) => f.event === 'reset')).toBe(false);
    resumed.close();
    // The query-string form, for clients that cannot set headers.
    const viaQuery = await open(`/api/v1/events/stream?types=telemetry.received&device=p-1&lastEventId=${lastSeen}`);
    await viaQuery.waitFor((c) => c.events.length === 3);
    viaQuery.close();
  });

  it('sends an explicit reset when the events after Last-Event-ID are gone', async () => {
    const s = await open('/api/v1/events/stream?device=b-2');
    publish(telemetry('b-2', 1));
    await s.waitFor((c) => c.events.length === 1);
    const old = s.frames.at(-1)!.id!;
    s.close();
    for (let i = 0; i < 30; i++) publish(telemetry('p-1', i)); // the buffer holds 20
    await new Promise((r) => setTimeout(r, 50));
    const resumed = await open('/api/v1/events/stream?device=b-2', h.adminToken, { 'last-event-id': old });
    await resumed.waitFor((c) => c.frames.length >= 1);
    const reset = resumed.frames[0]!;
    expect(reset.event).toBe('reset');
    expect(JSON.parse(reset.data)).toMatchObject({ resumeFrom: Number(reset.id) });
    publish(telemetry('b-2', 2));
    await resumed.waitFor((c) => c.events.length === 1);
    expect(resumed.events[0]!.id).toBeGreaterThan(Number(reset.id));
    resumed.close();
    // An id from before this process started is as good as lost too.
    const ancient = await open('/api/v1/events/stream', h.adminToken, { 'last-event-id': '1' });
    await ancient.waitFor((c) => c.frames.length >= 1);
    expect(ancient.frames[0]!.event).toBe('reset');
    ancient.close();
  });

  it('works with the dashboard’s session cookie (EventSource cannot send headers)', async () => {
    const key = await h.call('POST', '/api/v1/api-keys', { body: { name: 'viewer', role: 'viewer' } });
    const login = await h.call('POST', '/api/v1/auth/login', { body: { apiKey: key.body.token }, token: null });
    const cookie = String(login.headers['set-cookie']).split(';')[0]!;
    const s = await open('/api/v1/events/stream', null, { cookie });
    expect(s.status).toBe(200);
    publish(telemetry('b-1', 5));
    await s.waitFor((c) => c.events.length === 1);
    s.close();
  });

  it('ends open streams when the server closes, without hanging the close', async () => {
    const other = await startListeningHangar(kind);
    try {
      const a = await SseClient.open(other.base, '/api/v1/events/stream', { authorization: `Bearer ${other.adminToken}` });
      const b = await SseClient.open(other.base, '/api/v1/events/stream?types=alert.*', { authorization: `Bearer ${other.adminToken}` });
      expect(other.hangar.services.events.openCount).toBe(2);
      await other.hangar.close();
      await a.waitFor((c) => c.ended, 'the end of the stream');
      await b.waitFor((c) => c.ended, 'the end of the stream');
    } finally {
      await other.close().catch(() => undefined);
    }
  });

  it('cuts off a client that stopped reading once its queue overflows', async () => {
    const other = await startListeningHangar(kind);
    let socket: Socket | undefined;
    try {
      socket = await openStalled(other);
      await fillUntilStalled(other, socket);
      for (let i = 0; i < 1100; i++) other.hangar.bus.publish(telemetry('b-1', i));
      await eventually('the subscription to overflow', () => other.hangar.services.events.openCount === 0);
      await eventually('the connection to be cut', () => socket!.destroyed);
    } finally {
      socket?.destroy();
      await other.close();
    }
  });

  it('closes promptly with a client that stopped reading', async () => {
    const other = await startListeningHangar(kind);
    let socket: Socket | undefined;
    try {
      socket = await openStalled(other);
      await fillUntilStalled(other, socket);
      expect(other.hangar.services.events.openCount).toBe(1);
      let timer: NodeJS.Timeout | undefined;
      const stuck = new Promise<'stuck'>((resolve) => (timer = setTimeout(() => resolve('stuck'), 10_000)));
      expect(await Promise.race([other.hangar.close().then(() => 'closed'), stuck])).toBe('closed');
      clearTimeout(timer);
      expect(socket.destroyed).toBe(true);
    } finally {
      socket?.destroy();
      await other.close().catch(() => undefined);
    }
  });
});
