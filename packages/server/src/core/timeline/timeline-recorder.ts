import type { Logger } from 'pino';
import type { EventBus, Unsubscribe } from '../../bus/event-bus.js';
import type { DomainEvent } from '../../bus/events.js';
import type { Stores } from '../stores.js';
import type { NewTimelineEntry } from './ports.js';

/**
 * Event families a device's timeline shows: every event of these carrying a `deviceId` is
 * recorded, so a family's new events (command.*, say) appear without a change here.
 */
export const TIMELINE_FAMILIES: readonly string[] = ['device.', 'twin.', 'command.', 'credential.', 'alert.', 'ota.'];
/**
 * `device.log` is summarised (errors only, as `log.error`); a deleted device has no timeline
 * left; `ota.offer.changed` only tells transports to push (every change of an offer — new
 * download tokens included — would be an entry): the update's own steps are `ota.update`.
 */
const NOT_RECORDED: ReadonlySet<string> = new Set(['device.log', 'device.deleted', 'ota.offer.changed']);
/** The timeline's own type for error log records. */
export const LOG_ERROR_TYPE = 'log.error';
/** The timeline's own type for a device's steps in a rollout (`rollout.device.state`), in the `ota.` family. */
export const OTA_UPDATE_TYPE = 'ota.update';
/** Devices whose last recorded update step is remembered (to skip repeats); beyond it the oldest is forgotten. */
const MAX_REMEMBERED_UPDATES = 100_000;

export interface TimelineRecorderOptions {
  /** At most one `log.error` entry per device per window; errors in between are counted into the next. */
  logErrorWindowMs: number;
  /** Entries held while the store refuses them; beyond this the oldest are dropped (and logged). */
  maxBuffered: number;
  /** Delay before a write, so a burst of events becomes one insert. */
  flushDelayMs: number;
  /** Delay before retrying a failed write. */
  retryMs: number;
}

export const DEFAULT_TIMELINE_RECORDER: TimelineRecorderOptions = { logErrorWindowMs: 60_000, maxBuffered: 10_000, flushDelayMs: 20, retryMs: 1_000 };

interface ErrorWindow {
  openedAt: number;
  /** Error records seen since the window opened and not yet in an entry. */
  unrecorded: number;
}

/**
 * Writes the per-device timeline (`device_events`) from the bus. The bus is in-process, so the
 * recorder sees what this node publishes; entries are buffered and written in batches. While
 * the store refuses writes they stay buffered (up to maxBuffered, oldest dropped first) and are
 * retried; what is buffered when the process dies is lost (docs/logs.md).
 */
