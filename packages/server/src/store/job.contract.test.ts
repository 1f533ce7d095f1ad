import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Job } from '../core/jobs/ports.js';
import type { Stores } from '../core/stores.js';
import { openTestStore, STORE_KINDS, type TestStore } from '../testing/test-store.js';

function job(id: string, fields: Partial<Job> = {}): Job {
  return {
    id,
    tenantId: 'default',
    query: 'tags.site = "x"',
    command: { name: 'reboot', params: { a: 1 }, timeoutSec: 30, ttlSec: 60 },
    ratePerMinute: 60,
    maxConcurrency: 5,
    abort: { failedCount: 3, failedPercent: 12.5, minCompleted: 4 },
    state: 'running',
    targeted: 3,
    reason: null,
    createdBy: 'api_key:k',
    createdAt: 1000,
    finishedAt: null,
    ...fields,
  };
}

describe.each(STORE_KINDS)('the job store on %s', (kind) => {
  // A bare store: no sweeper or job engine moves these rows behind the test's back.
  let ts: TestStore;
  let stores: Stores;

  beforeAll(async () => {
    ts = await openTestStore(kind);
    stores = ts.stores;
    await stores.tenancy.insertTenant({ id: 'default', name: 'Default', createdAt: 1 });
    for (const id of ['js-1', 'js-2', 'js-3']) {
      await stores.devices.insert({ id, tenantId: 'default', type: 'default', status: 'active', tags: {}, attributes: {}, firmwareVersion: null, online: false, lastSeen: null, createdAt: 1, updatedAt: 1 });
    }
  });
  afterAll(async () => {
    await ts.cleanup();
  });

  it('stores a job with its devices in order and tracks what each was issued', async () => {
    const store = stores.jobs;
    const j = job('job_a');
    await store.insert(j, ['js-3', 'js-1', 'js-2']);
    expect(await store.get('default', 'job_a')).toEqual(j);
    expect(await store.get('other', 'job_a')).toBeUndefined();
    expect(await store.nextDevices('job_a', 2)).toEqual(['js-3', 'js-1']);
    await stores.commands.insert(
      { id: 'cmd_j1', tenantId: 'default', deviceId: 'js-3', name: 'reboot', params: {}, timeoutSec: 30, ttlSec: 60, state: 'failed', result: { why: 1 }, error: 'nope', roundTripMs: null, createdBy: 'x', jobId: 'job_a', createdAt: 1, expiresAt: 2, sentAt: null, completedAt: 3 },
      2,
    );
    await store.setCommand('job_a', 'js-3', 'cmd_j1');
    await store.skip('job_a', 'js-1', 'device deleted');
    expect(await store.nextDevices('job_a', 5)).toEqual(['js-2']);
    expect(await store.issueCounts('job_a')).toEqual({ issued: 1, skipped: 1, pending: 1 });
    expect(await store.devices('default', 'job_a', undefined, 10)).toEqual([
      { deviceId: 'js-1', commandId: null, state: null, skipped: 'device deleted', error: null, result: null },
      { deviceId: 'js-2', commandId: null, state: null, skipped: null, error: null, result: null },
      { deviceId: 'js-3', commandId: 'cmd_j1', state: 'failed', skipped: null, error: 'nope', result: { why: 1 } },
    ]);
    expect((await store.devices('default', 'job_a', 'js-1', 1)).map((d) => d.deviceId)).toEqual(['js-2']);
  });

  it('lists newest first, finds running jobs and ends a job once', async () => {
    const store = stores.jobs;
    await store.insert(job('job_b', { abort: { failedCount: null, failedPercent: null, minCompleted: null } }), []);
    expect((await store.list('default', undefined, 10)).map((j) => j.id)).toEqual(['job_b', 'job_a']);
    expect((await store.list('default', 'job_b', 10)).map((j) => j.id)).toEqual(['job_a']);
    expect((await store.running()).map((j) => j.id)).toEqual(['job_a', 'job_b']);
    expect(await store.finish('default', 'job_b', 'aborted', 'too many failures', 5000)).toBe(true);
    expect(await store.finish('default', 'job_b', 'completed', null, 6000)).toBe(false);
    expect(await store.get('default', 'job_b')).toMatchObject({ state: 'aborted', reason: 'too many failures', finishedAt: 5000 });
    expect((await store.running()).map((j) => j.id)).toEqual(['job_a']);
  });
});
