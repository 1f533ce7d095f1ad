import { describe, expect, it } from 'vitest';
import { InProcessEventBus } from './event-bus.js';

describe('in-process event bus', () => {
  it('delivers events to subscribers of their type only, after the publisher returns', async () => {
    const bus = new InProcessEventBus();
    const seen: string[] = [];
    bus.subscribe('device.created', (e) => void seen.push(`created ${e.deviceId}`));
    bus.subscribe('device.deleted', (e) => void seen.push(`deleted ${e.deviceId}`));
    bus.publish({ type: 'device.created', tenantId: 't', deviceId: 'd1' });
    expect(seen).toEqual([]);
    await new Promise((r) => setImmediate(r));
    expect(seen).toEqual(['created d1']);
  });

  it('keeps delivering to others when one handler throws, and stops after unsubscribe', async () => {
    const bus = new InProcessEventBus();
    const seen: string[] = [];
    bus.subscribe('device.created', () => {
      throw new Error('boom');
    });
    const off = bus.subscribe('device.created', (e) => void seen.push(e.deviceId));
    bus.publish({ type: 'device.created', tenantId: 't', deviceId: 'a' });
    await new Promise((r) => setImmediate(r));
    off();
    bus.publish({ type: 'device.created', tenantId: 't', deviceId: 'b' });
    await new Promise((r) => setImmediate(r));
    expect(seen).toEqual(['a']);
  });
});
