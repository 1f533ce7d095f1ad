import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { InProcessEventBus } from './event-bus.js';

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A real pino logger whose lines the test reads. */
function capturingLogger(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'error' }, sink), lines };
}

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

  it('logs a throwing and a rejecting handler, and neither reaches the publisher or the other handlers', async () => {
    const { logger, lines } = capturingLogger();
    const bus = new InProcessEventBus(logger);
    const seen: string[] = [];
    bus.subscribe('device.created', () => {
      throw new Error('sync boom');
    });
    bus.subscribe('device.created', async () => {
      await Promise.resolve();
      throw new Error('async boom');
    });
    bus.subscribeAll((e) => void seen.push(`all ${e.type}`));
    bus.subscribe('device.created', (e) => void seen.push(`typed ${e.deviceId}`));
    expect(() => bus.publish({ type: 'device.created', tenantId: 't', deviceId: 'a' })).not.toThrow();
    await settle();
    expect(seen.sort()).toEqual(['all device.created', 'typed a']);
    expect(lines.map((l) => [l.msg, l.event, (l.err as { message: string }).message]).sort()).toEqual([
      ['event handler failed', 'device.created', 'async boom'],
      ['event handler failed', 'device.created', 'sync boom'],
    ]);
  });

  it('gives every subscriber the events in publishing order, also those a handler publishes', async () => {
    const bus = new InProcessEventBus();
    const typed: string[] = [];
    const all: string[] = [];
    bus.subscribe('device.created', (e) => {
      typed.push(e.deviceId);
      // A handler that publishes: its event comes after the ones already published.
      if (e.deviceId === 'a') bus.publish({ type: 'device.created', tenantId: 't', deviceId: 'from-a' });
    });
    bus.subscribeAll((e) => void all.push('deviceId' in e ? e.deviceId : e.type));
    for (const id of ['a', 'b', 'c']) bus.publish({ type: 'device.created', tenantId: 't', deviceId: id });
    bus.publish({ type: 'device.deleted', tenantId: 't', deviceId: 'd' });
    await settle();
    expect(typed).toEqual(['a', 'b', 'c', 'from-a']);
    expect(all).toEqual(['a', 'b', 'c', 'd', 'from-a']);
  });

  it('delivers an event to the handlers subscribed when it was published', async () => {
    const bus = new InProcessEventBus();
    const seen: string[] = [];
    const offEarly = bus.subscribe('device.created', (e) => void seen.push(`early ${e.deviceId}`));
    bus.publish({ type: 'device.created', tenantId: 't', deviceId: 'a' });
    // Changes before delivery apply to later events only.
    offEarly();
    bus.subscribe('device.created', (e) => void seen.push(`late ${e.deviceId}`));
    bus.publish({ type: 'device.created', tenantId: 't', deviceId: 'b' });
    await settle();
    expect(seen).toEqual(['early a', 'late b']);
  });

  it('lets a handler unsubscribe itself without disturbing the delivery under way', async () => {
    const bus = new InProcessEventBus();
    const seen: string[] = [];
    const off = bus.subscribe('device.created', (e) => {
      seen.push(`once ${e.deviceId}`);
      off();
    });
    bus.subscribe('device.created', (e) => void seen.push(`always ${e.deviceId}`));
    bus.publish({ type: 'device.created', tenantId: 't', deviceId: 'a' });
    bus.publish({ type: 'device.created', tenantId: 't', deviceId: 'b' });
    await settle();
    expect(seen).toEqual(['once a', 'always a', 'once b', 'always b']);
    bus.publish({ type: 'device.created', tenantId: 't', deviceId: 'c' });
    await settle();
    expect(seen.slice(4)).toEqual(['always c']);
  });
});
