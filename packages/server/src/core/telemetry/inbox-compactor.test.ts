import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { Stores } from '../stores.js';
import { InboxCompactor } from './inbox-compactor.js';

const logger = pino({ level: 'silent' });

/** An inbox that holds `size` readings and refills by `arrivals` on every compaction (an overload). */
function fakeInbox(size: number, arrivals = 0): { stores: Stores; moved: number[] } {
  const moved: number[] = [];
  let held = size;
  const telemetry = {
    async compactInbox(limit: number): Promise<number> {
      const n = Math.min(limit, held);
      held = held - n + arrivals;
      moved.push(n);
      return n;
    },
  };
  const stores = { telemetry, transaction: (work: (tx: unknown) => Promise<unknown>) => work({ telemetry }) } as unknown as Stores;
  return { stores, moved };
}

describe('inbox compactor', () => {
  it('empties the inbox in chunks on flush', async () => {
    const { stores, moved } = fakeInbox(25);
    await new InboxCompactor(stores, logger, { chunk: 10 }).flush();
    expect(moved).toEqual([10, 10, 5]);
  });

  it('ends a flush under overload once it has compacted what was acknowledged before it', async () => {
    const { stores, moved } = fakeInbox(0, 10);
    const compactor = new InboxCompactor(stores, logger, { chunk: 10 });
    await compactor.flush(); // learns the inbox was empty at start
    compactor.notify(30);
    await compactor.flush();
    expect(moved.slice(1)).toEqual([10, 10, 10]);
  });
});
