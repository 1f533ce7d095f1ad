import { describe, expect, it } from 'vitest';
import { backoffDelay } from './backoff.js';
import { ConnectGate } from './pacer.js';

describe('ConnectGate', () => {
  it('spaces attempts 1/rate apart, and lets an idle gate start at once', () => {
    let now = 0;
    const gate = new ConnectGate(100, 10, () => now);
    expect([gate.reserveDelay(), gate.reserveDelay(), gate.reserveDelay()]).toEqual([0, 10, 20]);
    now = 1000;
    expect(gate.reserveDelay()).toBe(0);
  });

  it('does not pace an unbounded rate', () => {
    const gate = new ConnectGate(Infinity, 1);
    expect(gate.reserveDelay()).toBe(0);
    expect(gate.reserveDelay()).toBe(0);
  });

  it('holds attempts past the concurrency until one ends, handing its slot over', async () => {
    const gate = new ConnectGate(Infinity, 2);
    const r1 = await gate.acquire();
    await gate.acquire();
    let third = false;
    const pending = gate.acquire().then((r) => {
      third = true;
      return r;
    });
    await new Promise((r) => setTimeout(r, 10));
    expect(third).toBe(false);
    r1();
    r1(); // a second release of the same slot changes nothing
    await pending;
    expect(third).toBe(true);
    let fourth = false;
    void gate.acquire().then(() => (fourth = true));
    await new Promise((r) => setTimeout(r, 10));
    expect(fourth).toBe(false);
    gate.drain();
    await new Promise((r) => setTimeout(r, 0));
    expect(fourth).toBe(true);
  });

  it('refuses a rate or concurrency it cannot keep', () => {
    expect(() => new ConnectGate(0, 1)).toThrow(RangeError);
    expect(() => new ConnectGate(10, 0)).toThrow(RangeError);
  });
});

describe('backoffDelay', () => {
  it('grows exponentially up to the cap, with full jitter below it', () => {
    const policy = { initialMs: 500, maxMs: 30_000 };
    expect(backoffDelay(0, policy, () => 0.999999)).toBe(500);
    expect(backoffDelay(3, policy, () => 0.999999)).toBe(4000);
    expect(backoffDelay(20, policy, () => 0.999999)).toBe(30_000);
    expect(backoffDelay(1000, policy, () => 0.999999)).toBe(30_000);
    expect(backoffDelay(3, policy, () => 0)).toBe(0);
  });
});
