import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DomainEvent } from '../../bus/events.js';
import { startTestHangar, type TestHangar } from '../../testing/test-hangar.js';

/** The registry's lifecycle events: the stream, webhooks, transports and alerts act on them. */
describe('device lifecycle events', () => {
  let t: TestHangar;
  const seen: DomainEvent[] = [];
  beforeAll(async () => {
    t = await startTestHangar('sqlite');
    t.hangar.bus.subscribeAll((e) => void seen.push(e));
  });
  afterAll(async () => t?.close());

  it('publishes device.created after a create commits, and nothing for a refused one', async () => {
    expect((await t.call('POST', '/api/v1/devices', { body: { id: 'ev-1' } })).status).toBe(201);
    expect((await t.call('POST', '/api/v1/devices', { body: { id: 'ev-1' } })).status).toBe(409);
    await new Promise((r) => setTimeout(r, 20));
    expect(seen.filter((e) => e.type === 'device.created')).toEqual([{ type: 'device.created', tenantId: 'default', deviceId: 'ev-1' }]);
  });

  it('publishes device.deleted after a delete commits', async () => {
    expect((await t.call('DELETE', '/api/v1/devices/ev-1')).status).toBe(204);
    await new Promise((r) => setTimeout(r, 20));
    expect(seen.filter((e) => e.type === 'device.deleted')).toEqual([{ type: 'device.deleted', tenantId: 'default', deviceId: 'ev-1' }]);
  });
});
