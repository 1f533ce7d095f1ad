import { StoreError, type StoreSet, type Stores } from '../stores.js';

export interface GroupCommitOptions {
  /** Most units in one transaction; default 64. */
  maxBatch?: number;
  /**
   * Batches in flight at once; default 1. More suits units that take no row locks against each
   * other (certificate issuance); units that do (enrollment-group counters, new device ids) would
   * lock rows in arrival order in overlapping transactions, which deadlocks on PostgreSQL. Units
   * run with the same key (`run(work, key)`) are never in two batches at once, which keeps
   * checks such as a per-device limit exact.
   */
  maxParallel?: number;
}

const MAX_RETRIES = 2;

/** A deadlock victim or a failed serialization check (PostgreSQL): the transaction may simply run again. */
function isTransient(err: unknown): boolean {
  return err instanceof StoreError && err.reason === 'retry';
}

interface Pending {
  work: (tx: StoreSet) => Promise<unknown>;
  key: string | undefined;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit for hot write paths (certificate issuance, enrollment). A request's unit of
 * work that arrives while a transaction is running (or waiting for its connection) rides in
 * it or in the next one with every other unit that arrived meanwhile: one BEGIN/COMMIT (and
 * one WAL write, or one fsync on PostgreSQL) for the lot instead of one each. Nothing waits
 * on a timer: a lone request starts at once in a batch of one.
 *
 * Each unit runs in its own savepoint (`Stores.transactionBatch`), so its outcome is its own:
 * a unit that throws has its writes undone and its caller gets its error. A unit's promise
 * settles only after its batch commits, so callers publish events after commit as before. If
 * the commit itself fails, every unit of that batch gets the failure.
 *
 * Units must touch only the `tx` they are given and do no slow non-store work: the batch's
 * units run one after another on one connection, and a batch that PostgreSQL aborts as a
 * deadlock victim runs again, so a unit may run more than once before it settles.
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
    this.maxParallel = options.maxParallel ?? 1;
  }

  /** Keys of the units in running batches, with how many of each. */
  private readonly held = new Map<string, number>();

  /**
   * Runs `work` in a shared transaction; settles once that transaction has committed. Units with
   * the same `key` never run in two concurrent batches (with maxParallel > 1), so a unit sees
   * every committed or batch-mate write of the units before it with that key.
   */
  run<T>(work: (tx: StoreSet) => Promise<T>, key?: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work, key, resolve: resolve as (value: unknown) => void, reject });
      this.pump();
    });
  }

  private pump(): void {
    // A unit whose key a running batch holds must wait for it: it alone starts no batch.
    while (this.running < this.maxParallel && this.running < this.queue.length && this.queue.some((p) => p.key === undefined || !this.held.has(p.key))) {
      this.running++;
      // One turn of the event loop before the transaction begins: requests whose reads are
      // already answered reach their unit of work in that turn and ride along. (Measured:
      // without it, on SQLite every batch held one unit, as each request's last read and its
      // transaction take turns on the single connection.)
      setImmediate(() => {
        void this.commit().finally(() => {
          this.running--;
          this.pump();
        });
      });
    }
  }

  /**
   * One transaction. Its units are taken from the queue only once it has begun — a transaction
   * often waits for the connection (SQLite has one; the others' reads hold it), and whatever
   * queued up meanwhile rides along instead of waiting for the next one.
   */
  private async commit(): Promise<void> {
    const taken: Pending[] = [];
    const { queue, maxBatch, held } = this;
    const mine = new Set<string>();
    function* pull(): Generator<Pending['work']> {
      while (taken.length < maxBatch) {
        // The first unit whose key no other running batch holds.
        const at = queue.findIndex((p) => p.key === undefined || mine.has(p.key) || !held.has(p.key));
        if (at < 0) return;
        const next = queue.splice(at, 1)[0] as Pending;
        if (next.key !== undefined && !mine.has(next.key)) {
          mine.add(next.key);
          held.set(next.key, (held.get(next.key) ?? 0) + 1);
        }
        taken.push(next);
        yield next.work;
      }
    }
    try {
      await this.runBatch(taken, pull());
    } finally {
      for (const key of mine) {
        const count = (held.get(key) ?? 1) - 1;
        if (count > 0) held.set(key, count);
        else held.delete(key);
      }
    }
  }

  private async runBatch(taken: Pending[], pull: Iterable<Pending['work']>): Promise<void> {
    const { queue, maxBatch } = this;
    let outcomes: Awaited<ReturnType<Stores['transactionBatch']>> | undefined;
    let failure: unknown;
    try {
      outcomes = await this.stores.transactionBatch(pull);
    } catch (err) {
      failure = err;
    }
    // A batch locks the rows of all its units at once, so on PostgreSQL it can deadlock with a
    // transaction that locks several of the same rows in another order (a bulk delete); the
    // database then aborts one of the two. The units wrote only through `tx`, all of it rolled
    // back, so the batch runs again as it was, once per retry.
    for (let retry = 0; outcomes === undefined && retry < MAX_RETRIES && taken.length > 0 && isTransient(failure); retry++) {
      try {
        outcomes = await this.stores.transactionBatch(taken.map((p) => p.work));
      } catch (err) {
        failure = err;
      }
    }
    if (outcomes === undefined) {
      // A transaction that could not even begin took nothing: fail the units it was started
      // for, or an unreachable store would have this loop retry for ever.
      if (taken.length === 0) taken.push(...queue.splice(0, maxBatch));
      for (const p of taken) p.reject(failure);
      return;
    }
    outcomes.forEach((outcome, i) => {
      const pending = taken[i] as Pending;
      if (outcome.ok) pending.resolve(outcome.value);
      else pending.reject(outcome.error);
    });
  }
}
