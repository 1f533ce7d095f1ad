import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SseClient, startListeningHangar, type ListeningHangar } from './events-fixture.js';
import { STORE_KINDS } from '../testing/test-store.js';

const DAY = 86_400_000;

async function eventually(what: string, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Device logs and the device timeline through the whole Hangar: the REST listing and its
 * filters, the live tail on the SSE stream (and that catch-all streams are not flooded), the
 * timeline's events in a stable order, retention by age and per-device cap, and purges.
 * A settable clock makes times exact.
 */
describe.each(STORE_KINDS)('device logs and timeline on %s', (kind) => {
  let h: ListeningHangar;
  let clock = Date.parse('2026-03-01T00:00:00Z');
  let viewer: string;
  const ingest = (deviceId: string, payload: string, as: 'json' | 'text' = 'text'): Promise<{ accepted: number }> =>
    h.hangar.services.logs.ingest({ tenantId: 'default', deviceId }, Buffer.from(payload), as);
  const create = async (id: string): Promise<void> => {
    expect((await h.call('POST', '/api/v1/devices', { body: { id } })).status).toBe(201);
  };

  beforeAll(async () => {
    h = await startListeningHangar(kind, { now: () => clock, logs: { retention: { perDeviceCap: 5 } }, timeline: { flushDelayMs: 1 } });
    viewer = (await h.call('POST', '/api/v1/api-keys', { body: { name: 'viewer', role: 'viewer' } })).body.token;
  });
  afterAll(async () => {
    await h?.close();
  });

  it('lists a device’s records newest first, filtered by level, text and time, page by page', async () => {
    await create('lg-1');
    await ingest(
      'lg-1',
      JSON.stringify([
        { ts: 1000, level: 'debug', msg: 'tick' },
        { ts: 2000, level: 'info', msg: 'Connected to broker' },
        { ts: 3000, level: 'warning', msg: 'retrying connection', fields: { attempt: 2 } },
        { ts: 4000, level: 'error', msg: 'connection LOST' },
        { ts: 4000, level: 'info', msg: 'same time, later id' },
      ]),
      'json',
    );
    const all = await h.call('GET', '/api/v1/devices/lg-1/logs', { token: viewer });
    expect(all.status).toBe(200);
    expect(all.body.items.map((r: { msg: string }) => r.msg)).toEqual(['same time, later id', 'connection LOST', 'retrying connection', 'Connected to broker', 'tick']);
    expect(all.body.items[2]).toMatchObject({ level: 'warn', ts: 3000, receivedAt: clock, fields: { attempt: 2 }, truncated: false });
    expect(all.body.nextCursor).toBeNull();
    const msgs = async (query: string): Promise<string[]> => {
      const res = await h.call('GET', `/api/v1/devices/lg-1/logs?${query}`);
      expect(res.status, query).toBe(200);
      return res.body.items.map((r: { msg: string }) => r.msg);
    };
    expect(await msgs('level=warn')).toEqual(['connection LOST', 'retrying connection']);
    expect(await msgs('q=CONNECTION&order=asc')).toEqual(['retrying connection', 'connection LOST']);
    expect(await msgs('from=2000&to=4000&order=asc')).toEqual(['Connected to broker', 'retrying connection']);
    expect(await msgs(`from=${encodeURIComponent(new Date(3000).toISOString())}&level=error`)).toEqual(['connection LOST']);
    const seen: string[] = [];
    let cursor: string | null = '';
    while (cursor !== null) {
      const page: { status: number; body: { items: Array<{ msg: string }>; nextCursor: string | null } } = await h.call('GET', `/api/v1/devices/lg-1/logs?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...page.body.items.map((r) => r.msg));
      cursor = page.body.nextCursor;
    }
    expect(seen).toEqual(all.body.items.map((r: { msg: string }) => r.msg));

    for (const [query, status, detail] of [
      ['level=loud', 400, /level must be debug, info, warn or error/],
      ['from=yesterday', 400, /from must be epoch milliseconds/],
      ['cursor=nope', 400, /not one this API issued/],
      ['limit=0', 400, /limit/],
    ] as const) {
      const res = await h.call('GET', `/api/v1/devices/lg-1/logs?${query}`);
      expect(res.status, query).toBe(status);
      expect(res.body.detail).toMatch(detail);
    }
    expect((await h.call('GET', '/api/v1/devices/nobody/logs')).status).toBe(404);
    expect((await h.call('GET', '/api/v1/devices/lg-1/logs', { token: null })).status).toBe(401);
  });

  it('tails logs on the SSE stream as one device.log event per upload; catch-all streams leave them out', async () => {
    await create('lg-tail');
    const tail = await SseClient.open(h.base, '/api/v1/events/stream?types=device.log&device=lg-tail', { authorization: `Bearer ${h.adminToken}` });
    const everything = await SseClient.open(h.base, '/api/v1/events/stream', { authorization: `Bearer ${h.adminToken}` });
    const devices = await SseClient.open(h.base, '/api/v1/events/stream?types=device.*', { authorization: `Bearer ${h.adminToken}` });
    try {
      await ingest('lg-tail', 'one\ntwo');
      await ingest('lg-1', 'another device');
      await create('lg-marker');
      await tail.waitFor((c) => c.events.length >= 1, 'the device.log event');
      await everything.waitFor((c) => c.events.some((e) => e.deviceId === 'lg-marker'), 'the marker');
      await devices.waitFor((c) => c.events.some((e) => e.deviceId === 'lg-marker'), 'the marker');
      expect(tail.events).toHaveLength(1);
      expect(tail.events[0]).toMatchObject({ type: 'device.log', deviceId: 'lg-tail', data: { receivedAt: clock, records: [{ level: 'info', msg: 'one', ts: clock }, { level: 'info', msg: 'two' }] } });
      expect(everything.events.filter((e) => e.type === 'device.log')).toEqual([]);
      expect(devices.events.filter((e) => e.type === 'device.log')).toEqual([]);
    } finally {
      tail.close();
      everything.close();
      devices.close();
    }
  });

  it('shows a device’s timeline in one stable order, with error logs summarised', async () => {
    const step = (): number => (clock += 1000);
    await create('tl-1');
    step();
    expect((await h.call('POST', '/api/v1/devices/tl-1/credentials', { body: { type: 'token' } })).status).toBe(201);
    step();
    expect((await h.call('PATCH', '/api/v1/devices/tl-1/twin', { body: { desired: { rate: 5 } } })).status).toBe(200);
    step();
    await h.hangar.services.twins.patchReported('default', 'tl-1', { rate: 5 });
    step();
    h.hangar.bus.publish({ type: 'device.connected', tenantId: 'default', deviceId: 'tl-1', protocol: 'mqtt', remoteAddress: null, sessionId: 's1', at: clock });
    step();
    await ingest('tl-1', JSON.stringify([{ level: 'error', msg: 'first failure' }, { level: 'info', msg: 'fine' }, { level: 'fatal', msg: 'second failure' }]), 'json');
    step();
    await ingest('tl-1', JSON.stringify({ level: 'error', msg: 'within the minute' }), 'json');
    await ingest('tl-1', 'info lines make no entry');
    clock += 61_000;
    await ingest('tl-1', JSON.stringify({ level: 'err', msg: 'a minute later' }), 'json');
    step();
    expect((await h.call('POST', '/api/v1/devices/tl-1/decommission', { body: { purgeData: false } })).status).toBe(200);
    await new Promise((r) => setImmediate(r));
    await h.hangar.services.timeline.recorder.flush();

    const res = await h.call('GET', '/api/v1/devices/tl-1/events?order=asc', { token: viewer });
    expect(res.status).toBe(200);
    const entries = res.body.items as Array<{ id: string; ts: number; type: string; data: Record<string, unknown> }>;
    expect(entries.map((e) => e.type)).toEqual([
      'device.created',
      'credential.issued',
      'twin.desired.changed',
      'twin.reported.changed',
      'device.connected',
      'log.error',
      'log.error',
      'credential.revoked',
      'device.decommissioned',
    ]);
    expect(entries[1]!.data).toMatchObject({ credentialType: 'token' });
    expect(entries[5]!.data).toMatchObject({ count: 2, msg: 'first failure' });
    expect(entries[6]!.data).toMatchObject({ count: 2, msg: 'a minute later' });
    const ts = entries.map((e) => e.ts);
    expect([...ts].sort((a, b) => a - b)).toEqual(ts);

    const desc = await h.call('GET', '/api/v1/devices/tl-1/events');
    expect(desc.body.items.map((e: { id: string }) => e.id)).toEqual(entries.map((e) => e.id).reverse());
    const twin = await h.call('GET', '/api/v1/devices/tl-1/events?order=asc&types=twin.*,log.error');
    expect(twin.body.items.map((e: { type: string }) => e.type)).toEqual(['twin.desired.changed', 'twin.reported.changed', 'log.error', 'log.error']);
    const paged: string[] = [];
    let cursor: string | null = '';
    while (cursor !== null) {
      const page: { body: { items: Array<{ id: string }>; nextCursor: string | null } } = await h.call('GET', `/api/v1/devices/tl-1/events?order=asc&limit=4${cursor ? `&cursor=${cursor}` : ''}`);
      paged.push(...page.body.items.map((e) => e.id));
      cursor = page.body.nextCursor;
    }
    expect(paged).toEqual(entries.map((e) => e.id));
    const bad = await h.call('GET', '/api/v1/devices/tl-1/events?types=telemetry.received');
    expect(bad.status).toBe(400);
    expect(bad.body.detail).toMatch(/unknown timeline type "telemetry.received"/);
    expect((await h.call('GET', '/api/v1/devices/nobody/events')).status).toBe(404);
  });

  it('deletes records past the retention age and beyond the per-device cap', async () => {
    await create('ret-old');
    await create('ret-cap');
    await ingest('ret-old', 'old one\nold two');
    clock += 8 * DAY;
    await ingest('ret-old', 'recent');
    await ingest('ret-cap', Array.from({ length: 7 }, (_, i) => `line ${i}`).join('\n'));
    await h.hangar.services.logs.retention.runOnce();
    const msgs = async (id: string): Promise<string[]> => (await h.call('GET', `/api/v1/devices/${id}/logs?order=asc`)).body.items.map((r: { msg: string }) => r.msg);
    expect(await msgs('ret-old')).toEqual(['recent']);
    expect(await msgs('ret-cap')).toEqual(['line 2', 'line 3', 'line 4', 'line 5', 'line 6']);
    // The timeline keeps the same age: tl-1's entries are more than 7 days old now.
    expect((await h.call('GET', '/api/v1/devices/tl-1/events')).body.items).toEqual([]);
  });

  it('purges a device’s logs when it is decommissioned with purgeData, and logs and timeline when it is deleted', async () => {
    await create('pg-1');
    await create('pg-2');
    await ingest('pg-1', 'to be purged');
    await ingest('pg-2', JSON.stringify({ level: 'error', msg: 'also purged' }), 'json');
    expect((await h.call('POST', '/api/v1/devices/pg-1/decommission', { body: { purgeData: true } })).status).toBe(200);
    await eventually('the purge of pg-1', async () => (await h.call('GET', '/api/v1/devices/pg-1/logs')).body.items.length === 0);
    await h.hangar.services.timeline.recorder.flush();
    expect((await h.call('DELETE', '/api/v1/devices/pg-2')).status).toBe(204);
    const stored = async (): Promise<number> =>
      (await h.hangar.stores.deviceLogs.list({ tenantId: 'default', deviceId: 'pg-2', order: 'asc', limit: 10 })).length +
      (await h.hangar.stores.timeline.list({ tenantId: 'default', deviceId: 'pg-2', order: 'asc', limit: 10 })).length;
    await eventually('the purge of pg-2', async () => (await stored()) === 0);
  });
});
