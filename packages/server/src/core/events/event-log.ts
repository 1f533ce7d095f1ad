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
  private readonly reserved = new WeakMap<DomainEvent, StreamEvent>();

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

  /**
   * Numbers an event before it is published: a change whose webhook deliveries are written in
   * its own transaction (core/events/change-events.ts) needs the id and time the stream will
   * show. `append` of the same event object then uses them. A reserved event whose transaction
   * rolls back is never appended (its id stays unused).
   */
  reserve(event: DomainEvent): StreamEvent {
    const reserved = this.reserved.get(event);
    if (reserved) return reserved;
    const at = this.now();
    const streamEvent = toStreamEvent(this.nextId(at), this.clock.iso(at), event);
    this.reserved.set(event, streamEvent);
    return streamEvent;
  }

  append(event: DomainEvent): StreamEvent {
    let streamEvent = this.reserved.get(event);
    if (streamEvent) this.reserved.delete(event);
    else {
      const at = this.now();
      streamEvent = toStreamEvent(this.nextId(at), this.clock.iso(at), event);
    }
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

  /**
   * Events after `afterId`, in the order they were appended, or a reset when some of them are
   * no longer held. A reserved event is appended after its transaction commits, so it can follow
   * events with higher ids: when the event `afterId` is held, what was appended after it is
   * what its client has not seen (clients receive events in append order).
   */
  since(afterId: number): Replay {
    if (afterId < this.floor || afterId > this.lastId) return { kind: 'reset', oldestId: this.oldest()?.id ?? null, latestId: this.lastId };
    const held: StreamEvent[] = [];
    for (let i = 0; i < this.size; i++) held.push(this.ring[(this.head - this.size + i + this.capacity) % this.capacity]!);
    const at = held.findIndex((e) => e.id === afterId);
    return { kind: 'events', events: at >= 0 ? held.slice(at + 1) : held.filter((e) => e.id > afterId) };
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
    this.floor = Math.max(this.floor, this.ring[tail]!.id);
    this.bytes -= this.sizes[tail]!;
    this.ring[tail] = undefined;
    this.size--;
  }

  private oldest(): StreamEvent | undefined {
    return this.size === 0 ? undefined : this.ring[(this.head - this.size + this.capacity) % this.capacity];
  }
}
