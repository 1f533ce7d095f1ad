import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startListeningHangar, type ListeningHangar } from './api/events-fixture.js';

/**
 * What a stopping Hangar publishes last — the disconnect of every device this node held — still
 * reaches webhooks: the outbox keeps listening until the services that publish have stopped.
 */
describe('events published while Hangar stops', () => {
  let h: ListeningHangar;
  let rx: Server;
  const received: Array<{ type: string; deviceId: string; reason?: string }> = [];
  beforeAll(async () => {
    rx = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const e = JSON.parse(body);
        received.push({ type: e.type, deviceId: e.deviceId, reason: e.data?.reason });
        res.end('ok');
      });
    });
    await new Promise<void>((r) => rx.listen(0, '127.0.0.1', r));
    h = await startListeningHangar('sqlite', { webhooks: { baseDelayMs: 20, maxDelayMs: 60, pollMs: 20, flushMs: 5, timeoutMs: 5_000 } });
  });
  afterAll(async () => {
    await h?.close();
    await new Promise<void>((r) => rx.close(() => r()));
  });

  it('delivers the shutdown disconnects after the restart', async () => {
    const url = `http://127.0.0.1:${(rx.address() as AddressInfo).port}/hook`;
    expect((await h.call('POST', '/api/v1/webhooks', { body: { url, eventTypes: ['device.disconnected'] } })).status).toBe(201);
    expect((await h.call('POST', '/api/v1/devices', { body: { id: 'bye-1' } })).status).toBe(201);
    await h.hangar.services.presence.connected({ tenantId: 'default', deviceId: 'bye-1', credentialId: 'c' }, 'mqtt', '127.0.0.1');
    await h.restart();
    const until = Date.now() + 10_000;
    while (!received.some((e) => e.deviceId === 'bye-1') && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(received).toContainEqual(expect.objectContaining({ type: 'device.disconnected', deviceId: 'bye-1' }));
  });
});
