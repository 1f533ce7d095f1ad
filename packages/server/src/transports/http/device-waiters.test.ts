import { describe, expect, it } from 'vitest';
import { DeviceWaiters, waiterKey } from './device-waiters.js';

describe('device long-poll waiters', () => {
  const a = waiterKey('desired', 't', 'a');

  it('wakes every wait on the key that changed, and only those; a wait armed before a change sees it', async () => {
    const waiters = new DeviceWaiters();
    const first = waiters.arm(a, 10_000);
    const second = waiters.arm(a, 10_000);
    const other = waiters.arm(waiterKey('desired', 't2', 'a'), 50);
    expect(waiters.waitingOn(a)).toBe(2);
    waiters.wake(a);
    expect(await Promise.all([first.promise, second.promise, other.promise])).toEqual([true, true, false]);
    expect(waiters.size).toBe(0);
  });

  it('a cancelled wait resolves false and frees its place', async () => {
    const waiters = new DeviceWaiters();
    const armed = waiters.arm(a, 10_000);
    armed.cancel();
    expect(await armed.promise).toBe(false);
    expect(waiters.waitingOn(a)).toBe(0);
  });

  it('ends every wait on close and refuses new ones', async () => {
    const waiters = new DeviceWaiters();
    const open = waiters.arm(a, 10_000);
    waiters.close();
    expect(await open.promise).toBe(false);
    expect(await waiters.arm(a, 10_000).promise).toBe(false);
    expect(waiters.size).toBe(0);
  });
});
