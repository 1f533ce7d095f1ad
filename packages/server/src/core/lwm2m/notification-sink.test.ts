import { describe, expect, it } from 'vitest';
import { NotificationSink } from './notification-sink.js';

describe('NotificationSink', () => {
  it('stores at most maxInFlight at once, queues the rest in order, and drains', async () => {
    const started: number[] = [];
    const release: Array<() => void> = [];
    let running = 0;
    let most = 0;
    const sink = new NotificationSink<number>(
      (n) => {
        started.push(n);
        running += 1;
        most = Math.max(most, running);
        return new Promise<void>((resolve) =>
          release.push(() => {
            running -= 1;
            resolve();
          }),
        );
      },
      undefined,
      { maxInFlight: 2, maxQueued: 10 },
    );
    for (let i = 0; i < 5; i++) sink.push(i);
    expect(started).toEqual([0, 1]);
    expect(sink.pending).toBe(5);
    const drained = sink.drain();
    while (release.length > 0) {
      release.shift()!();
      await new Promise((r) => setImmediate(r));
    }
    await drained;
    expect(started).toEqual([0, 1, 2, 3, 4]);
    expect(most).toBe(2);
    expect(sink.dropped).toBe(0);
  });

  it('drops and counts what arrives past maxQueued, keeps serving, and survives a failing store', async () => {
    const stored: number[] = [];
    const gate: Array<() => void> = [];
    const sink = new NotificationSink<number>(
      (n) =>
        new Promise<void>((resolve, reject) =>
          gate.push(() => {
            if (n === 0) reject(new Error('store down'));
            else {
              stored.push(n);
              resolve();
            }
          }),
        ),
      undefined,
      { maxInFlight: 1, maxQueued: 2 },
    );
    for (let i = 0; i < 6; i++) sink.push(i); // 0 in flight, 1 and 2 queued, 3–5 dropped
    expect(sink.dropped).toBe(3);
    while (gate.length > 0) {
      gate.shift()!();
      await new Promise((r) => setImmediate(r));
    }
    await sink.drain();
    expect(stored).toEqual([1, 2]);
    sink.push(9);
    gate.shift()!();
    await sink.drain();
    expect(stored).toEqual([1, 2, 9]);
  });
});
