import { describe, expect, it } from 'vitest';
import type { DomainEvent } from '../../bus/events.js';
import { DEFAULT_EVENT_LOG_BYTES, EventLog } from './event-log.js';
import { DEFAULT_MAX_QUEUE_BYTES, EventSubscription } from './event-subscription.js';
import { estimateEventBytes } from './stream-event.js';
import { FleetMatcher, parseQueryFilter } from './fleet-matcher.js';
import { parseTypeFilter, parseTypeList } from './type-filter.js';

const ev = (deviceId: string, tenantId = 't1'): DomainEvent => ({ type: 'telemetry.received', tenantId, deviceId, ts: 1, values: { v: 1 } });

/** The largest telemetry event a device can cause: 1,000 values, each a 1 KiB string. */
const KIB = 'k'.repeat(1024);
const maximal = (deviceId: string): DomainEvent => ({
  type: 'telemetry.received',
  tenantId: 't1',
  deviceId,
  ts: 1,
  values: Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`reading_${i}`, KIB])),
});

describe('event log', () => {
  it('numbers events with ids that grow, also across a restart with the clock standing still', () => {
    let clock = 1_000;
    const log = new EventLog({ now: () => clock });
    const a = log.append(ev('d'));
    const b = log.append(ev('d'));
    expect(b.id).toBe(a.id + 1);
    clock = 1_001; // a new process a millisecond later starts above everything before
    const next = new EventLog({ now: () => clock });
    expect(next.append(ev('d')).id).toBeGreaterThan(b.id);
  });

  it('replays what a client missed, and answers reset once it was evicted or from another process', () => {
    const log = new EventLog({ capacity: 3, now: () => 5 });
    const ids = [1, 2, 3, 4].map(() => log.append(ev('d')).id);
    expect(log.since(ids[1]!)).toEqual({ kind: 'events', events: [expect.objectContaining({ id: ids[2] }), expect.objectContaining({ id: ids[3] })] });
    expect(log.since(ids[3]!)).toEqual({ kind: 'events', events: [] });
    // ids[0] was evicted: the client saw it, but cannot know whether it missed nothing after it.
    expect(log.since(ids[0]!)).toMatchObject({ kind: 'events' });
    expect(log.since(ids[0]! - 1)).toEqual({ kind: 'reset', oldestId: ids[1], latestId: ids[3] });
    expect(log.since(ids[3]! + 10)).toMatchObject({ kind: 'reset' });
  });

  it('estimates event sizes from key and string lengths, without serialising', () => {
    const log = new EventLog();
    const big = estimateEventBytes(log.append(maximal('d')));
    expect(big).toBeGreaterThan(1000 * 1024);
    expect(big).toBeLessThan(1.2 * 1024 * 1024);
    expect(estimateEventBytes(log.append(ev('d')))).toBeLessThan(512);
    expect(estimateEventBytes(log.append({ type: 'device.deleted', tenantId: 't1', deviceId: 'd' }))).toBeLessThan(512);
  });

  it('holds events up to a byte budget, not only a count, evicting the oldest', () => {
    const log = new EventLog();
    const ids = Array.from({ length: 200 }, (_, i) => log.append(maximal(`d${i}`)).id);
    const held = log.held;
    expect(held.bytes).toBeLessThanOrEqual(DEFAULT_EVENT_LOG_BYTES);
    expect(held.events).toBeGreaterThan(40); // about 60 maximal events fit in 64 MiB
    expect(held.events).toBeLessThan(70);
    // What was evicted for room is gone as if the count had pushed it out: a resuming client gets a reset.
    expect(log.since(ids[0]!)).toMatchObject({ kind: 'reset' });
    expect(log.since(ids[199 - held.events]!)).toMatchObject({ kind: 'events', events: { length: held.events } });
    // Small events fill the room the large ones leave, up to the count again.
    const small = new EventLog({ capacity: 100, maxBytes: 20 * 1024 * 1024 });
    small.append(maximal('x'));
    for (let i = 0; i < 150; i++) small.append(ev('d'));
    expect(small.held.events).toBe(100);
    expect(small.held.bytes).toBeLessThan(100 * 512);
  });

  it('shapes events as {id, type, tenant, deviceId, at, data}', () => {
    const log = new EventLog({ now: () => Date.UTC(2030, 0, 1) });
    const e = log.append({ type: 'device.decommissioned', tenantId: 't1', deviceId: 'd1', purgeData: true });
    expect(e).toEqual({ id: e.id, type: 'device.decommissioned', tenant: 't1', deviceId: 'd1', at: '2030-01-01T00:00:00.000Z', data: { purgeData: true } });
  });

  it('writes events to the wire with the same fields in the same order for every type', () => {
    let clock = Date.UTC(2030, 0, 1, 12, 30, 15, 250);
    const log = new EventLog({ now: () => clock });
    const telemetry = log.append({ type: 'telemetry.received', tenantId: 't1', deviceId: 'd1', ts: 7, values: { temp: 21.5, on: true } });
    expect(JSON.stringify(telemetry)).toBe(
      `{"id":${telemetry.id},"type":"telemetry.received","tenant":"t1","deviceId":"d1","at":"2030-01-01T12:30:15.250Z","data":{"ts":7,"values":{"temp":21.5,"on":true}}}`,
    );
    const raised = log.append({ type: 'alert.raised', tenantId: 't1', deviceId: 'd1', alertId: 'a1', ruleId: 'r1', ruleName: 'hot', severity: 'major', message: 'too hot' });
    expect(JSON.stringify(raised)).toBe(
      `{"id":${raised.id},"type":"alert.raised","tenant":"t1","deviceId":"d1","at":"2030-01-01T12:30:15.250Z","data":{"alertId":"a1","ruleId":"r1","ruleName":"hot","severity":"major","message":"too hot"}}`,
    );
    // Within one millisecond and after it: the time is the event's own, never a stale one.
    clock += 1;
    expect(log.append(ev('d')).at).toBe('2030-01-01T12:30:15.251Z');
    clock += 60_000;
    expect(log.append(ev('d')).at).toBe('2030-01-01T12:31:15.251Z');
    clock -= 60_000;
    expect(log.append(ev('d')).at).toBe('2030-01-01T12:30:15.251Z');
    // An event without a device (none today, but the envelope allows it) has no deviceId key.
    const bare = log.append({ type: 'device.created', tenantId: 't1' } as unknown as DomainEvent);
    expect(Object.keys(bare)).toEqual(['id', 'type', 'tenant', 'at', 'data']);
    expect(bare.data).toEqual({});
  });

  it('appends a reserved event with the id and time it was reserved with, and resumes in append order', () => {
    let clock = 1_000;
    const log = new EventLog({ now: () => clock });
    const late = { type: 'device.created', tenantId: 't', deviceId: 'late' } as const;
    const reserved = log.reserve(late);
    clock = 2_000;
    const other = log.append({ type: 'device.deleted', tenantId: 't', deviceId: 'other' });
    expect(other.id).toBeGreaterThan(reserved.id);
    // The reserving transaction commits after `other` was published.
    expect(log.append(late)).toBe(reserved);
    // A client that saw `other` has not seen `late`, although its id is lower.
    const replay = log.since(other.id);
    expect(replay).toEqual({ kind: 'events', events: [reserved] });
  });
});

