import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DomainEvent } from '../bus/events.js';
import { STORE_KINDS } from '../testing/test-store.js';
import { startListeningHangar, type ListeningHangar } from './events-fixture.js';

interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A webhook receiver on a real loopback socket; each path answers from its script (then 200). */
class Receiver {
  readonly received: Received[] = [];
  private readonly scripts = new Map<string, Array<number | 'hang'>>();
  private readonly hanging = new Set<http.ServerResponse>();
  private server!: http.Server;
  base = '';

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => {
        const path = req.url ?? '/';
        this.received.push({ path, headers: req.headers, body });
        const step = this.scripts.get(path)?.shift() ?? 200;
        if (step === 'hang') {
          this.hanging.add(res);
          res.on('close', () => this.hanging.delete(res));
          return;
        }
        res.writeHead(step, { 'content-type': 'text/plain' }).end(step >= 400 ? 'receiver says no' : 'ok');
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  script(path: string, steps: Array<number | 'hang'>): void {
    this.scripts.set(path, [...steps]);
  }

  on(path: string): Received[] {
    return this.received.filter((r) => r.path === path);
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** What a receiver does: recompute the HMAC over `timestamp.body` and compare in constant time. */
function verify(secret: string, r: Received): boolean {
  const expected = `sha256=${createHmac('sha256', secret).update(`${String(r.headers['x-hangar-timestamp'])}.${r.body}`).digest('hex')}`;
  const given = String(r.headers['x-hangar-signature'] ?? '');
  return given.length === expected.length && timingSafeEqual(Buffer.from(given), Buffer.from(expected));
}

async function eventually<T>(what: string, probe: () => Promise<T | undefined | false>): Promise<T> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Milliseconds instead of seconds, so retries and dead letters happen within a test. */
const WEBHOOK_OPTIONS = { baseDelayMs: 20, maxDelayMs: 60, jitter: 0.5, pollMs: 20, maxAttempts: 3, timeoutMs: 1_000, leaseGraceMs: 200, flushMs: 5 };

describe.each(STORE_KINDS)('webhooks on %s', (kind) => {
  let h: ListeningHangar;
  let rx: Receiver;
  let viewer: string;
  const publish = (e: DomainEvent): void => h.hangar.bus.publish(e);
  const telemetry = (deviceId: string, temp: number): DomainEvent => ({ type: 'telemetry.received', tenantId: 'default', deviceId, ts: 1, values: { temp } });
  const create = async (body: Record<string, unknown>): Promise<{ id: string; secret: string }> => {
    const res = await h.call('POST', '/api/v1/webhooks', { body });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body;
  };
  const deliveries = async (id: string, status?: string): Promise<any[]> => (await h.call('GET', `/api/v1/webhooks/${id}/deliveries${status ? `?status=${status}` : ''}`)).body.items;

  beforeAll(async () => {
    rx = new Receiver();
    await rx.start();
    h = await startListeningHangar(kind, { webhooks: WEBHOOK_OPTIONS });
    viewer = (await h.call('POST', '/api/v1/api-keys', { body: { name: 'viewer', role: 'viewer' } })).body.token;
    for (const [id, site] of [['b-1', 'berlin'], ['p-1', 'paris']] as const) {
      expect((await h.call('POST', '/api/v1/devices', { body: { id, tags: { site } } })).status).toBe(201);
    }
  });
  afterAll(async () => {
    await h?.close();
    await rx?.close();
  });

  it('creates, reads, updates and deletes webhooks; the secret is shown once; writes are audited', async () => {
    const res = await h.call('POST', '/api/v1/webhooks', { body: { url: `${rx.base}/crud`, eventTypes: ['device.*'], description: 'ops' } });
    expect(res.status).toBe(201);
    expect(res.headers.location).toBe(`/api/v1/webhooks/${res.body.id}`);
    expect(res.body).toMatchObject({ url: `${rx.base}/crud`, eventTypes: ['device.*'], query: null, enabled: true, description: 'ops' });
    expect(res.body.secret).toMatch(/^whsec_[A-Za-z0-9_-]{40,}$/);
    const id = res.body.id as string;
    const got = await h.call('GET', `/api/v1/webhooks/${id}`, { token: viewer });
    expect(got.status).toBe(200);
    expect(got.body.secret).toBeUndefined();
    expect((await h.call('GET', '/api/v1/webhooks', { token: viewer })).body.items.map((w: { id: string }) => w.id)).toContain(id);
    const patched = await h.call('PATCH', `/api/v1/webhooks/${id}`, { body: { enabled: false, query: 'tags.site = "berlin"', eventTypes: ['alert.*'] } });
    expect(patched.body).toMatchObject({ enabled: false, query: 'tags.site = "berlin"', eventTypes: ['alert.*'] });
    expect((await h.call('PATCH', `/api/v1/webhooks/${id}`, { body: { query: null } })).body.query).toBeNull();
    // Viewers read, operators write.
    expect((await h.call('PATCH', `/api/v1/webhooks/${id}`, { body: { enabled: true }, token: viewer })).status).toBe(403);
    expect((await h.call('POST', '/api/v1/webhooks', { body: { url: `${rx.base}/x`, eventTypes: ['*'] }, token: viewer })).status).toBe(403);
    expect((await h.call('POST', `/api/v1/webhooks/${id}/rotate-secret`, { token: viewer })).status).toBe(403);
    const actions = (await h.call('GET', `/api/v1/audit?targetId=${id}`)).body.items.map((e: { action: string }) => e.action);
    expect(actions.sort()).toEqual(['webhook.create', 'webhook.update', 'webhook.update']);
    expect(JSON.stringify((await h.call('GET', `/api/v1/audit?targetId=${id}`)).body)).not.toContain(res.body.secret);
    expect((await h.call('DELETE', `/api/v1/webhooks/${id}`)).status).toBe(204);
    expect((await h.call('GET', `/api/v1/webhooks/${id}`)).status).toBe(404);
    expect((await h.call('DELETE', `/api/v1/webhooks/${id}`)).status).toBe(404);
  });

  it('refuses bad input with a 400 and stores nothing', async () => {
    const before = { hooks: (await h.call('GET', '/api/v1/webhooks')).body.items.length, audit: (await h.call('GET', '/api/v1/audit?limit=1000')).body.items.length };
    const cases: Array<[string, Record<string, unknown>, RegExp]> = [
      ['not a URL', { url: 'not a url', eventTypes: ['*'] }, /not an absolute URL/],
      ['a non-http scheme', { url: 'ftp://example.test/x', eventTypes: ['*'] }, /scheme "ftp" is not allowed/],
      ['javascript:', { url: 'javascript:alert(1)', eventTypes: ['*'] }, /scheme "javascript" is not allowed/],
      ['credentials in the URL', { url: 'https://u:p@example.test/x', eventTypes: ['*'] }, /user name or password/],
      ['an unknown event type', { url: `${rx.base}/x`, eventTypes: ['device.exploded'] }, /unknown event type "device.exploded"/],
      ['an unknown prefix', { url: `${rx.base}/x`, eventTypes: ['gizmo.*'] }, /unknown event type "gizmo.\*"/],
      ['no event types', { url: `${rx.base}/x`, eventTypes: [] }, /eventTypes/],
      ['a bad fleet query', { url: `${rx.base}/x`, eventTypes: ['*'], query: 'tags.site = ' }, /./],
      ['a short secret', { url: `${rx.base}/x`, eventTypes: ['*'], secret: 'short' }, /secret/],
      ['an unknown field', { url: `${rx.base}/x`, eventTypes: ['*'], colour: 'red' }, /unknown field "colour"/],
    ];
    for (const [what, body, detail] of cases) {
      const res = await h.call('POST', '/api/v1/webhooks', { body });
      expect(res.status, what).toBe(400);
      expect(res.body.detail, what).toMatch(detail);
      if (what === 'a bad fleet query') expect(res.body).toMatchObject({ code: 'INVALID_QUERY', position: expect.any(Number) });
    }
    const { id } = await create({ url: `${rx.base}/bad-patch`, eventTypes: ['alert.*'] });
    for (const body of [{ url: 'gopher://x' }, { eventTypes: ['nope'] }, { query: 'online = ' }, {}]) {
      expect((await h.call('PATCH', `/api/v1/webhooks/${id}`, { body })).status).toBe(400);
    }
    expect((await h.call('GET', `/api/v1/webhooks/${id}`)).body).toMatchObject({ url: `${rx.base}/bad-patch`, eventTypes: ['alert.*'], query: null });
    expect((await h.call('GET', '/api/v1/webhooks')).body.items.length).toBe(before.hooks + 1);
    expect((await h.call('GET', '/api/v1/audit?limit=1000')).body.items.length).toBe(before.audit + 1);
    await h.call('DELETE', `/api/v1/webhooks/${id}`);
  });

  it('delivers matching events, signed, with the documented headers and body', async () => {
    const { id, secret } = await create({ url: `${rx.base}/signed`, eventTypes: ['device.deleted'] });
    await h.call('POST', '/api/v1/devices', { body: { id: 'gone-1' } });
    await h.call('DELETE', '/api/v1/devices/gone-1');
    const r = await eventually('a delivery', async () => rx.on('/signed')[0]);
    expect(verify(secret, r)).toBe(true);
    expect(verify('whsec_wrong', r)).toBe(false);
    expect(r.headers['content-type']).toBe('application/json');
    expect(r.headers['x-hangar-event']).toBe('device.deleted');
    expect(Math.abs(Number(r.headers['x-hangar-timestamp']) - Date.now() / 1000)).toBeLessThan(300);
    const body = JSON.parse(r.body);
    expect(body).toMatchObject({ type: 'device.deleted', tenant: 'default', deviceId: 'gone-1', data: {} });
    expect(typeof body.id).toBe('number');
    const [d] = await eventually('delivered', async () => {
      const items = await deliveries(id, 'delivered');
      return items.length === 1 ? items : undefined;
    });
    expect(d).toMatchObject({ id: r.headers['x-hangar-delivery'], status: 'delivered', attempts: 1, lastStatusCode: 200, lastError: null, nextAttemptAt: null, eventType: 'device.deleted', eventId: body.id });
    const full = await h.call('GET', `/api/v1/webhooks/${id}/deliveries/${d.id}`);
    expect(full.body.payload).toEqual(body);
    expect(full.body.history).toHaveLength(1);
  });

  it('retries failures with backoff until the receiver accepts', async () => {
    rx.script('/flaky', [500, 503]);
    const { id } = await create({ url: `${rx.base}/flaky`, eventTypes: ['telemetry.received'], query: 'tags.site = "berlin"' });
    publish(telemetry('p-1', 1)); // filtered out by the query
    publish(telemetry('b-1', 2));
    const d = await eventually('delivered after retries', async () => (await deliveries(id, 'delivered'))[0]);
    expect(d).toMatchObject({ attempts: 3, lastStatusCode: 200, lastError: null });
    expect(rx.on('/flaky')).toHaveLength(3);
    // One event, so one delivery id across the attempts.
    expect(new Set(rx.on('/flaky').map((r) => r.headers['x-hangar-delivery']))).toEqual(new Set([d.id]));
    const full = (await h.call('GET', `/api/v1/webhooks/${id}/deliveries/${d.id}`)).body;
    expect(full.history.map((a: { statusCode: number }) => a.statusCode)).toEqual([500, 503, 200]);
    expect(full.history[0].error).toMatch(/HTTP 500: receiver says no/);
    expect((await deliveries(id)).map((x) => JSON.parse(rx.on('/flaky')[0]!.body).deviceId + x.status)).toEqual(['b-1delivered']);
  });

  it('marks a delivery dead after the last attempt, shows it, and re-queues it on request', async () => {
    rx.script('/down', [500, 500, 500]);
    const { id } = await create({ url: `${rx.base}/down`, eventTypes: ['alert.raised'] });
    publish({ type: 'alert.raised', tenantId: 'default', deviceId: 'b-1', alertId: 'a1', ruleId: 'r1', ruleName: 'hot', severity: 'major', message: 'too hot' });
    const dead = await eventually('a dead delivery', async () => (await deliveries(id, 'dead'))[0]);
    expect(dead).toMatchObject({ status: 'dead', attempts: 3, lastStatusCode: 500, nextAttemptAt: null });
    expect(dead.lastError).toMatch(/^HTTP 500/);
    expect(await deliveries(id, 'pending')).toEqual([]);
    const retried = await h.call('POST', `/api/v1/webhooks/${id}/deliveries/${dead.id}/retry`);
    expect(retried.status).toBe(202);
    expect(retried.body).toMatchObject({ status: 'pending', attempts: 0 });
    const delivered = await eventually('delivered after the retry', async () => (await deliveries(id, 'delivered'))[0]);
    expect(delivered).toMatchObject({ id: dead.id, attempts: 1, lastStatusCode: 200 });
    expect((await h.call('GET', `/api/v1/audit?targetId=${id}&action=webhook.delivery.retry`)).body.items).toHaveLength(1);
    expect((await h.call('POST', `/api/v1/webhooks/${id}/deliveries/dlv_nope/retry`)).status).toBe(404);
    expect((await h.call('POST', `/api/v1/webhooks/${id}/deliveries/${dead.id}/retry`, { token: viewer })).status).toBe(403);
  });

  it('counts a receiver that never answers as a failed attempt (timeout)', async () => {
    rx.script('/silent', ['hang', 'hang', 'hang']);
    const { id } = await create({ url: `${rx.base}/silent`, eventTypes: ['device.disconnected'] });
    publish({ type: 'device.disconnected', tenantId: 'default', deviceId: 'b-1', protocol: 'mqtt', sessionId: 's', reason: 'bye', at: 1 });
    const dead = await eventually('a dead delivery', async () => (await deliveries(id, 'dead'))[0]);
    expect(dead).toMatchObject({ attempts: 3, lastStatusCode: null });
    expect(dead.lastError).toMatch(/no answer within 1000 ms/);
  });

  it('sends a test ping on request, and signs with a rotated secret from then on', async () => {
    const { id, secret } = await create({ url: `${rx.base}/ping`, eventTypes: ['alert.cleared'] });
    const queued = await h.call('POST', `/api/v1/webhooks/${id}/test`);
    expect(queued.status).toBe(202);
    expect(queued.body).toMatchObject({ eventType: 'webhook.test', status: 'pending' });
    const ping = await eventually('the ping', async () => rx.on('/ping')[0]);
    expect(ping.headers['x-hangar-event']).toBe('webhook.test');
    expect(JSON.parse(ping.body)).toMatchObject({ type: 'webhook.test', tenant: 'default', data: { webhookId: id } });
    expect(verify(secret, ping)).toBe(true);
    const rotated = await h.call('POST', `/api/v1/webhooks/${id}/rotate-secret`);
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).not.toBe(secret);
    const given = await h.call('POST', `/api/v1/webhooks/${id}/rotate-secret`, { body: { secret: 'my-own-secret-of-32-characters!!' } });
    expect(given.body.secret).toBe('my-own-secret-of-32-characters!!');
    await h.call('POST', `/api/v1/webhooks/${id}/test`);
    const second = await eventually('the second ping', async () => rx.on('/ping')[1]);
    expect(verify('my-own-secret-of-32-characters!!', second)).toBe(true);
    expect(verify(secret, second)).toBe(false);
  });

  it('keeps each tenant’s webhooks and events apart', async () => {
    const acme = (await h.call('POST', '/api/v1/tenants', { body: { id: 'acme', name: 'Acme' } })).body.adminApiKey.token as string;
    const { id } = await create({ url: `${rx.base}/default-only`, eventTypes: ['telemetry.received'] });
    expect((await h.call('GET', `/api/v1/webhooks/${id}`, { token: acme })).status).toBe(404);
    expect((await h.call('GET', '/api/v1/webhooks', { token: acme })).body.items).toEqual([]);
    const theirs = await h.call('POST', '/api/v1/webhooks', { body: { url: `${rx.base}/acme-only`, eventTypes: ['telemetry.received'] }, token: acme });
    expect(theirs.status).toBe(201);
    h.hangar.bus.publish({ type: 'telemetry.received', tenantId: 'acme', deviceId: 'a-1', ts: 1, values: { x: 1 } });
    publish(telemetry('b-1', 42));
    await eventually('both deliveries', async () => rx.on('/acme-only').length >= 1 && rx.on('/default-only').length >= 1);
    expect(rx.on('/acme-only').map((r) => JSON.parse(r.body).tenant)).toEqual(['acme']);
    expect(rx.on('/default-only').every((r) => JSON.parse(r.body).tenant === 'default')).toBe(true);
    await h.call('DELETE', `/api/v1/webhooks/${id}`);
  });

  it('delivers after a restart what was in flight when the server stopped', async () => {
    rx.script('/restart', ['hang']);
    const { id } = await create({ url: `${rx.base}/restart`, eventTypes: ['device.recommissioned'] });
    publish({ type: 'device.recommissioned', tenantId: 'default', deviceId: 'b-1' });
    await eventually('the first attempt to arrive', async () => rx.on('/restart').length === 1);
    // The attempt in flight is aborted; its lease is given back. (A generous timeout after the
    // restart: startup work can block this process's event loop, receiver included, for a while.)
    await h.restart({ webhooks: { ...WEBHOOK_OPTIONS, timeoutMs: 15_000 } });
    const d = await eventually('delivered after the restart', async () => (await deliveries(id, 'delivered'))[0]);
    expect(rx.on('/restart')).toHaveLength(2);
    expect(new Set(rx.on('/restart').map((r) => r.headers['x-hangar-delivery']))).toEqual(new Set([d.id]));
    expect(d.attempts).toBe(1); // the aborted attempt is not counted against the budget
  });

  it('takes over a delivery whose worker died mid-attempt once its lease expires', async () => {
    const { id } = await create({ url: `${rx.base}/orphan`, eventTypes: ['device.enrolled'] });
    const now = Date.now();
    // As a worker leaves a row it had leased (attempt counted, next_attempt_at = lease end) when its process is killed.
    await h.hangar.store.db
      .insertInto('webhook_deliveries')
      .values({ id: `dlv_orphan${now}`, tenant_id: 'default', webhook_id: id, event_type: 'device.enrolled', event_id: 1, payload: '{"id":1,"type":"device.enrolled"}', status: 'pending', attempts: 1, next_attempt_at: now + 300, last_status_code: null, last_error: null, last_attempt_at: null, history: '[]', created_at: now, delivered_at: null })
      .execute();
    const d = await eventually('delivered after the lease', async () => (await deliveries(id, 'delivered'))[0]);
    expect(d).toMatchObject({ id: `dlv_orphan${now}`, attempts: 2, lastStatusCode: 200 });
    expect(rx.on('/orphan')).toHaveLength(1);
  });

  it('queues telemetry bursts only for webhooks subscribed to telemetry, and delivers every event', async () => {
    const bulk = await create({ url: `${rx.base}/bulk`, eventTypes: ['telemetry.received'], query: 'tags.site = "berlin"' });
    const alerts = await create({ url: `${rx.base}/alerts-only`, eventTypes: ['alert.*'] });
    for (let i = 0; i < 600; i++) publish(telemetry(i % 3 === 0 ? 'p-1' : 'b-1', i));
    await eventually('400 deliveries', async () => rx.on('/bulk').length >= 400);
    const temps = rx.on('/bulk').map((r) => JSON.parse(r.body).data.values.temp as number);
    expect(new Set(temps).size).toBe(400);
    expect(temps.every((t) => t % 3 !== 0)).toBe(true);
    expect(await deliveries(alerts.id)).toEqual([]);
    expect(rx.on('/alerts-only')).toEqual([]);
    await eventually('all recorded as delivered', async () => (await deliveries(bulk.id, 'pending')).length === 0);
  });

  it('keeps delivering to other webhooks while one endpoint swallows every request', async () => {
    // A host that accepts the connection and never answers: each attempt holds its slot until the timeout.
    const held = new Set<net.Socket>();
    const blackHole = net.createServer((socket) => {
      held.add(socket);
      socket.on('close', () => held.delete(socket));
    });
    await new Promise<void>((resolve) => blackHole.listen(0, '127.0.0.1', resolve));
    // A timeout far beyond the test: without the per-webhook cap the healthy receiver would wait for it.
    const other = await startListeningHangar(kind, { webhooks: { ...WEBHOOK_OPTIONS, timeoutMs: 120_000, concurrency: 8, maxInFlightPerWebhook: 2 } });
    try {
      const add = async (url: string, eventTypes: string[]): Promise<string> => {
        const res = await other.call('POST', '/api/v1/webhooks', { body: { url, eventTypes } });
        expect(res.status).toBe(201);
        return res.body.id;
      };
      const dead = await add(`http://127.0.0.1:${(blackHole.address() as AddressInfo).port}/hook`, ['alert.raised']);
      const healthy = await add(`${rx.base}/healthy`, ['alert.cleared']);
      const alert = { tenantId: 'default', deviceId: 'b-1', ruleId: 'r1', severity: 'major' } as const;
      for (let i = 0; i < 12; i++) other.hangar.bus.publish({ type: 'alert.raised', ...alert, alertId: `a${i}`, ruleName: 'hot', message: 'hot' });
      await eventually('the black hole to hold two attempts', async () => held.size === 2);
      for (let i = 0; i < 5; i++) other.hangar.bus.publish({ type: 'alert.cleared', ...alert, alertId: `a${i}`, by: 'auto' });
      const list = async (id: string, status: string): Promise<any[]> => (await other.call('GET', `/api/v1/webhooks/${id}/deliveries?status=${status}`)).body.items;
      await eventually('the healthy webhook’s deliveries', async () => (await list(healthy, 'delivered')).length === 5);
      expect(rx.on('/healthy')).toHaveLength(5);
      // Meanwhile the black hole still holds its two attempts, and no more: none of its deliveries has an outcome yet.
      expect(held.size).toBe(2);
      const stuck = await list(dead, 'pending');
      expect(stuck).toHaveLength(12);
      expect(stuck.filter((d) => d.attempts === 1)).toHaveLength(2);
      expect(stuck.every((d) => d.lastAttemptAt === null)).toBe(true);
    } finally {
      await other.close(); // aborts the two attempts in flight
      for (const socket of held) socket.destroy();
      await new Promise<void>((resolve) => blackHole.close(() => resolve()));
    }
  });
});
