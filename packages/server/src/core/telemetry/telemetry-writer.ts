import type { Logger } from 'pino';
import type { EventBus } from '../../bus/event-bus.js';
import type { TelemetryScalar } from '../../bus/events.js';
import { HangarError, isHangarError } from '../../errors.js';
import { StoreError, type Stores } from '../stores.js';
import type { PointToWrite } from './ports.js';
import type { IngestDone } from './telemetry-ingest.js';
import type { TelemetryPoint } from './telemetry-point.js';

export interface WriterOptions {
  /** A batch closes at this many points (one device's message is never split). */
  maxBatchPoints: number;
  /**
   * How long the first reading of a batch waits for company. 0 writes at the next turn of the
   * event loop: under load batches still fill up, because readings accumulate while the
   * previous batch commits.
   */
  lingerMs: number;
  /** Batches committing at once: 1 on SQLite (one connection); more on PostgreSQL hides commit latency. */
  maxInFlight: number;
}

interface Entry {
  tenantId: string;
  deviceId: string;
  points: TelemetryPoint[];
  done: IngestDone;
}

/**
 * Group commit: readings from many devices are collected into one transaction, and every
 * caller's promise settles once that transaction has committed (or failed). One commit per
 * batch instead of per message is what makes durable acknowledgements affordable at fleet
 * scale. If a batch fails, each device's readings are retried on their own, so one bad
 * message (a device deleted meanwhile) fails only its own callers.
 */
export class TelemetryWriter {
  private pending: Entry[] = [];
  private pendingPoints = 0;
  private readonly inFlight = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private closed = false;

  constructor(
    private readonly stores: Stores,
    private readonly bus: EventBus,
    private readonly logger: Logger,
    private readonly options: WriterOptions,
    /** Told how many readings each commit made durable (the inbox compactor counts them). */
    private readonly onCommitted: (points: number) => void = () => undefined,
  ) {}

  /** Resolves once the readings are committed; rejects if their transaction failed. */
  write(tenantId: string, deviceId: string, points: TelemetryPoint[]): Promise<void> {
    return new Promise<void>((resolve, reject) => this.submit(tenantId, deviceId, points, (err) => (err === undefined ? resolve() : reject(err))));
  }

  /**
   * `write` without a promise: `done` is called once, after the commit (or at once when the
   * writer is closed). The MQTT gateway's hot path uses this: a promise and its reactions per
   * message cost more than the message's share of the commit.
   */
  submit(tenantId: string, deviceId: string, points: TelemetryPoint[], done: IngestDone): void {
    if (this.closed) {
      done(new HangarError('NOT_READY', 'the server is shutting down; send the telemetry again'));
      return;
    }
    this.pending.push({ tenantId, deviceId, points, done });
    this.pendingPoints += points.length;
    this.schedule();
  }

  /** Writes everything accepted so far and waits for it. */
  async flush(): Promise<void> {
    while (this.pending.length > 0 || this.inFlight.size > 0) {
      if (this.pending.length > 0 && this.inFlight.size < this.options.maxInFlight) this.run();
      await Promise.allSettled([...this.inFlight]);
    }
  }

