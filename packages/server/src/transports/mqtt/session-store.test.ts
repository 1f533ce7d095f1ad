import { describe, expect, it } from 'vitest';
import { MqttSessionStore, type Downlink } from './session-store.js';

const message = (topic: string, payload: string, state?: boolean): Downlink => ({ topic, payload: Buffer.from(payload), qos: 1, expiresAt: null, state });

describe('state documents in a session', () => {
  it('a newer state document replaces older ones of its topic in the queue, and nothing else', () => {
    const store = new MqttSessionStore({ maxQueued: 10, now: () => 1000 });
    const { session } = store.open('t', 'd1', false, 60_000);
    store.enqueue(session, message('devices/d1/twin/desired', 'v1', true));
    store.enqueue(session, message('devices/d1/commands/c1', 'cmd'));
    store.enqueue(session, message('devices/d1/twin/desired', 'v2', true));
    store.enqueue(session, message('devices/d1/twin/desired', 'v3', true));
    expect(session.queue?.map((m) => m.payload.toString())).toEqual(['cmd', 'v3']);
  });

  it('expires older state documents still in flight, so a resumed session never sends them again', () => {
    const store = new MqttSessionStore({ maxQueued: 10, now: () => 1000 });
    const { session } = store.open('t', 'd1', false, 60_000);
    const old = message('devices/d1/twin/desired', 'v1', true);
    const command = message('devices/d1/commands/c1', 'cmd');
    session.inflight = new Map([
      [1, old],
      [2, command],
    ]);
    store.enqueue(session, message('devices/d1/twin/desired', 'v2', true));
    expect(old.expiresAt).toBe(0);
    expect(command.expiresAt).toBeNull();
  });
});
