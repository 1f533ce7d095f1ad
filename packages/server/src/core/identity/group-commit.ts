import type { StoreSet, Stores } from '../../store/stores.js';

export interface GroupCommitOptions {
  /** Most units in one transaction; default 64. */
  maxBatch?: number;
  /** Batches in flight at once; default 1 on SQLite (one connection), 4 on PostgreSQL. */
  maxParallel?: number;
}

interface Pending {
  work: (tx: StoreSet) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit for hot write paths (certificate issuance, enrollment). A request's unit of
 * work that arrives while a transaction is running waits for it, then rides in the next one
 * with every other unit that arrived meanwhile: one BEGIN/COMMIT (and one WAL write, or one
 * fsync on PostgreSQL) for the lot instead of one each. Nothing waits on a timer: a lone
 * request starts at once in a batch of one.
 *
 * Each unit runs in its own savepoint (`Stores.transactionBatch`), so its outcome is its own:
 * a unit that throws has its writes undone and its caller gets its error. A unit's promise
 * settles only after its batch commits, so callers publish events after commit as before. If
 * the commit itself fails, every unit of that batch gets the failure.
 *
 * Units must touch only the `tx` they are given and do no slow non-store work: the batch's
 * units run one after another on one connection.
 */
export class GroupCommit {
  private readonly queue: Pending[] = [];
  private running = 0;
  private readonly maxBatch: number;
  private readonly maxParallel: number;

  constructor(
    private readonly stores: Stores,
    options: GroupCommitOptions = {},
  ) {
    this.maxBatch = options.maxBatch ?? 64;
    this.maxParallel = options.maxParallel ?? (stores.dialect === 'sqlite' ? 1 : 4);
  }

  /** Runs `work` in a shared transaction; settles once that transaction has committed. */
  run<T>(work: (tx: StoreSet) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work, resolve: resolve as (value: unknown) => void, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.running < this.maxParallel && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      this.running++;
      void this.commit(batch).finally(() => {
        this.running--;
        this.pump();
      });
    }
  }

  private async commit(batch: Pending[]): Promise<void> {
    let outcomes: Awaited<ReturnType<Stores['transactionBatch']>>;
    try {
      outcomes = await this.stores.transactionBatch(batch.map((p) => p.work));
    } catch (err) {
      for (const p of batch) p.reject(err);
      return;
    }
    outcomes.forEach((outcome, i) => {
      const pending = batch[i] as Pending;
      if (outcome.ok) pending.resolve(outcome.value);
      else pending.reject(outcome.error);
    });
  }
}
