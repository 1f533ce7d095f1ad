import type { Logger } from 'pino';
import type { Stores } from '../stores.js';
import { PeriodicTask } from '../periodic-task.js';

export interface LogRetentionOptions {
  /** Records (by receive time) and timeline entries older than this are deleted. */
  maxAgeMs: number;
  /** Records kept per device; its oldest beyond this are deleted. */
  perDeviceCap: number;
  /** Time between passes. */
  intervalMs: number;
  /** Delay of the first pass after start. */
  firstRunMs: number;
  /** Rows deleted per statement, so each delete is a short transaction. */
  chunk: number;
}

export const DEFAULT_LOG_RETENTION: LogRetentionOptions = { maxAgeMs: 7 * 86_400_000, perDeviceCap: 10_000, intervalMs: 10 * 60_000, firstRunMs: 60_000, chunk: 5_000 };

/**
 * Keeps device logs and the timeline bounded: deletes what is older than the retention age and
 * a device's records beyond its cap, in chunks with a turn of the event loop between them (as
 * the telemetry retention does), so a pass never holds the store for long. Passes are
 * idempotent: two nodes running one at once only duplicate work.
 */
export class LogRetentionWorker {
  private readonly task = new PeriodicTask(() => this.runOnce(), (err: unknown) => this.logger.warn({ err }, 'log retention pass failed'));
  private running: Promise<{ deleted: number }> | undefined;

  constructor(
    private readonly stores: Stores,
    private readonly logger: Logger,
    private readonly now: () => number,
    readonly options: LogRetentionOptions,
  ) {}

  private get stopping(): boolean {
    return this.task.stopped;
  }

  start(): void {
    this.task.start(this.options.firstRunMs, this.options.intervalMs);
  }

  async stop(): Promise<void> {
    this.task.stop();
    await this.running?.catch(() => undefined);
  }

  /** One pass; a pass already running is joined rather than doubled. */
  runOnce(): Promise<{ deleted: number }> {
    this.running ??= this.pass().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async pass(): Promise<{ deleted: number }> {
    const cutoff = this.now() - this.options.maxAgeMs;
    const { chunk } = this.options;
    let deleted = 0;
    for (let n = chunk; n >= chunk && !this.stopping; deleted += n, await yieldTurn()) n = await this.stores.deviceLogs.deleteReceivedBefore(cutoff, chunk);
    for (let n = chunk; n >= chunk && !this.stopping; deleted += n, await yieldTurn()) n = await this.stores.timeline.deleteBefore(cutoff, chunk);
    for (;;) {
      if (this.stopping) break;
      const over = await this.stores.deviceLogs.devicesOver(this.options.perDeviceCap, 100);
      for (const d of over) {
        if (this.stopping) break;
        deleted += await this.stores.deviceLogs.trimDevice(d.tenantId, d.deviceId, this.options.perDeviceCap);
        await yieldTurn();
      }
      if (over.length < 100) break;
    }
    if (deleted > 0) this.logger.info({ rows: deleted }, 'log retention pass');
    return { deleted };
  }
}

function yieldTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
