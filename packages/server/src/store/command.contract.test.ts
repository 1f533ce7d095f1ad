import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Command } from '../core/commands/ports.js';
import type { Stores } from '../core/stores.js';
import { openTestStore, STORE_KINDS, type TestStore } from '../testing/test-store.js';

function command(id: string, deviceId: string, fields: Partial<Command> = {}): Command {
  return {
    id,
    tenantId: 'default',
    deviceId,
    name: 'ping',
    params: { n: 1 },
    timeoutSec: 30,
    ttlSec: 60,
    state: 'queued',
    result: null,
    error: null,
    roundTripMs: null,
    createdBy: 'api_key:k',
    jobId: null,
    createdAt: 1000,
    expiresAt: 61_000,
    sentAt: null,
    completedAt: null,
    ...fields,
  };
}

describe.each(STORE_KINDS)('the command store on %s', (kind) => {
  // A bare store: no sweeper or job engine moves these rows behind the test's back.
  let ts: TestStore;
  let stores: Stores;

  beforeAll(async () => {
    ts = await openTestStore(kind);
    stores = ts.stores;
    await stores.tenancy.insertTenant({ id: 'default', name: 'Default', createdAt: 1 });
    for (const id of ['cs-1', 'cs-2', 'cs-3']) {
      await stores.devices.insert({ id, tenantId: 'default', type: 'default', status: 'active', tags: {}, attributes: {}, firmwareVersion: null, online: false, lastSeen: null, createdAt: 1, updatedAt: 1 });
    }
  });
  afterAll(async () => {
    await ts.cleanup();
  });

  it('stores a command and reads it back whole, scoped by tenant', async () => {
    const store = stores.commands;
    const c = command('cmd_a1', 'cs-1', { params: { deep: { list: [1, 'x', null] } }, jobId: 'job_1' });
    await store.insert(c, c.expiresAt);
    expect(await store.get('default', 'cmd_a1')).toEqual(c);
    expect(await store.get('other', 'cmd_a1')).toBeUndefined();
  });

  it('lists newest first with a keyset, filtered by device, state and job', async () => {
    const store = stores.commands;
    for (const id of ['cmd_b1', 'cmd_b2', 'cmd_b3']) await store.insert(command(id, 'cs-2'), 61_000);
    await store.transition('default', 'cmd_b2', ['queued'], { state: 'sent', sentAt: 2000, dueAt: 32_000 });
    expect((await store.list({ tenantId: 'default', deviceId: 'cs-2', limit: 10 })).map((c) => c.id)).toEqual(['cmd_b3', 'cmd_b2', 'cmd_b1']);
    expect((await store.list({ tenantId: 'default', deviceId: 'cs-2', beforeId: 'cmd_b3', limit: 1 })).map((c) => c.id)).toEqual(['cmd_b2']);
    expect((await store.list({ tenantId: 'default', deviceId: 'cs-2', state: 'sent', limit: 10 })).map((c) => c.id)).toEqual(['cmd_b2']);
    expect((await store.list({ tenantId: 'default', jobId: 'job_1', limit: 10 })).map((c) => c.id)).toEqual(['cmd_a1']);
    expect(await store.countByState('default', 'job_1')).toEqual({ queued: 1 });
  });

  it('moves a command only from the states it may leave, once', async () => {
    const store = stores.commands;
    await store.insert(command('cmd_c1', 'cs-3'), 61_000);
    expect(await store.transition('default', 'cmd_c1', ['queued'], { state: 'sent', sentAt: 5000, dueAt: 35_000 })).toBe(true);
    expect(await store.transition('default', 'cmd_c1', ['queued'], { state: 'sent', sentAt: 5001, dueAt: 35_001 })).toBe(false);
    // A revert names the send it undoes: a later send is left alone.
    expect(await store.transition('default', 'cmd_c1', ['sent'], { state: 'queued', sentAt: null, dueAt: 61_000 }, 4999)).toBe(false);
    expect(await store.transition('default', 'cmd_c1', ['queued', 'sent'], { state: 'succeeded', completedAt: 6000, result: { ok: [1] }, error: null, roundTripMs: 1000, dueAt: null })).toBe(true);
    expect(await store.transition('default', 'cmd_c1', ['queued', 'sent'], { state: 'failed', completedAt: 7000, dueAt: null })).toBe(false);
    expect(await store.get('default', 'cmd_c1')).toMatchObject({ state: 'succeeded', sentAt: 5000, completedAt: 6000, result: { ok: [1] }, roundTripMs: 1000 });
  });

  it('finds pending commands until they expire, and due ones for the sweeper', async () => {
    const store = stores.commands;
    await store.insert(command('cmd_d1', 'cs-3', { expiresAt: 10_000 }), 10_000);
    await store.insert(command('cmd_d2', 'cs-3', { expiresAt: 90_000 }), 90_000);
    expect((await store.pending('default', 'cs-3', 9_999, 10)).map((c) => c.id)).toEqual(['cmd_d1', 'cmd_d2']);
    expect((await store.pending('default', 'cs-3', 10_000, 10)).map((c) => c.id)).toEqual(['cmd_d2']);
    expect(await store.devicesWithPending('default', ['cs-1', 'cs-3'], 70_000)).toEqual(['cs-3']);
    const due = (await store.due(40_000, 100)).map((c) => c.id);
    expect(due).toContain('cmd_d1');
    expect(due).not.toContain('cmd_d2');
    expect(due).not.toContain('cmd_c1');
  });
});
