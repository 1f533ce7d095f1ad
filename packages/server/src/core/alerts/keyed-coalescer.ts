import { performance } from 'node:perf_hooks';

interface Entry<T> {
  work: T | undefined;
  timer: NodeJS.Timeout | undefined;
  running: Promise<void> | undefined;
  lastStart: number;
}

/**
 * Runs work per key at most once per `intervalMs`, merging whatever arrives meanwhile: a
 * device sending 50 readings a second is evaluated once a second, on its latest values. Work
 * for one key never runs concurrently. The interval is measured on the monotonic clock (it is
 * about load, not about the domain's time).
 */
export class KeyedCoalescer<T> {
  private readonly entries = new Map<string, Entry<T>>();
  private stopped = false;

  /**
   * `merge` may change `pending` and return it: work waiting for its key is the coalescer's
   * alone, and is handed to `run` only once no more is merged into it.
   */
  constructor(
    private readonly run: (key: string, work: T) => Promise<void>,
    private readonly merge: (pending: T, next: T) => T,
    private readonly intervalMs: number,
    private readonly onError: (err: unknown, key: string) => void,
  ) {}

  submit(key: string, work: T): void {
    if (this.stopped) return;
    let entry = this.entries.get(key);
    if (!entry) {
      entry = { work: undefined, timer: undefined, running: undefined, lastStart: -Infinity };
      this.entries.set(key, entry);
    }
    entry.work = entry.work === undefined ? work : this.merge(entry.work, work);
    if (!entry.running && !entry.timer) this.schedule(key, entry);
  }

  /** Whether any work is waiting or running. */
  get busy(): boolean {
    for (const entry of this.entries.values()) if (entry.running || entry.work !== undefined) return true;
    return false;
  }

  /** Forgets keys that have been idle for a whole interval (bounds memory to active keys). */
  prune(): void {
    const horizon = performance.now() - this.intervalMs;
    for (const [key, entry] of this.entries) {
      if (!entry.running && !entry.timer && entry.work === undefined && entry.lastStart < horizon) this.entries.delete(key);
    }
  }

  /** Drops waiting work and waits for running work to finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    const running: Array<Promise<void>> = [];
    for (const entry of this.entries.values()) {
      if (entry.timer) clearTimeout(entry.timer);
      entry.timer = undefined;
      entry.work = undefined;
      if (entry.running) running.push(entry.running);
    }
    await Promise.allSettled(running);
    this.entries.clear();
  }

  private schedule(key: string, entry: Entry<T>): void {
    const wait = Math.max(0, entry.lastStart + this.intervalMs - performance.now());
    entry.timer = setTimeout(() => this.fire(key, entry), wait);
    entry.timer.unref();
  }

  private fire(key: string, entry: Entry<T>): void {
    entry.timer = undefined;
    const work = entry.work;
    entry.work = undefined;
    if (work === undefined || this.stopped) return;
    entry.lastStart = performance.now();
    entry.running = this.run(key, work)
      .catch((err: unknown) => this.onError(err, key))
      .finally(() => {
        entry.running = undefined;
        if (entry.work !== undefined && !this.stopped) this.schedule(key, entry);
      });
  }
}
