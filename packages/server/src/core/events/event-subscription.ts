import type { FleetMatcher } from './fleet-matcher.js';
import { estimateEventBytes, type StreamEvent } from './stream-event.js';
import type { TypeFilter } from './type-filter.js';

export interface SubscriptionFilter {
  tenantId: string;
  types: TypeFilter;
  deviceId?: string | undefined;
  matcher?: FleetMatcher | undefined;
}

/** What one stream may hold for a slow client: a few maximal telemetry events (1,000 values × 1 KiB). */
export const DEFAULT_MAX_QUEUE_BYTES = 8 * 1024 * 1024;

/** `revoked`: the key, user or session the stream was opened with no longer grants access. */
export type EndReason = 'closed' | 'overflow' | 'error' | 'shutdown' | 'revoked';

/** What the consumer writes next: events in order, a reset notice, or the end of the stream. */
export type SubscriptionItem =
  | { kind: 'events'; events: StreamEvent[] }
  /** Events were missed; `latestId` is the id to resume from (nothing after it was missed). */
  | { kind: 'reset'; oldestId: number | null; latestId: number }
  | { kind: 'end'; reason: EndReason };

/**
 * One client's view of the event log: filters events as they arrive and queues them until the
 * consumer (the SSE route) pulls. The queue is bounded in events and in estimated bytes (events
 * evicted from the log live on in the queues that hold them): a client that cannot keep up is ended
 * with `overflow` rather than letting its backlog grow without limit — it can reconnect with
 * Last-Event-ID and resume from the log.
 */
export class EventSubscription {
  private queue: StreamEvent[] = [];
  /** Replayed events in the queue: they do not count against the bound until taken. */
  private replayed = 0;
  /** Estimated size of the live (not replayed) events in the queue. */
  private queuedBytes = 0;
  private pendingReset: { oldestId: number | null; latestId: number } | undefined;
  private ended: EndReason | undefined;
  private wake: (() => void) | undefined;
  private readonly onEnd: Array<() => void> = [];

  constructor(
    private readonly filter: SubscriptionFilter,
    private readonly maxQueue: number,
    private readonly maxQueueBytes: number = DEFAULT_MAX_QUEUE_BYTES,
  ) {}

  /**
   * Called by the log for every new event (with its estimated size) and for replayed ones;
   * cheap, synchronous, never throws.
   */
  offer(event: StreamEvent, replay = false, bytes = replay ? 0 : estimateEventBytes(event)): void {
    if (this.ended) return;
    if (event.tenant !== this.filter.tenantId) return;
    if (!this.filter.types.matches(event.type)) return;
    if (this.filter.deviceId !== undefined && event.deviceId !== this.filter.deviceId) return;
    if (this.filter.matcher && event.deviceId === undefined) return;
    this.queue.push(event);
    if (replay) {
      this.replayed++;
    } else {
      this.queuedBytes += bytes;
      if (this.queue.length - this.replayed > this.maxQueue || this.queuedBytes > this.maxQueueBytes) {
        this.end('overflow');
        return;
      }
    }
    this.notify();
  }

  reset(oldestId: number | null, latestId: number): void {
    this.pendingReset = { oldestId, latestId };
    this.notify();
  }

  /** Waits for the next item. Only one consumer may wait at a time. */
  async next(): Promise<SubscriptionItem> {
    for (;;) {
      if (this.ended) return { kind: 'end', reason: this.ended };
      if (this.pendingReset) {
        const item = { kind: 'reset' as const, ...this.pendingReset };
        this.pendingReset = undefined;
        return item;
      }
      if (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        this.replayed = 0;
        this.queuedBytes = 0;
        const events = await this.applyQueryFilter(batch);
        if (this.ended) return { kind: 'end', reason: this.ended };
        if (events.length > 0) return { kind: 'events', events };
        continue;
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  end(reason: EndReason): void {
    if (this.ended) return;
    this.ended = reason;
    this.queue = [];
    this.queuedBytes = 0;
    this.notify();
    for (const f of this.onEnd.splice(0)) f();
  }

  get endReason(): EndReason | undefined {
    return this.ended;
  }

  onEnded(f: () => void): void {
    if (this.ended) f();
    else this.onEnd.push(f);
  }

  private async applyQueryFilter(batch: StreamEvent[]): Promise<StreamEvent[]> {
    const matcher = this.filter.matcher;
    if (!matcher) return batch;
    try {
      const answers = await Promise.all(batch.map((e) => matcher.matches(e.deviceId!)));
      return batch.filter((_e, i) => answers[i]);
    } catch {
      this.end('error');
      return [];
    }
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}