describe('type filters', () => {
  it('matches exact names, prefixes and everything', () => {
    const f = parseTypeFilter(['device.connected', 'alert.*']);
    expect(['device.connected', 'alert.raised', 'alert.cleared', 'device.created', 'telemetry.received'].map((t) => f.matches(t))).toEqual([true, true, true, false, false]);
    expect(parseTypeList(undefined).matches('twin.desired.changed')).toBe(true);
    expect(parseTypeList(' twin.* , ').matches('twin.desired.changed')).toBe(true);
  });

  it('refuses patterns that match no event', () => {
    expect(() => parseTypeFilter(['alerts.*'])).toThrow(/unknown event type "alerts.\*"/);
    expect(() => parseTypeFilter(['device'])).toThrow(/unknown event type "device"/);
    expect(() => parseTypeList('device.created,bogus')).toThrow(/bogus/);
  });
});

describe('event subscription', () => {
  it('drops a client whose queue overflows instead of growing without bound', async () => {
    const sub = new EventSubscription({ tenantId: 't1', types: parseTypeList(undefined) }, 5);
    const log = new EventLog();
    for (let i = 0; i < 5; i++) sub.offer(log.append(ev('d')));
    expect(sub.endReason).toBeUndefined();
    sub.offer(log.append(ev('d')));
    expect(sub.endReason).toBe('overflow');
    expect(await sub.next()).toEqual({ kind: 'end', reason: 'overflow' });
  });

  it('drops a client whose queue outgrows its byte budget, counting only live events', async () => {
    const log = new EventLog();
    const sub = new EventSubscription({ tenantId: 't1', types: parseTypeList(undefined) }, 1000);
    const backlog = Array.from({ length: 20 }, (_, i) => log.append(maximal(`r${i}`)));
    for (const e of backlog) sub.offer(e, true); // a replay: bounded by the log already
    const perEvent = estimateEventBytes(backlog[0]!);
    const fit = Math.floor(DEFAULT_MAX_QUEUE_BYTES / perEvent);
    for (let i = 0; i < fit; i++) sub.offer(log.append(maximal(`d${i}`)));
    expect(sub.endReason).toBeUndefined();
    sub.offer(log.append(maximal('one-too-many')));
    expect(sub.endReason).toBe('overflow');
    // Taking the queue frees its budget.
    const other = new EventSubscription({ tenantId: 't1', types: parseTypeList(undefined) }, 1000, 3 * perEvent);
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 3; i++) other.offer(log.append(maximal('d')));
      expect((await other.next()).kind).toBe('events');
    }
    expect(other.endReason).toBeUndefined();
  });

  it('does not count a replayed backlog against the bound', async () => {
    const sub = new EventSubscription({ tenantId: 't1', types: parseTypeList(undefined) }, 2);
    const log = new EventLog();
    for (let i = 0; i < 10; i++) sub.offer(log.append(ev('d')), true);
    sub.offer(log.append(ev('d')));
    const first = await sub.next();
    expect(first.kind === 'events' && first.events.length).toBe(11);
  });

  it('keeps other tenants’ events out', async () => {
    const sub = new EventSubscription({ tenantId: 't1', types: parseTypeList(undefined) }, 10);
    const log = new EventLog();
    sub.offer(log.append(ev('x', 't2')));
    sub.offer(log.append(ev('y', 't1')));
    const item = await sub.next();
    expect(item.kind === 'events' && item.events.map((e) => e.deviceId)).toEqual(['y']);
  });
});

describe('fleet matcher', () => {
  it('asks the database once for all devices of a tick and caches the answers', async () => {
    const calls: string[][] = [];
    const matcher = new FleetMatcher(parseQueryFilter('tags.site = "berlin"'), {
      tenantId: 't1',
      lookup: async (_t, _w, ids) => {
        calls.push([...ids]);
        return new Set(ids.filter((id) => id.startsWith('b')));
      },
    });
    const answers = await Promise.all(['b1', 'p1', 'b1', 'b2'].map((d) => matcher.matches(d)));
    expect(answers).toEqual([true, false, true, true]);
    expect(calls).toEqual([['b1', 'p1', 'b2']]);
    expect(matcher.matches('b1')).toBe(true); // cached: no promise, no query
    expect(calls).toHaveLength(1);
  });

  it('reports a syntax error with its position', () => {
    expect(() => parseQueryFilter('tags.site = ')).toThrow(expect.objectContaining({ code: 'INVALID_QUERY' }));
  });
});
