import type { DomainEvent } from '../../bus/events.js';
import { estimateEventBytes, IsoClock, toStreamEvent, type StreamEvent } from './stream-event.js';

export interface EventLogOptions {
  /** How many recent events a reconnecting client can resume from. */
  capacity?: number;
  /**
   * Roughly how much memory the held events may take (see estimateEventBytes): a count alone
   * would let devices sending maximal telemetry (1,000 values of up to 1 KiB) fill gigabytes.
   */
  maxBytes?: number;
  now?: () => number;
}

/** `bytes`: the event's estimated size, computed once for the log and every listener. */
export type EventListener = (event: StreamEvent, bytes: number) => void;

/** What a resuming client gets: the events it missed, or word that some are gone. */
export type Replay = { kind: 'events'; events: StreamEvent[] } | { kind: 'reset'; oldestId: number | null; latestId: number };

export const DEFAULT_EVENT_LOG_CAPACITY = 10_000;
export const DEFAULT_EVENT_LOG_BYTES = 64 * 1024 * 1024;

/**
 * The node's recent domain events: numbers each event, keeps the last `capacity` (and at most
 * about `maxBytes`) in a ring and hands every new one to its listeners (SSE streams, the
 * webhook outbox).
 *
 * Ids are time-based — `max(previous + 1, now × 1000)` — so they keep growing across restarts
 * without storing a counter (as long as the clock does not step back by more than the time since
 * the last event, and the rate stays under a million events per second on average).
 */
export class EventLog {
  private readonly capacity: number;
  private readonly now: () => number;
  private readonly maxBytes: number;
  private readonly ring: (StreamEvent | undefined)[];
  private readonly sizes: Float64Array;
  private head = 0; // next write position
  private size = 0;
  private bytes = 0;
  private lastId: number;
  /**
   * Every event with an id ≤ floor is gone (evicted, or from before this process started): a
   * client that last saw an id below it may have missed events.
   */
  private floor: number;
  private readonly listeners = new Set<EventListener>();
  private readonly clock = new IsoClock();

  constructor(options: EventLogOptions = {}) {
    this.capacity = Math.max(1, options.capacity ?? DEFAULT_EVENT_LOG_CAPACITY);
    this.now = options.now ?? Date.now;
    this.maxBytes = options.maxBytes ?? DEFAULT_EVENT_LOG_BYTES;
    this.ring = new Array<StreamEvent | undefined>(this.capacity);
    this.sizes = new Float64Array(this.capacity);
    this.lastId = this.now() * 1000;
    this.floor = this.lastId;
  }

  /** A new id from the same sequence, for things that are not domain events (webhook pings). */
  issueId(): number {
    return this.nextId(this.now());
  }

  append(event: DomainEvent): StreamEvent {
    const at = this.now();
    const streamEvent = toStreamEvent(this.nextId(at), this.clock.iso(at), event);
    const bytes = estimateEventBytes(streamEvent);
    // An event larger than the whole budget is still held (alone): it must be resumable like any.
    while (this.size > 0 && (this.size === this.capacity || this.bytes + bytes > this.maxBytes)) this.evictOldest();
    this.ring[this.head] = streamEvent;
    this.sizes[this.head] = bytes;
    this.bytes += bytes;
    this.size++;
    this.head = (this.head + 1) % this.capacity;
    for (const listener of this.listeners) listener(streamEvent, bytes);
    return streamEvent;
  }

  /** Events after `afterId`, oldest first, or a reset when some of them are no longer held. */
  since(afterId: number): Replay {
    if (afterId < this.floor || afterId > this.lastId) return { kind: 'reset', oldestId: this.oldest()?.id ?? null, latestId: this.lastId };
    const events: StreamEvent[] = [];
    for (let i = 0; i < this.size; i++) {
      const e = this.ring[(this.head - this.size + i + this.capacity) % this.capacity]!;
      if (e.id > afterId) events.push(e);
    }
    return { kind: 'events', events };
  }

  /** Registers `listener` for every event appended from now on. */
  listen(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get latestId(): number {
    return this.lastId;
  }

  /** Events held, and their estimated size in bytes. */
  get held(): { events: number; bytes: number } {
    return { events: this.size, bytes: this.bytes };
  }

  private nextId(now: number): number {
    this.lastId = Math.max(this.lastId + 1, now * 1000);
    return this.lastId;
  }

  private evictOldest(): void {
    const tail = (this.head - this.size + this.capacity) % this.capacity;
    this.floor = this.ring[tail]!.id;
    this.bytes -= this.sizes[tail]!;
    this.ring[tail] = undefined;
    this.size--;
  }

  private oldest(): StreamEvent | undefined {
    return this.size === 0 ? undefined : this.ring[(this.head - this.size + this.capacity) % this.capacity];
  }
}
