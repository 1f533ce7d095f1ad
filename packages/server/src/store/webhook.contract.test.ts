import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deviceQuery, parseFleetQuery } from '../core/query/index.js';
import type { NewDelivery } from '../core/webhooks/ports.js';
import { sortableId, type Webhook } from '../core/webhooks/webhook.js';
import { STORE_KINDS, openTestStore, type TestStore } from '../testing/test-store.js';

function webhook(id: string, over: Partial<Webhook> = {}): Webhook {
  return { id, tenantId: 't1', url: 'https://example.test/hook', eventTypes: ['device.*'], query: null, enabled: true, description: '', sealedSecret: 'v1:x', createdAt: 1000, updatedAt: 1000, ...over };
}

function delivery(webhookId: string, n: number, over: Partial<NewDelivery> = {}): NewDelivery {
  return { id: sortableId('dlv_', 1_000 + n), tenantId: 't1', webhookId, eventType: 'device.created', eventId: n, payload: JSON.stringify({ n }), createdAt: 1_000 + n, nextAttemptAt: 1_000 + n, ...over };
}

describe.each(STORE_KINDS)('webhook store contract on %s', (kind) => {
  let t: TestStore;

  beforeAll(async () => {
    t = await openTestStore(kind);
    await t.stores.tenancy.insertTenant({ id: 't1', name: 'One', createdAt: 1 });
    await t.stores.tenancy.insertTenant({ id: 't2', name: 'Two', createdAt: 2 });
  });
  afterAll(async () => {
    await t?.cleanup();
  });

  it('stores, lists, updates and scopes webhooks by tenant', async () => {
    const a = webhook('wh_a', { eventTypes: ['alert.*', 'device.connected'], query: 'tags.site = "x"', description: 'ops' });
    await t.stores.webhooks.insert(a);
    await t.stores.webhooks.insert(webhook('wh_b', { tenantId: 't2', enabled: false }));
    expect(await t.stores.webhooks.get('t1', 'wh_a')).toEqual(a);
    expect(await t.stores.webhooks.get('t2', 'wh_a')).toBeUndefined();
    expect((await t.stores.webhooks.list('t1', undefined, 10)).map((w) => w.id)).toEqual(['wh_a']);
    expect(await t.stores.webhooks.count('t1')).toBe(1);
    expect((await t.stores.webhooks.listEnabled()).map((w) => w.id)).toEqual(['wh_a']);
    await t.stores.webhooks.update({ ...a, enabled: false, url: 'http://other.test/', updatedAt: 2000 });
    expect(await t.stores.webhooks.get('t1', 'wh_a')).toMatchObject({ enabled: false, url: 'http://other.test/', updatedAt: 2000, createdAt: 1000 });
    expect([...(await t.stores.webhooks.getMany(['wh_a', 'wh_b', 'nope'])).keys()].sort()).toEqual(['wh_a', 'wh_b']);
    await t.stores.webhooks.update({ ...a, updatedAt: 3000 });
  });

  it('claims due deliveries once, leases them, and takes them again when the lease expires', async () => {
    await t.stores.webhooks.insert(webhook('wh_c'));
    await t.stores.webhooks.insertDeliveries([delivery('wh_c', 1), delivery('wh_c', 2), delivery('wh_c', 3, { nextAttemptAt: 50_000 })]);
    const first = await t.stores.webhooks.claimDue(10_000, 20_000, 10);
    expect(first.map((d) => d.eventId)).toEqual([1, 2]);
    expect(first.every((d) => d.attempt === 1 && d.nextAttemptAt === 20_000 && d.status === 'pending')).toBe(true);
    // Leased: nobody else gets them before the lease ends.
    expect(await t.stores.webhooks.claimDue(15_000, 25_000, 10)).toEqual([]);
    // The worker "died": after the lease they are claimed again, as a second attempt.
    const again = await t.stores.webhooks.claimDue(20_000, 30_000, 1);
    expect(again).toHaveLength(1);
    expect(again[0]!.attempt).toBe(2);
    // An outcome of the stale first claim is refused.
    const stale = first.find((d) => d.id === again[0]!.id)!;
    expect(await t.stores.webhooks.recordOutcome({ id: stale.id, attempt: 1, status: 'delivered', nextAttemptAt: null, statusCode: 200, error: null, at: 21_000, history: [] })).toBe(false);
    expect(await t.stores.webhooks.recordOutcome({ id: stale.id, attempt: 2, status: 'delivered', nextAttemptAt: null, statusCode: 204, error: null, at: 21_000, history: [{ at: 21_000, statusCode: 204, error: null, durationMs: 3 }] })).toBe(true);
    const done = await t.stores.webhooks.getDelivery('t1', 'wh_c', stale.id);
    expect(done).toMatchObject({ status: 'delivered', attempts: 2, lastStatusCode: 204, deliveredAt: 21_000, nextAttemptAt: null, history: [{ at: 21_000, statusCode: 204, error: null, durationMs: 3 }] });
    expect(await t.stores.webhooks.getDelivery('t2', 'wh_c', stale.id)).toBeUndefined();
  });

  it('caps the leases in flight per webhook, so one slow endpoint cannot take every slot', async () => {
    await t.stores.webhooks.insert(webhook('wh_slow'));
    await t.stores.webhooks.insert(webhook('wh_fast'));
    const at = 1e13; // after every row of the other tests: they are claimed here too, filtered out below
    const mine = (rows: { webhookId: string }[]): string[] => rows.map((r) => r.webhookId).filter((w) => w === 'wh_slow' || w === 'wh_fast');
    // The slow webhook's rows are older: without a cap they would fill the whole claim.
    await t.stores.webhooks.insertDeliveries([
      ...Array.from({ length: 6 }, (_, i) => delivery('wh_slow', 100 + i, { id: `dlv_slow${i}` })),
      ...Array.from({ length: 3 }, (_, i) => delivery('wh_fast', 200 + i, { id: `dlv_fast${i}` })),
    ]);
    const first = await t.stores.webhooks.claimDue(at, at + 10_000, 8, 2);
    expect(mine(first).sort()).toEqual(['wh_fast', 'wh_fast', 'wh_slow', 'wh_slow']);
    expect(first.filter((d) => d.webhookId === 'wh_slow').map((d) => d.id)).toEqual(['dlv_slow0', 'dlv_slow1']);
    // Both at the cap: nothing more of theirs until an attempt ends or a lease runs out.
    expect(mine(await t.stores.webhooks.claimDue(at + 1, at + 10_000, 8, 2))).toEqual([]);
    // Leased rows still read as pending, with the lease as their due time.
    const pending = await t.stores.webhooks.listDeliveries({ tenantId: 't1', webhookId: 'wh_slow', status: 'pending', limit: 10 });
    expect(pending).toHaveLength(6);
    expect(await t.stores.webhooks.getDelivery('t1', 'wh_slow', 'dlv_slow0')).toMatchObject({ status: 'pending', attempts: 1, nextAttemptAt: at + 10_000 });
    const fast = first.find((d) => d.webhookId === 'wh_fast')!;
    expect(await t.stores.webhooks.recordOutcome({ id: fast.id, attempt: 1, status: 'delivered', nextAttemptAt: null, statusCode: 200, error: null, at: at + 2, history: [] })).toBe(true);
    expect((await t.stores.webhooks.claimDue(at + 3, at + 10_000, 8, 2)).map((d) => d.id).filter((id) => id.startsWith('dlv_fast') || id.startsWith('dlv_slow'))).toEqual(['dlv_fast2']);
    // A failed attempt waiting for its retry is not in flight: it does not hold a slot.
    const slow = first.find((d) => d.webhookId === 'wh_slow')!;
    await t.stores.webhooks.recordOutcome({ id: slow.id, attempt: 1, status: 'pending', nextAttemptAt: at + 1e9, statusCode: null, error: 'timeout', at: at + 4, history: [] });
    expect((await t.stores.webhooks.claimDue(at + 5, at + 10_000, 8, 2)).map((d) => d.id).filter((id) => id.startsWith('dlv_slow'))).toEqual(['dlv_slow2']);
    // Leases that ran out (their worker died) free the slots; still two at a time, oldest due first.
    const after = await t.stores.webhooks.claimDue(at + 20_000, at + 30_000, 8, 2);
    expect(after.filter((d) => d.webhookId === 'wh_slow').map((d) => [d.id, d.attempt])).toEqual([
      ['dlv_slow3', 1],
      ['dlv_slow4', 1],
    ]);
    // Without a cap the claim takes whatever is due; the rows whose lease ran out come back as their next attempt.
    const all = (await t.stores.webhooks.claimDue(at + 40_000, at + 50_000, 100)).filter((d) => d.webhookId === 'wh_slow');
    expect(all.map((d) => [d.id, d.attempt]).sort()).toEqual([
      ['dlv_slow1', 2],
      ['dlv_slow2', 2],
      ['dlv_slow3', 2],
      ['dlv_slow4', 2],
      ['dlv_slow5', 1],
    ]);
  });

  it('records failures, releases leases without counting them, and re-queues dead deliveries', async () => {
    await t.stores.webhooks.insert(webhook('wh_d'));
    await t.stores.webhooks.insertDeliveries([delivery('wh_d', 10)]);
    const [d] = await t.stores.webhooks.claimDue(100_000, 110_000, 1).then((rows) => rows.filter((r) => r.webhookId === 'wh_d'));
    expect(d).toBeDefined();
    await t.stores.webhooks.release(d!.id, d!.attempt, 100_500);
    expect(await t.stores.webhooks.getDelivery('t1', 'wh_d', d!.id)).toMatchObject({ status: 'pending', attempts: 0, nextAttemptAt: 100_500 });
    const [d2] = (await t.stores.webhooks.claimDue(101_000, 111_000, 10)).filter((r) => r.webhookId === 'wh_d');
    await t.stores.webhooks.recordOutcome({ id: d2!.id, attempt: d2!.attempt, status: 'dead', nextAttemptAt: null, statusCode: 500, error: 'HTTP 500', at: 101_500, history: [] });
    expect(await t.stores.webhooks.listDeliveries({ tenantId: 't1', webhookId: 'wh_d', status: 'dead', limit: 10 })).toHaveLength(1);
    expect(await t.stores.webhooks.listDeliveries({ tenantId: 't1', webhookId: 'wh_d', status: 'pending', limit: 10 })).toHaveLength(0);
    expect(await t.stores.webhooks.requeue('t2', 'wh_d', d2!.id, 102_000)).toBe(false);
    expect(await t.stores.webhooks.requeue('t1', 'wh_d', d2!.id, 102_000)).toBe(true);
    expect(await t.stores.webhooks.requeue('t1', 'wh_d', d2!.id, 102_000)).toBe(false); // pending already
    expect(await t.stores.webhooks.getDelivery('t1', 'wh_d', d2!.id)).toMatchObject({ status: 'pending', attempts: 0, nextAttemptAt: 102_000, lastError: 'HTTP 500' });
  });

  it('does not claim deliveries of disabled webhooks', async () => {
    await t.stores.webhooks.insert(webhook('wh_off', { enabled: false }));
    await t.stores.webhooks.insertDeliveries([delivery('wh_off', 20)]);
    const claimed = await t.stores.webhooks.claimDue(1e12, 1e12 + 1, 100);
    expect(claimed.some((d) => d.webhookId === 'wh_off')).toBe(false);
  });

  it('inserts large outbox batches and pages history newest first', async () => {
    await t.stores.webhooks.insert(webhook('wh_many'));
    const rows = Array.from({ length: 2500 }, (_, i) => delivery('wh_many', i, { id: `dlv_${String(i).padStart(6, '0')}` }));
    await t.stores.webhooks.insertDeliveries(rows);
    const page = await t.stores.webhooks.listDeliveries({ tenantId: 't1', webhookId: 'wh_many', limit: 3 });
    expect(page.map((d) => d.id)).toEqual(['dlv_002499', 'dlv_002498', 'dlv_002497']);
    const next = await t.stores.webhooks.listDeliveries({ tenantId: 't1', webhookId: 'wh_many', beforeId: 'dlv_002497', limit: 2 });
    expect(next.map((d) => d.id)).toEqual(['dlv_002496', 'dlv_002495']);
  });

  it('prunes old delivered and dead rows only, and deleting a webhook removes its deliveries', async () => {
    await t.stores.webhooks.insert(webhook('wh_p'));
    await t.stores.webhooks.insertDeliveries([delivery('wh_p', 1, { id: 'dlv_p1', createdAt: 10 }), delivery('wh_p', 2, { id: 'dlv_p2', createdAt: 10 }), delivery('wh_p', 3, { id: 'dlv_p3', createdAt: 10, nextAttemptAt: 5e12 })]);
    const claimed = await t.stores.webhooks.claimDue(2e12, 2e12 + 1, 5000);
    for (const [id, status] of [['dlv_p1', 'delivered'], ['dlv_p2', 'dead']] as const) {
      const row = claimed.find((d) => d.id === id)!;
      expect(await t.stores.webhooks.recordOutcome({ id, attempt: row.attempt, status, nextAttemptAt: null, statusCode: null, error: null, at: 20, history: [] })).toBe(true);
    }
    const before = await t.stores.webhooks.listDeliveries({ tenantId: 't1', webhookId: 'wh_p', limit: 10 });
    expect(before.map((d) => d.status).sort()).toEqual(['dead', 'delivered', 'pending']);
    expect(await t.stores.webhooks.prune(100, 5)).toBeGreaterThanOrEqual(1); // delivered rows created before 100; dead ones only before 5
    expect((await t.stores.webhooks.listDeliveries({ tenantId: 't1', webhookId: 'wh_p', limit: 10 })).map((d) => d.id).sort()).toEqual(['dlv_p2', 'dlv_p3']);
    expect(await t.stores.webhooks.delete('t1', 'wh_p')).toBe(true);
    expect(await t.stores.webhooks.listDeliveries({ tenantId: 't1', webhookId: 'wh_p', limit: 10 })).toEqual([]);
  });

  it('answers fleet-query membership for a batch of devices in the tenant', async () => {
    const base = { type: 'sensor', status: 'active' as const, attributes: {}, firmwareVersion: null, online: false, lastSeen: null, createdAt: 1, updatedAt: 1 };
    await t.stores.devices.insert({ ...base, id: 'm-1', tenantId: 't1', tags: { site: 'berlin' } });
    await t.stores.devices.insert({ ...base, id: 'm-2', tenantId: 't1', tags: { site: 'paris' } });
    await t.stores.devices.insert({ ...base, id: 'm-3', tenantId: 't2', tags: { site: 'berlin' } });
    const where = deviceQuery(parseFleetQuery('tags.site = "berlin"'), Date.now());
    expect([...(await t.stores.webhooks.devicesMatching('t1', where, ['m-1', 'm-2', 'm-3', 'ghost']))]).toEqual(['m-1']);
  });
});
