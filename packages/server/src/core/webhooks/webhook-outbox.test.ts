import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHangar, type Hangar } from '../../app.js';
import { ChangeEvents } from '../events/change-events.js';
import { EventLog } from '../events/event-log.js';
import { WebhookOutbox } from './webhook-outbox.js';

/**
 * The transactional outbox: a change's webhook deliveries are written in the change's own
 * transaction. They exist the moment the change is answered, roll back with it, and survive a
 * process that stops right after the commit. Real SQLite files and a real receiver.
 */
describe('webhook deliveries written with their change', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'hangar-outbox-'));
  const adminToken = `hk_test_${randomBytes(18).toString('base64url')}`;
  const received: Array<{ event: string; body: { type: string; deviceId?: string; id: number } }> = [];
  let receiver: http.Server;
  let url = '';
  let hangar: Hangar | undefined;

  /** Batched outbox writes (the path before this change) would wait a minute: only the transactional one is seen. */
  async function open(): Promise<Hangar> {
    return createHangar({ dataDir, adminToken, logger: pino({ level: 'silent' }), webRoot: join(dataDir, 'no-web'), webhooks: { flushMs: 60_000, pollMs: 20, baseDelayMs: 20, maxDelayMs: 60, timeoutMs: 2_000 } });
  }

  async function call(h: Hangar, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
    const res = await h.http.inject({ method: method as 'POST', url: path, headers: { authorization: `Bearer ${adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { payload: JSON.stringify(body) }) });
    return { status: res.statusCode, body: res.body === '' ? undefined : JSON.parse(res.body) };
  }

  async function deliveriesOf(h: Hangar, deviceId: string): Promise<Array<{ event_type: string; payload: string }>> {
    const rows = await h.store.db.selectFrom('webhook_deliveries').select(['event_type', 'payload']).execute();
    return rows.filter((r) => (JSON.parse(r.payload) as { deviceId?: string }).deviceId === deviceId);
  }

  beforeAll(async () => {
    receiver = http.createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => {
        received.push({ event: String(req.headers['x-hangar-event']), body: JSON.parse(body) });
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    hangar = await open();
    expect((await call(hangar, 'POST', '/api/v1/webhooks', { url, eventTypes: ['device.*'] })).status).toBe(201);
  });
  afterAll(async () => {
    await hangar?.close();
    receiver.closeAllConnections();
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('has the delivery row as soon as the change is answered', async () => {
    const h = hangar!;
    expect((await call(h, 'POST', '/api/v1/devices', { id: 'ob-1' })).status).toBe(201);
    const rows = await deliveriesOf(h, 'ob-1');
    expect(rows.map((r) => r.event_type)).toEqual(['device.created']);
    expect(JSON.parse(rows[0]!.payload)).toMatchObject({ type: 'device.created', tenant: 'default', deviceId: 'ob-1', id: expect.any(Number) });
  });

  it('leaves no delivery for a change that is refused or rolled back', async () => {
    const h = hangar!;
    expect((await call(h, 'POST', '/api/v1/devices', { id: 'ob-2', groups: ['no-such-group'] })).status).toBe(404);
    expect(await deliveriesOf(h, 'ob-2')).toEqual([]);
    // Rows staged in a transaction that then fails go with it.
    const outbox = new WebhookOutbox({ log: new EventLog(), now: Date.now });
    const events = new ChangeEvents(undefined);
    events.attachOutbox(outbox);
    await expect(
      h.stores.transaction(async (tx) => {
        await events.stage(tx, [{ type: 'device.deleted', tenantId: 'default', deviceId: 'ob-2' }]);
        expect(await tx.webhooks.listDeliveries({ tenantId: 'default', webhookId: (await tx.webhooks.list('default', undefined, 1))[0]!.id, limit: 1000 })).toContainEqual(expect.objectContaining({ eventType: 'device.deleted' }));
        throw new Error('the change fails after its events were staged');
      }),
    ).rejects.toThrow('staged');
    expect(await deliveriesOf(h, 'ob-2')).toEqual([]);
  });

  it('delivers after a restart what was committed right before the process stopped', async () => {
    const h = hangar!;
    expect((await call(h, 'POST', '/api/v1/devices', { id: 'ob-3' })).status).toBe(201);
    // The process stops right after the commit: nothing it would do afterwards reaches the database.
    await h.store.close();
    await h.close().catch(() => undefined);
    hangar = await open();
    const deadline = Date.now() + 10_000;
    while (!received.some((r) => r.body.deviceId === 'ob-3') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 25));
    expect(received.filter((r) => r.body.deviceId === 'ob-3').map((r) => r.event)).toEqual(['device.created']);
  });
});
