import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DomainEvent } from '../../bus/events.js';
import { startTestHangar, type TestHangar } from '../../testing/test-hangar.js';

/**
 * A device's steps in a rollout on its timeline: one `ota.update` entry per state of each
 * rollout (download progress makes no entries of its own), the offer notifications none.
 */
describe('OTA updates on the device timeline', () => {
  let t: TestHangar;

  beforeAll(async () => {
    t = await startTestHangar('sqlite', { timeline: { flushDelayMs: 1 } });
  });
  afterAll(async () => {
    await t?.close();
  });

  async function entries(id: string): Promise<Array<{ type: string; data: Record<string, unknown> }>> {
    await new Promise((r) => setImmediate(r));
    await t.hangar.services.timeline.recorder.flush();
    const res = await t.call('GET', `/api/v1/devices/${id}/events?order=asc&types=ota.*`);
    expect(res.status).toBe(200);
    return (res.body.items as Array<{ type: string; data: Record<string, unknown> }>).map((e) => ({ type: e.type, data: e.data }));
  }

  const step = (deviceId: string, rolloutId: string, state: string, reason: string | null = null): DomainEvent => ({ type: 'rollout.device.state', tenantId: 'default', deviceId, rolloutId, state, reason });

  it('records each state once, in order, with the rollout and the failure reason', async () => {
    expect((await t.call('POST', '/api/v1/devices', { body: { id: 'tl-ota' } })).status).toBe(201);
    const events: DomainEvent[] = [
      step('tl-ota', 'r-1', 'offered'),
      { type: 'ota.offer.changed', tenantId: 'default', deviceId: 'tl-ota', rolloutId: 'r-1' },
      step('tl-ota', 'r-1', 'downloading'),
      // Progress reports: the same state again, no new entry.
      step('tl-ota', 'r-1', 'downloading'),
      step('tl-ota', 'r-1', 'downloading'),
      step('tl-ota', 'r-1', 'downloaded'),
      step('tl-ota', 'r-1', 'installing'),
      step('tl-ota', 'r-1', 'failed', 'self_test'),
      // A later rollout starts over, even in a state the device was in before.
      step('tl-ota', 'r-2', 'offered'),
      step('tl-ota', 'r-2', 'downloading'),
    ];
    for (const e of events) t.hangar.bus.publish(e);
    expect(await entries('tl-ota')).toEqual([
      { type: 'ota.update', data: { rolloutId: 'r-1', state: 'offered', reason: null } },
      { type: 'ota.update', data: { rolloutId: 'r-1', state: 'downloading', reason: null } },
      { type: 'ota.update', data: { rolloutId: 'r-1', state: 'downloaded', reason: null } },
      { type: 'ota.update', data: { rolloutId: 'r-1', state: 'installing', reason: null } },
      { type: 'ota.update', data: { rolloutId: 'r-1', state: 'failed', reason: 'self_test' } },
      { type: 'ota.update', data: { rolloutId: 'r-2', state: 'offered', reason: null } },
      { type: 'ota.update', data: { rolloutId: 'r-2', state: 'downloading', reason: null } },
    ]);
  });

  it('keeps devices apart: one device’s progress does not hide another’s', async () => {
    for (const id of ['tl-ota-a', 'tl-ota-b']) expect((await t.call('POST', '/api/v1/devices', { body: { id } })).status).toBe(201);
    for (const e of [step('tl-ota-a', 'r-3', 'downloading'), step('tl-ota-b', 'r-3', 'downloading'), step('tl-ota-a', 'r-3', 'downloading')]) t.hangar.bus.publish(e);
    expect((await entries('tl-ota-a')).map((e) => e.data.state)).toEqual(['downloading']);
    expect((await entries('tl-ota-b')).map((e) => e.data.state)).toEqual(['downloading']);
  });
});
