import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORE_KINDS, openTestStore, type TestStore } from '../../testing/test-store.js';
import { StoreError, type Stores } from '../stores.js';
import type { Device } from '../registry/device.js';
import { GroupCommit } from './group-commit.js';

function device(id: string): Device {
  return { id, tenantId: 't1', type: 'sensor', status: 'active', tags: { site: 'a' }, attributes: {}, firmwareVersion: null, online: false, lastSeen: null, createdAt: 1, updatedAt: 1 };
}

describe.each(STORE_KINDS)('group commit on %s', (kind) => {
  let t: TestStore;

  beforeAll(async () => {
    t = await openTestStore(kind);
    await t.stores.tenancy.insertTenant({ id: 't1', name: 'One', createdAt: 1 });
  });
  afterAll(async () => {
    await t?.cleanup();
  });

  it('commits concurrent units together in fewer transactions, each answering its own value', async () => {
    let transactions = 0;
    const counting: Stores = { ...t.stores, transactionBatch: (units) => (transactions++, t.stores.transactionBatch(units)) };
    const commits = new GroupCommit(counting);
    const ids = Array.from({ length: 40 }, (_, i) => `gc-${i}`);
    const answers = await Promise.all(ids.map((id) => commits.run(async (tx) => (await tx.devices.insert(device(id)), id.toUpperCase()))));
    expect(answers).toEqual(ids.map((id) => id.toUpperCase()));
    expect(transactions).toBeGreaterThan(0);
    expect(transactions).toBeLessThan(ids.length);
    expect((await t.stores.devices.findOwners(ids)).size).toBe(ids.length);
  });

  it('undoes only the writes of a unit that throws, and the others still commit', async () => {
    const commits = new GroupCommit(t.stores);
    const results = await Promise.allSettled([
      commits.run((tx) => tx.devices.insert(device('keep-1'))),
      commits.run(async (tx) => {
        await tx.devices.insert(device('undone-1'));
        throw new Error('changed my mind');
      }),
      // A constraint violation: on PostgreSQL it would abort the whole transaction without the savepoint.
      commits.run(async (tx) => {
        await tx.devices.insert(device('undone-2'));
        await tx.devices.insert(device('keep-1'));
      }),
      commits.run((tx) => tx.devices.insert(device('keep-2'))),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toMatchObject({ message: 'changed my mind' });
    const owners = await t.stores.devices.findOwners(['keep-1', 'keep-2', 'undone-1', 'undone-2']);
    expect([...owners.keys()].sort()).toEqual(['keep-1', 'keep-2']);
    // The undone device left no tag rows behind either.
    expect(await t.stores.devices.get('t1', 'undone-2')).toBeUndefined();
  });

  it('settles a unit only once its writes are committed and visible to everyone', async () => {
    const commits = new GroupCommit(t.stores);
    const seen = await Promise.all(
      ['vis-1', 'vis-2', 'vis-3'].map(async (id) => {
        await commits.run((tx) => tx.devices.insert(device(id)));
        return (await t.stores.devices.get('t1', id))?.id;
      }),
    );
    expect(seen).toEqual(['vis-1', 'vis-2', 'vis-3']);
  });
});

describe('group commit when the commit fails', () => {
  it('rejects every unit of the batch with the failure, and goes on with the next batch', async () => {
    let fail = true;
    const ran: string[] = [];
    const fake = {
      dialect: 'sqlite',
      transactionBatch: async (work: Iterable<(tx: never) => Promise<unknown>>) => {
        const outcomes = [];
        for (const w of work) outcomes.push({ ok: true as const, value: await w({} as never) });
        if (fail) {
          fail = false;
          throw new Error('disk full');
        }
        return outcomes;
      },
    } as unknown as Stores;
    const commits = new GroupCommit(fake);
    // Both arrive before the transaction begins, so they share it, and its failure.
    const first = commits.run(async () => ran.push('a'));
    const second = commits.run(async () => ran.push('b'));
    await expect(first).rejects.toThrow('disk full');
    await expect(second).rejects.toThrow('disk full');
    await expect(commits.run(async () => ran.push('c'))).resolves.toBe(3);
    expect(ran).toEqual(['a', 'b', 'c']);
  });

  it('fails the waiting units when a transaction cannot even begin, instead of retrying for ever', async () => {
    let attempts = 0;
    const down = {
      dialect: 'postgres',
      transactionBatch: async () => {
        attempts++;
        throw new Error('connection refused');
      },
    } as unknown as Stores;
    const commits = new GroupCommit(down, { maxParallel: 1 });
    const results = await Promise.allSettled([1, 2, 3].map(() => commits.run(async () => 'never')));
    expect(results.every((r) => r.status === 'rejected' && /connection refused/.test(String(r.reason)))).toBe(true);
    expect(attempts).toBe(1);
  });
});

describe('group commit when PostgreSQL picks the batch as a deadlock victim', () => {
  it('runs the same units again and settles each once', async () => {
    let attempts = 0;
    const runs: string[] = [];
    const flaky = {
      dialect: 'postgres',
      transactionBatch: async (work: Iterable<(tx: never) => Promise<unknown>>) => {
        attempts++;
        const outcomes = [];
        for (const w of work) outcomes.push({ ok: true as const, value: await w({} as never) });
        if (attempts === 1) throw new StoreError('retry', 'deadlock detected');
        return outcomes;
      },
    } as unknown as Stores;
    const commits = new GroupCommit(flaky);
    const answers = await Promise.all(['x', 'y'].map((name) => commits.run(async () => (runs.push(name), name))));
    expect(answers).toEqual(['x', 'y']);
    expect(attempts).toBe(2);
    expect(runs).toEqual(['x', 'y', 'x', 'y']);
  });
});

describe('group commit with batches in parallel', () => {
  it('never puts units of one key in two batches at once, and runs other keys meanwhile', async () => {
    const inFlight = new Map<number, Set<string>>();
    let batchId = 0;
    let overlapSeen = false;
    let sameKeyOverlap = false;
    const slow = {
      dialect: 'postgres',
      transactionBatch: async (work: Iterable<(tx: never) => Promise<unknown>>) => {
        const id = ++batchId;
        const keys = new Set<string>();
        inFlight.set(id, keys);
        const outcomes = [];
        for (const w of work) {
          const key = (await w({} as never)) as string;
          for (const [other, otherKeys] of inFlight) {
            if (other === id) continue;
            if (otherKeys.size > 0) overlapSeen = true;
            if (otherKeys.has(key)) sameKeyOverlap = true;
          }
          keys.add(key);
          outcomes.push({ ok: true as const, value: key });
          await new Promise((r) => setTimeout(r, 2));
        }
        inFlight.delete(id);
        return outcomes;
      },
    } as unknown as Stores;
    const commits = new GroupCommit(slow, { maxParallel: 3, maxBatch: 4 });
    const keys = Array.from({ length: 60 }, (_, i) => `dev-${i % 5}`);
    const answers = await Promise.all(keys.map((key) => commits.run(async () => key, key)));
    expect(answers).toEqual(keys);
    expect(overlapSeen).toBe(true);
    expect(sameKeyOverlap).toBe(false);
  });
});