  /** Refuses new readings, then writes what was accepted. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
  }

  private schedule(): void {
    if (this.inFlight.size >= this.options.maxInFlight) return; // the commit in flight picks the rest up
    if (this.pendingPoints >= this.options.maxBatchPoints || this.options.lingerMs <= 0) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      this.immediate ??= setImmediate(() => this.run());
    } else {
      this.timer ??= setTimeout(() => this.run(), this.options.lingerMs);
    }
  }

  private run(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
    while (this.pending.length > 0 && this.inFlight.size < this.options.maxInFlight) {
      const batch = this.take();
      const done: Promise<void> = this.commit(batch).finally(() => {
        this.inFlight.delete(done);
        // What arrived during the commit is a batch already: write it without lingering.
        if (this.pending.length > 0 && !this.immediate) this.immediate = setImmediate(() => this.run());
      });
      this.inFlight.add(done);
    }
  }

  private take(): Entry[] {
    let n = 0;
    let count = 0;
    while (count < this.pending.length && (count === 0 || n + this.pending[count]!.points.length <= this.options.maxBatchPoints)) {
      n += this.pending[count]!.points.length;
      count += 1;
    }
    const batch = this.pending.slice(0, count);
    this.pending = this.pending.slice(count);
    this.pendingPoints -= n;
    return batch;
  }

  private async commit(batch: Entry[]): Promise<void> {
    let written: number;
    try {
      written = await this.writeEntries(batch);
    } catch (err) {
      if (batch.length === 1 || new Set(batch.map((e) => e.deviceId)).size === 1) {
        const reason = explain(err, batch[0]!.deviceId);
        if (!isHangarError(reason)) this.logger.error({ err, devices: 1, entries: batch.length }, 'telemetry batch failed');
        for (const e of batch) this.settle(e, reason);
        return;
      }
      this.logger.warn({ err, entries: batch.length }, 'telemetry batch failed; retrying each device on its own');
      const byDevice = new Map<string, Entry[]>();
      for (const e of batch) byDevice.set(e.deviceId, [...(byDevice.get(e.deviceId) ?? []), e]);
      for (const entries of byDevice.values()) await this.commit(entries);
      return;
    }
    // Outside the try: a caller's failing callback must not make a committed batch look failed (and be written again).
    for (const e of batch) this.settle(e, undefined);
    this.onCommitted(written);
    this.publish(batch);
  }

  private settle(e: Entry, err: unknown): void {
    try {
      e.done(err);
    } catch (cbErr) {
      this.logger.error({ err: cbErr, deviceId: e.deviceId }, 'telemetry completion callback failed');
    }
  }

  private async writeEntries(batch: Entry[]): Promise<number> {
    const points: PointToWrite[] = [];
    for (const e of batch) for (const p of e.points) points.push({ tenantId: e.tenantId, deviceId: e.deviceId, key: p.key, ts: p.ts, value: p.value });
    await this.stores.transaction((tx) => tx.telemetry.writeBatch(points));
    return points.length;
  }

  /**
   * One event per device of the batch, with its newest value per key. A redelivered reading
   * is announced again (events are at least once, like the MQTT QoS 1 that carried it).
   */
  private publish(batch: Entry[]): void {
    const byDevice = new Map<string, DeviceNews>();
    for (const e of batch) {
      if (e.points.length === 0) continue;
      let d = byDevice.get(e.deviceId);
      if (!d) {
        d = { tenantId: e.tenantId, ts: e.points[0]!.ts, values: {}, tsOf: new Map() };
        byDevice.set(e.deviceId, d);
      }
      for (const p of e.points) {
        if (p.ts > d.ts) d.ts = p.ts;
        const seen = d.tsOf.get(p.key);
        if (seen !== undefined && p.ts <= seen) continue;
        d.tsOf.set(p.key, p.ts);
        // defineProperty only where needed: "__proto__" must become a member, not a prototype.
        if (p.key === '__proto__') Object.defineProperty(d.values, p.key, { value: p.value, enumerable: true, writable: true, configurable: true });
        else d.values[p.key] = p.value;
      }
    }
    for (const [deviceId, d] of byDevice) this.bus.publish({ type: 'telemetry.received', tenantId: d.tenantId, deviceId, ts: d.ts, values: d.values });
  }
}

/** What one telemetry.received event says: a device's newest value per key in a batch. */
interface DeviceNews {
  tenantId: string;
  ts: number;
  values: Record<string, TelemetryScalar>;
  tsOf: Map<string, number>;
}

/** A device deleted between authentication and the write shows up as a foreign-key failure. */
function explain(err: unknown, deviceId: string): unknown {
  if (err instanceof StoreError && err.reason === 'foreignKey') {
    return new HangarError('DEVICE_NOT_FOUND', `device "${deviceId}" no longer exists; its telemetry was not stored`, {}, { cause: err });
  }
  return err;
}
