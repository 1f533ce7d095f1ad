import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { InProcessEventBus } from '../../bus/event-bus.js';
import type { EventOf } from '../../bus/events.js';
import type { Stores } from '../stores.js';
import type { PointToWrite } from './ports.js';
import { TelemetryWriter } from './telemetry-writer.js';

const logger = pino({ level: 'silent' });

/** A store that records each transaction's points and fails those containing a marked device. */
function fakeStores(failFor: Set<string> = new Set()): { stores: Stores; batches: PointToWrite[][] } {
  const batches: PointToWrite[][] = [];
  const telemetry = {
    async writeBatch(points: PointToWrite[]): Promise<void> {
      if (points.some((p) => failFor.has(p.deviceId))) throw Object.assign(new Error('disk on fire'), { code: 'EIO' });
      batches.push(points);
    },
  };
  const stores = { dialect: 'sqlite', telemetry, transaction: (work: (tx: unknown) => Promise<unknown>) => work({ telemetry }) } as unknown as Stores;
  return { stores, batches };
}

const reading = (key: string, ts: number, value: number) => ({ key, ts, value });

describe('telemetry writer (group commit)', () => {
  it('writes concurrent messages in one transaction and publishes one event per device', async () => {
    const { stores, batches } = fakeStores();
    const bus = new InProcessEventBus(logger);
    const events: Array<EventOf<'telemetry.received'>> = [];
    bus.subscribe('telemetry.received', (e) => void events.push(e));
    const committed: number[] = [];
    const writer = new TelemetryWriter(stores, bus, logger, { maxBatchPoints: 100, lingerMs: 0, maxInFlight: 1 }, (n) => committed.push(n));
    await Promise.all([
      writer.write('t', 'a', [reading('x', 5, 1), reading('x', 9, 2), reading('y', 1, 3)]),
      writer.write('t', 'b', [reading('x', 3, 4)]),
      writer.write('t', 'a', [reading('x', 7, 5)]),
    ]);
    expect(batches).toHaveLength(1);
    expect(committed).toEqual([5]);
    await new Promise((r) => setTimeout(r, 5));
    expect(events).toEqual([
      { type: 'telemetry.received', tenantId: 't', deviceId: 'a', ts: 9, values: { x: 2, y: 3 } },
      { type: 'telemetry.received', tenantId: 't', deviceId: 'b', ts: 3, values: { x: 4 } },
    ]);
  });

  it('announces a "__proto__" reading as a member of values, not as its prototype', async () => {
    const { stores } = fakeStores();
    const bus = new InProcessEventBus(logger);
    const events: Array<EventOf<'telemetry.received'>> = [];
    bus.subscribe('telemetry.received', (e) => void events.push(e));
    const writer = new TelemetryWriter(stores, bus, logger, { maxBatchPoints: 100, lingerMs: 0, maxInFlight: 1 });
    await writer.write('t', 'a', [reading('__proto__', 1, 7), reading('x', 1, 8)]);
    await new Promise((r) => setTimeout(r, 5));
    const values = events[0]!.values;
    expect(Object.getPrototypeOf(values)).toBe(Object.prototype);
    expect(Object.keys(values)).toEqual(['__proto__', 'x']);
    expect(Object.getOwnPropertyDescriptor(values, '__proto__')?.value).toBe(7);
  });

  it('settles submit callbacks once, and a throwing callback neither fails the batch nor writes it twice', async () => {
    const { stores, batches } = fakeStores();
    const writer = new TelemetryWriter(stores, new InProcessEventBus(logger), logger, { maxBatchPoints: 100, lingerMs: 0, maxInFlight: 1 });
    const outcomes: unknown[] = [];
    writer.submit('t', 'a', [reading('x', 1, 1)], () => {
      throw new Error('caller bug');
    });
    writer.submit('t', 'b', [reading('x', 1, 1)], (err) => outcomes.push(err));
    await writer.flush();
    expect(outcomes).toEqual([undefined]);
    expect(batches).toHaveLength(1);
    await writer.close();
    writer.submit('t', 'c', [reading('x', 1, 1)], (err) => outcomes.push(err));
    expect(outcomes[1]).toMatchObject({ code: 'NOT_READY' });
  });

  it('closes a batch at maxBatchPoints without splitting a message', async () => {
    const { stores, batches } = fakeStores();
    const writer = new TelemetryWriter(stores, new InProcessEventBus(logger), logger, { maxBatchPoints: 3, lingerMs: 0, maxInFlight: 1 });
    await Promise.all([writer.write('t', 'a', [reading('x', 1, 1), reading('y', 1, 1)]), writer.write('t', 'b', [reading('x', 1, 1), reading('y', 1, 1)]), writer.write('t', 'c', [reading('x', 1, 1)])]);
    expect(batches.map((b) => b.map((p) => p.deviceId))).toEqual([['a', 'a'], ['b', 'b', 'c']]);
  });

  it('fails only the callers of the device whose write fails, and keeps working', async () => {
    const { stores, batches } = fakeStores(new Set(['bad']));
    const writer = new TelemetryWriter(stores, new InProcessEventBus(logger), logger, { maxBatchPoints: 100, lingerMs: 5, maxInFlight: 1 });
    const results = await Promise.allSettled([writer.write('t', 'good', [reading('x', 1, 1)]), writer.write('t', 'bad', [reading('x', 1, 1)]), writer.write('t', 'bad', [reading('x', 2, 1)])]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'rejected']);
    expect(((results[1] as PromiseRejectedResult).reason as Error).message).toBe('disk on fire');
    expect(batches.map((b) => b.map((p) => p.deviceId))).toEqual([['good']]);
    await expect(writer.write('t', 'good', [reading('x', 3, 1)])).resolves.toBeUndefined();
  });

  it('lingers for company when asked to, and flushes on close', async () => {
    const { stores, batches } = fakeStores();
    const writer = new TelemetryWriter(stores, new InProcessEventBus(logger), logger, { maxBatchPoints: 100, lingerMs: 60_000, maxInFlight: 1 });
    const first = writer.write('t', 'a', [reading('x', 1, 1)]);
    await new Promise((r) => setTimeout(r, 5));
    expect(batches).toHaveLength(0);
    const second = writer.write('t', 'b', [reading('x', 1, 1)]);
    await writer.close();
    await Promise.all([first, second]);
    expect(batches).toHaveLength(1);
    await expect(writer.write('t', 'a', [reading('x', 2, 1)])).rejects.toMatchObject({ code: 'NOT_READY' });
  });
});
