import type { Logger } from 'pino';
import type { Stores } from '../stores.js';
import type { SeriesRef } from './ports.js';
import { PeriodicTask } from '../periodic-task.js';

export interface RetentionOptions {
  /** Days of history a tenant without its own setting keeps. */
  defaultDays: number;
  /** Time between passes. */
  intervalMs: number;
  /** Delay of the first pass after start. */
  firstRunMs: number;
  /** Rows deleted per statement: each delete is a short transaction, so writers wait little. */
  chunk: number;
  /** Series read per page. */
  page: number;
}

export const DEFAULT_RETENTION: RetentionOptions = { defaultDays: 30, intervalMs: 60 * 60_000, firstRunMs: 60_000, chunk: 5_000, page: 500 };
const DAY_MS = 86_400_000;

/**
 * Deletes telemetry older than each tenant's retention, and the whole history of deleted
 * devices, in bounded chunks with a turn of the event loop between them, so that neither
 * holds the SQLite connection (and the telemetry writer) for long. Deletes are idempotent:
 * two nodes running a pass at once only duplicate work.
 */
export class RetentionWorker {
  readonly options: RetentionOptions;
  private readonly task = new PeriodicTask(() => this.runOnce(), (err: unknown) => this.logger.warn({ err }, 'telemetry retention pass failed'));
  private running: Promise<{ deleted: number }> | undefined;
  private readonly purges = new Set<Promise<void>>();

  constructor(
    private readonly stores: Stores,
    private readonly logger: Logger,
    private readonly now: () => number,
    options: Partial<RetentionOptions> = {},
  ) {
    this.options = { ...DEFAULT_RETENTION, ...options };
  }

  get defaultDays(): number {
    return this.options.defaultDays;
  }

  private get stopping(): boolean {
    return this.task.stopped;
  }

  start(): void {
    this.task.start(this.options.firstRunMs, this.options.intervalMs);
  }

  async stop(): Promise<void> {
    this.task.stop();
    await Promise.allSettled([this.running, ...this.purges]);
  }

  /** One pass over every tenant; a pass already running is joined rather than doubled. */
  runOnce(): Promise<{ deleted: number }> {
    this.running ??= this.pass().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /**
   * Removes a deleted device's history in the background (what the deletion's transaction left:
   * see device-history.ts). A purge cut short by shutdown is finished by a later retention pass,
   * which looks for history of devices that are gone.
   */
  purgeDevice(deviceId: string): void {
    const work: Promise<void> = this.purge(deviceId)
      .then(() => undefined)
      .catch((err: unknown) => this.logger.warn({ err, deviceId }, 'telemetry purge of a deleted device failed'))
      .finally(() => this.purges.delete(work));
    this.purges.add(work);
  }

  private async purge(deviceId: string): Promise<number> {
    let total = 0;
    for (let n = -1; n !== 0 && !this.stopping; total += n) {
      n = await this.stores.transaction(async (tx) => {
        // An id created again is a new device: what is stored under it now is not this purge's.
        // (Creation refuses an id with history left, so this only closes the race with it.)
        if ((await tx.devices.findOwners([deviceId])).size > 0) return 0;
        return tx.telemetry.purgeDeviceChunk(deviceId, this.options.chunk);
      });
      await yieldTurn();
    }
    if (total > 0) this.logger.info({ deviceId, rows: total }, 'purged telemetry of a deleted device');
    return total;
  }

  private async pass(): Promise<{ deleted: number }> {
    const started = this.now();
    let deleted = 0;
    for (const deviceId of await this.stores.telemetry.orphanDevices(1_000)) deleted += await this.purge(deviceId);
    for (const { tenantId, retentionDays } of await this.stores.telemetry.listRetention()) {
      const cutoff = started - (retentionDays ?? this.options.defaultDays) * DAY_MS;
      let after: SeriesRef | undefined;
      for (;;) {
        if (this.stopping) return { deleted };
        const page = await this.stores.telemetry.listSeries(tenantId, after, this.options.page);
        for (const series of page) {
          if (this.stopping) return { deleted };
          for (let n = this.options.chunk; n >= this.options.chunk; deleted += n) n = await this.stores.telemetry.deleteRawBefore(series, cutoff, this.options.chunk);
          for (let n = this.options.chunk; n >= this.options.chunk; deleted += n) n = await this.stores.telemetry.deleteRollupsBefore(series, cutoff, this.options.chunk);
          await yieldTurn();
        }
        if (page.length < this.options.page) break;
        after = page[page.length - 1];
      }
    }
    if (deleted > 0) this.logger.info({ rows: deleted, ms: this.now() - started }, 'telemetry retention pass');
    return { deleted };
  }
}

function yieldTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
