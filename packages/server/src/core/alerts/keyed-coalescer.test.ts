import { describe, expect, it } from 'vitest';
import { KeyedCoalescer } from './keyed-coalescer.js';

async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 1));
}

describe('keyed coalescer', () => {
  it('merges work that arrives while a key runs into one more run, and never runs a key twice at once', async () => {
    const runs: Array<[string, number[]]> = [];
    let active = 0;
    let maxActive = 0;
    let release: (() => void) | undefined;
    const c = new KeyedCoalescer<number[]>(
      async (key, work) => {
        active += 1;
        maxActive = Math.max(maxActive, active);
        runs.push([key, work]);
        if (runs.length === 1) await new Promise<void>((resolve) => (release = resolve));
        active -= 1;
      },
      (a, b) => [...a, ...b],
      0,
      () => undefined,
    );
    c.submit('d1', [1]);
    await until(() => release !== undefined);
    for (let i = 2; i <= 50; i += 1) c.submit('d1', [i]);
    release!();
    await until(() => !c.busy);
    expect(runs).toEqual([
      ['d1', [1]],
      ['d1', Array.from({ length: 49 }, (_, i) => i + 2)],
    ]);
    expect(maxActive).toBe(1);
  });

  it('keeps keys apart, reports failures and carries on', async () => {
    const seen: string[] = [];
    const errors: string[] = [];
    const c = new KeyedCoalescer<string>(
      async (key, work) => {
        if (work === 'boom') throw new Error('boom');
        seen.push(`${key}:${work}`);
      },
      (_a, b) => b,
      0,
      (err, key) => errors.push(`${key}:${(err as Error).message}`),
    );
    c.submit('a', 'boom');
    c.submit('b', 'x');
    await until(() => !c.busy);
    c.submit('a', 'y');
    await until(() => !c.busy);
    expect(seen.sort()).toEqual(['a:y', 'b:x']);
    expect(errors).toEqual(['a:boom']);
    c.prune();
  });

  it('drops waiting work on stop and accepts none after', async () => {
    const seen: string[] = [];
    const c = new KeyedCoalescer<string>(async (_k, w) => void seen.push(w), (_a, b) => b, 60_000, () => undefined);
    c.submit('a', 'first');
    await until(() => seen.length === 1);
    c.submit('a', 'waits a minute');
    expect(c.busy).toBe(true);
    await c.stop();
    c.submit('a', 'after stop');
    expect(c.busy).toBe(false);
    expect(seen).toEqual(['first']);
  });
});