export class TimelineRecorder {
  readonly options: TimelineRecorderOptions;
  private buffer: NewTimelineEntry[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private unsubscribe: Unsubscribe | undefined;
  private readonly errorWindows = new Map<string, ErrorWindow>();
  /** Per device: the rollout and state of its last `ota.update` entry. */
  private readonly updateSteps = new Map<string, string>();
  private readonly purges = new Set<Promise<void>>();
  private readonly recordedTypes = new Map<string, boolean>();
  private dropped = 0;

  constructor(
    private readonly stores: Stores,
    private readonly bus: EventBus,
    private readonly logger: Logger,
    private readonly now: () => number,
    options: Partial<TimelineRecorderOptions> = {},
  ) {
    this.options = { ...DEFAULT_TIMELINE_RECORDER, ...options };
  }

  start(): void {
    this.unsubscribe ??= this.bus.subscribeAll((event) => this.record(event));
  }

  /** Stops listening and writes what is buffered (one attempt). */
  async close(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.flush();
    await Promise.allSettled([...this.purges]);
  }

  /** Writes what is buffered now (tests, shutdown). */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.buffer.length === 0) return;
    const entries = this.buffer;
    this.buffer = [];
    this.flushing = this.write(entries).finally(() => (this.flushing = undefined));
    await this.flushing;
  }

  private record(event: DomainEvent): void {
    if (event.type === 'telemetry.received') return;
    const fields = event as unknown as Record<string, unknown>;
    const deviceId = fields.deviceId;
    if (typeof deviceId !== 'string') return;
    if (event.type === 'device.deleted') {
      this.forget(event.tenantId, deviceId);
      return;
    }
    if (event.type === 'device.log') {
      this.recordLogErrors(event);
      return;
    }
    if (event.type === 'rollout.device.state') {
      this.recordUpdateStep(event);
      return;
    }
    if (!this.recordable(event.type)) return;
    const data: Record<string, unknown> = {};
    for (const key of Object.keys(fields)) if (key !== 'type' && key !== 'tenantId' && key !== 'deviceId') data[key] = fields[key];
    const at = fields.at;
    this.push({ tenantId: event.tenantId, deviceId, ts: typeof at === 'number' ? at : this.now(), type: event.type, data });
  }

  /** Whether a type is recorded, remembered per type: every telemetry batch passes through here. */
  private recordable(type: string): boolean {
    let yes = this.recordedTypes.get(type);
    if (yes === undefined) this.recordedTypes.set(type, (yes = !NOT_RECORDED.has(type) && TIMELINE_FAMILIES.some((f) => type.startsWith(f))));
    return yes;
  }

  private recordLogErrors(event: Extract<DomainEvent, { type: 'device.log' }>): void {
    const errors = event.records.filter((r) => r.level === 'error');
    if (errors.length === 0) return;
    const key = `${event.tenantId}\u0000${event.deviceId}`;
    const window = this.errorWindows.get(key);
    if (window && event.receivedAt - window.openedAt < this.options.logErrorWindowMs) {
      window.unrecorded += errors.length;
      return;
    }
    const first = errors[0]!;
    const count = errors.length + (window?.unrecorded ?? 0);
    this.errorWindows.set(key, { openedAt: event.receivedAt, unrecorded: 0 });
    if (this.errorWindows.size > 100_000) this.errorWindows.delete(this.errorWindows.keys().next().value!);
    this.push({ tenantId: event.tenantId, deviceId: event.deviceId, ts: first.ts, type: LOG_ERROR_TYPE, data: { count, msg: first.msg.slice(0, 500), logId: first.id } });
  }

  /**
   * A device's step in a rollout, once per state: a device reports download progress many
   * times, each a `rollout.device.state` event with the same state, and one entry says it.
   */
  private recordUpdateStep(event: Extract<DomainEvent, { type: 'rollout.device.state' }>): void {
    const key = `${event.tenantId}\u0000${event.deviceId}`;
    const step = `${event.rolloutId}\u0000${event.state}`;
    if (this.updateSteps.get(key) === step) return;
    // Re-inserted at the end: the map's first key is the device least recently updated.
    this.updateSteps.delete(key);
    this.updateSteps.set(key, step);
    if (this.updateSteps.size > MAX_REMEMBERED_UPDATES) this.updateSteps.delete(this.updateSteps.keys().next().value!);
    const { type: _type, tenantId, deviceId, ...data } = event;
    this.push({ tenantId, deviceId, ts: this.now(), type: OTA_UPDATE_TYPE, data });
  }

  private push(entry: NewTimelineEntry): void {
    this.buffer.push(entry);
    if (this.buffer.length > this.options.maxBuffered) {
      const over = this.buffer.length - this.options.maxBuffered;
      this.buffer.splice(0, over);
      this.noteDropped(over);
    }
    this.schedule(this.options.flushDelayMs);
  }

  private schedule(delay: number): void {
    if (this.timer || !this.unsubscribe) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, delay);
    this.timer.unref();
  }

  private async write(entries: NewTimelineEntry[]): Promise<void> {
    let done = 0;
    try {
      for (; done < entries.length; done += 500) await this.stores.timeline.append(entries.slice(done, done + 500));
    } catch (err) {
      const rest = entries.slice(done);
      this.logger.warn({ err, entries: rest.length }, 'timeline write failed; will retry');
      // Keep them ahead of what arrived meanwhile, within the bound.
      this.buffer = rest.concat(this.buffer);
      if (this.buffer.length > this.options.maxBuffered) {
        const over = this.buffer.length - this.options.maxBuffered;
        this.buffer.splice(0, over);
        this.noteDropped(over);
      }
      this.schedule(this.options.retryMs);
    }
  }

  private noteDropped(n: number): void {
    this.dropped += n;
    this.logger.warn({ dropped: n, total: this.dropped }, 'timeline entries dropped: the store has refused writes for too long');
  }

  /** A deleted device: nothing of it is written any more, and what is stored goes. */
  private forget(tenantId: string, deviceId: string): void {
    this.buffer = this.buffer.filter((e) => e.tenantId !== tenantId || e.deviceId !== deviceId);
    this.errorWindows.delete(`${tenantId}\u0000${deviceId}`);
    this.updateSteps.delete(`${tenantId}\u0000${deviceId}`);
    const work: Promise<void> = (async () => {
      await this.flushing;
      // An id created again is a new device: its timeline is its own.
      if (await this.stores.devices.get(tenantId, deviceId)) return;
      await this.stores.timeline.purgeDevice(tenantId, deviceId);
    })()
      .catch((err: unknown) => this.logger.warn({ err, deviceId }, 'purging a deleted device’s timeline failed; retention removes it later'))
      .finally(() => this.purges.delete(work));
    this.purges.add(work);
  }
}
