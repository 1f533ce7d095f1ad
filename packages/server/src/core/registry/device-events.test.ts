import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DomainEvent } from '../../bus/events.js';
import { startTestHangar, type TestHangar } from '../../testing/test-hangar.js';
import { STORE_KINDS } from '../../testing/test-store.js';

/** The registry's lifecycle events: the stream, webhooks, transports and alerts act on them. */
describe.each(STORE_KINDS)('device lifecycle events on %s', (kind) => {
  let t: TestHangar;
  const seen: DomainEvent[] = [];
  beforeAll(async () => {
    t = await startTestHangar(kind);
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

  it('publishes device.created for each device a bulk import creates, and none for rows it updates or refuses', async () => {
    const hook = await t.call('POST', '/api/v1/webhooks', { body: { url: 'http://127.0.0.1:9/hook', eventTypes: ['device.created'] } });
    expect(hook.status).toBe(201);
    expect((await t.call('POST', '/api/v1/devices', { body: { id: 'imp-0' } })).status).toBe(201);
    const body = ['{"id":"imp-0","tags":{"a":"1"}}', '{"id":"imp-1"}', '{"id":"imp-2","type":"meter"}', '{"id":"bad id"}'].join('\n') + '\n';
    const res = await t.call('POST', '/api/v1/devices/import', { payload: body, headers: { 'content-type': 'application/x-ndjson' } });
    expect(res.body).toMatchObject({ created: 2, updated: 1, failed: 1 });
    // Long enough for the batched dispatcher (50 ms) too: it must not write these events a second time.
    await new Promise((r) => setTimeout(r, 200));
    const created = seen.filter((e) => e.type === 'device.created' && e.deviceId.startsWith('imp-')).map((e) => (e as { deviceId: string }).deviceId);
    expect(created).toEqual(['imp-0', 'imp-1', 'imp-2']);
    // Their webhook deliveries were written in the import's own transaction.
    const rows = await t.hangar.store.db.selectFrom('webhook_deliveries').select(['event_type', 'payload']).where('webhook_id', '=', hook.body.id as string).execute();
    expect(rows.map((r) => (JSON.parse(r.payload) as { deviceId: string }).deviceId).sort()).toEqual(['imp-0', 'imp-1', 'imp-2']);
  });

  it('lets an alert rule on a device field see an imported device', async () => {
    const rule = await t.call('POST', '/api/v1/alert-rules', { body: { name: 'Meters', severity: 'info', condition: 'type = "meter"' } });
    expect(rule.status).toBe(201);
    const res = await t.call('POST', '/api/v1/devices/import', { payload: '{"id":"imp-m","type":"meter"}\n', headers: { 'content-type': 'application/x-ndjson' } });
    expect(res.body).toMatchObject({ created: 1 });
    const deadline = Date.now() + 5_000;
    let alerts: Array<{ deviceId: string }> = [];
    while (Date.now() < deadline) {
      alerts = (await t.call('GET', '/api/v1/alerts?state=raised')).body.items;
      if (alerts.some((a) => a.deviceId === 'imp-m')) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(alerts.map((a) => a.deviceId)).toContain('imp-m');
  });
});
