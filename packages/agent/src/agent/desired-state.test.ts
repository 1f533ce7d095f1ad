import { describe, expect, it } from 'vitest';
import { DesiredState, type DesiredOutcome } from './desired-state.js';

function setup(): { state: DesiredState; outcomes: DesiredOutcome[]; calls: string[] } {
  const outcomes: DesiredOutcome[] = [];
  const calls: string[] = [];
  const state = new DesiredState((o) => void outcomes.push(o));
  state.on('interval', (v) => {
    if (typeof v !== 'number' || v < 1) throw new Error('interval must be a number ≥ 1');
    calls.push(`interval=${String(v)}`);
  });
  state.on('mode', (v) => void calls.push(`mode=${String(v)}`));
  return { state, outcomes, calls };
}

describe('DesiredState', () => {
  it('applies a document through its handlers and reports what it applied', async () => {
    const { state, outcomes, calls } = setup();
    await state.offer({ $version: 3, interval: 10, mode: 'eco' });
    expect(calls).toEqual(['interval=10', 'mode=eco']);
    expect(outcomes).toEqual([{ version: 3, applied: ['interval', 'mode'], rejected: {}, reported: { interval: 10, mode: 'eco', desiredVersion: 3 } }]);
  });

  it('never applies a version at or below the applied one', async () => {
    const { state, outcomes, calls } = setup();
    await state.offer({ $version: 5, interval: 10 });
    await state.offer({ $version: 4, interval: 99 });
    await state.offer({ $version: 5, interval: 98 });
    expect(calls).toEqual(['interval=10']);
    expect(outcomes).toHaveLength(1);
    expect(state.version).toBe(5);
  });

  it('applies only the newest of documents that arrive while one is being applied', async () => {
    const applied: unknown[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const state = new DesiredState(() => undefined);
    state.on('x', async (v) => {
      applied.push(v);
      if (v === 1) await gate;
    });
    const first = state.offer({ $version: 1, x: 1 });
    void state.offer({ $version: 3, x: 3 });
    void state.offer({ $version: 2, x: 2 }); // older than the waiting one: dropped
    release();
    await first;
    await state.offer({ $version: 3, x: 3 });
    expect(applied).toEqual([1, 3]);
    expect(state.version).toBe(3);
  });

  it('reports refused values under lastDesiredError, keeps the rest, and clears the error once fixed', async () => {
    const { state, outcomes } = setup();
    await state.offer({ $version: 1, interval: 0, mode: 'on', color: 'red' });
    expect(outcomes[0]!.reported).toMatchObject({ mode: 'on', desiredVersion: 1, lastDesiredError: { version: 1, errors: { interval: 'interval must be a number ≥ 1', color: 'no handler for this property' } } });
    expect(outcomes[0]!.reported).not.toHaveProperty('interval');
    await state.offer({ $version: 2, interval: 5, mode: 'on' });
    expect(outcomes[1]!.reported).toEqual({ interval: 5, desiredVersion: 2, lastDesiredError: null });
  });

  it('passes null to the handler of a property deleted from desired', async () => {
    const { state, calls, outcomes } = setup();
    await state.offer({ $version: 1, mode: 'eco' });
    await state.offer({ $version: 2 });
    expect(calls).toEqual(['mode=eco', 'mode=null']);
    expect(outcomes[1]!.reported).toEqual({ mode: null, desiredVersion: 2 });
  });

  it('ignores documents without a numeric $version', async () => {
    const { state, outcomes } = setup();
    await state.offer({ interval: 3 });
    await state.offer([1]);
    await state.offer('x');
    expect(outcomes).toEqual([]);
  });

  it('sends every property without a handler of its own to the * handler', async () => {
    const seen: string[] = [];
    const state = new DesiredState(() => undefined);
    state.on('*', (v, k) => void seen.push(`${k}=${String(v)}`));
    await state.offer({ $version: 1, a: 1, b: 2 });
    expect(seen).toEqual(['a=1', 'b=2']);
  });
});
