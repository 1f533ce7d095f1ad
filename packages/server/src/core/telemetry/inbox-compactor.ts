import type { Logger } from 'pino';
import type { Stores } from '../stores.js';

export interface CompactorOptions {
  /** Time between compactions when fewer than `chunk` readings arrived. */
  everyMs: number;
  /**
   * Readings moved per transaction; also how many new readings trigger a compaction at once.
   * Larger chunks write each page of the history tables for more readings (50,000 did ~15 %
   * more messages per CPU-second than 20,000 in bench/telemetry) but hold the SQLite
   * connection, and the event loop, longer: about a quarter of a CPU-second each.
   */
  chunk: number;
}

export const DEFAULT_COMPACTOR: CompactorOptions = { everyMs: 1_000, chunk: 50_000 };

/**
 * Moves acknowledged readings from the inbox into the raw points and rollups, many seconds'
 * worth at a time, so that each page of those series-ordered tables is written once for many
 * readings (see store/kysely/telemetry-batch.ts). Runs on a timer and as soon as a chunk's
 * worth has arrived; `flush()` lets a reader see everything acknowledged before it asked.
 */
export class InboxCompactor {
  private readonly options: CompactorOptions;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private sinceLast = 0;
  private started = false;
  /** Until one pass has emptied the inbox, it may hold readings from before this process. */
  private backlogUnknown = true;

  constructor(
    private readonly stores: Stores,
    private readonly logger: Logger,
    options: Partial<CompactorOptions> = {},
  ) {
    this.options = { ...DEFAULT_COMPACTOR, ...options };
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.arm(false);
  }

  /** The writer committed `count` readings to the inbox. */
  notify(count: number): void {
    this.sinceLast += count;
    if (this.started && this.sinceLast >= this.options.chunk && !this.running) void this.runPass();
  }

  /**
   * Compacts what was acknowledged before this call, after any pass under way. Bounded by that
   * count: under a sustained overload new readings would otherwise keep a reader waiting.
   */
  async flush(): Promise<void> {
    if (this.running) await this.running;
    await this.runPass();
  }

  async stop(): Promise<void> {
    this.started = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.running) await this.running;
  }

  private arm(soon: boolean): void {
    if (!this.started) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.runPass(), soon ? 0 : this.options.everyMs);
    this.timer.unref();
  }

  private runPass(): Promise<void> {
    let more = false;
    this.running ??= this.pass()
      .then((left) => {
        more = left;
      })
      .catch((err: unknown) => this.logger.error({ err }, 'telemetry inbox compaction failed; the readings stay in the inbox'))
      .finally(() => {
        this.running = undefined;
        this.arm(more);
      });
    return this.running;
  }

  /**
   * Compacts what was acknowledged before the pass began (a backlog from before this process
   * at most 20 chunks at a time), so that a pass, and a reader waiting for it, ends even while
   * readings arrive faster than they are compacted. Says whether the inbox may hold more.
   */
  private async pass(): Promise<boolean> {
    const atMost = this.backlogUnknown ? 20 * this.options.chunk : this.sinceLast;
    this.sinceLast = 0;
    for (let total = 0; ; ) {
      const moved = await this.stores.transaction((tx) => tx.telemetry.compactInbox(this.options.chunk));
      total += moved;
      if (moved < this.options.chunk) {
        this.backlogUnknown = false;
        return false;
      }
      if (total >= atMost) return true;
      // Give acknowledged writes (and everything else) a turn between chunks.
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
}
