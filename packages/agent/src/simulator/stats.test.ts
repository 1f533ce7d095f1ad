import { describe, expect, it } from 'vitest';
import { FleetStats, errorTotal, mergeSnapshots } from './stats.js';

describe('mergeSnapshots', () => {
  it('adds counters, errors and latencies of several workers', () => {
    const a = new FleetStats();
    a.connected = 2;
    a.everConnected = 2;
    a.sent = 10;
    a.acked = 9;
    a.allConnectedAt = 1000;
    a.error('connect: ECONNREFUSED', 2);
    a.latency.recordMicros(500);
    const b = new FleetStats();
    b.connected = 3;
    b.everConnected = 3;
    b.sent = 5;
    b.acked = 5;
    b.allConnectedAt = 1500;
    b.error('connect: ECONNREFUSED');
    b.error('connection lost');
    b.latency.recordMicros(700);
    const m = mergeSnapshots([a.snapshot(), b.snapshot()]);
    expect(m).toMatchObject({ connected: 5, everConnected: 5, sent: 15, acked: 14, allConnectedAt: 1500 });
    expect(m.errors).toEqual({ 'connect: ECONNREFUSED': 3, 'connection lost': 1 });
    expect(errorTotal(m)).toBe(4);
    expect(m.latencyCounts.reduce((x, y) => x + y, 0)).toBe(2);
    expect(m.latencyMaxUs).toBe(700);
  });

  it('has no "all connected" time while any worker still waits for a device', () => {
    const a = new FleetStats();
    a.allConnectedAt = 1000;
    const b = new FleetStats();
    expect(mergeSnapshots([a.snapshot(), b.snapshot()]).allConnectedAt).toBeNull();
  });
});
