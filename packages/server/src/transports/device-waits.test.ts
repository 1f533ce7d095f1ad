import { describe, expect, it } from 'vitest';
import { DeviceWaits } from './device-waits.js';

describe('device long-poll waits', () => {
  it('wakes every wait of the device that changed, and only those', async () => {
    const waits = new DeviceWaits();
    const a1 = waits.wait('t', 'a', 10_000);
    const a2 = waits.wait('t', 'a', 10_000);
    const other = waits.wait('t2', 'a', 50);
    waits.notify('t', 'a');
    expect(await Promise.all([a1, a2, other])).toEqual(['changed', 'changed', 'timeout']);
    expect(waits.size).toBe(0);
  });

  it('admits as many waits per device and in all as its limits say', () => {
    const waits = new DeviceWaits({ perDevice: 2, total: 3 });
    void waits.wait('t', 'a', 10_000);
    void waits.wait('t', 'a', 10_000);
    expect(waits.admits('t', 'a')).toBe(false);
    expect(waits.admits('t', 'b')).toBe(true);
    void waits.wait('t', 'b', 10_000);
    expect(waits.admits('t', 'c')).toBe(false);
    waits.close();
  });

  it('ends a wait whose client went away, and every wait on close', async () => {
    const waits = new DeviceWaits();
    const gone = new AbortController();
    const aborted = waits.wait('t', 'a', 10_000, gone.signal);
    const open = waits.wait('t', 'b', 10_000);
    gone.abort();
    expect(await aborted).toBe('timeout');
    waits.close();
    expect(await open).toBe('closed');
    expect(await waits.wait('t', 'c', 10_000)).toBe('closed');
    expect(waits.admits('t', 'c')).toBe(false);
  });
});
