import { describe, expect, it } from 'vitest';
import type { DomainEvent } from '../../bus/events.js';
import { EventLog } from './event-log.js';
import { EventSubscription } from './event-subscription.js';
import { FleetMatcher, parseQueryFilter } from './fleet-matcher.js';
import { parseTypeFilter, parseTypeList } from './type-filter.js';

const ev = (deviceId: string, tenantId = 't1'): DomainEvent => ({ type: 'telemetry.received', tenantId, deviceId, ts: 1, values: { v: 1 } });

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

  it('shapes events as {id, type, tenant, deviceId, at, data}', () => {
    const log = new EventLog({ now: () => Date.UTC(2030, 0, 1) });
    const e = log.append({ type: 'device.decommissioned', tenantId: 't1', deviceId: 'd1', purgeData: true });
    expect(e).toEqual({ id: e.id, type: 'device.decommissioned', tenant: 't1', deviceId: 'd1', at: '2030-01-01T00:00:00.000Z', data: { purgeData: true } });
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
      dialect: 'sqlite',
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
