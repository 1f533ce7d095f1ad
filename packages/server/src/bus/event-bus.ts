import type { Logger } from 'pino';
import type { DomainEvent, DomainEventType, EventOf } from './events.js';

export type Unsubscribe = () => void;

/** The bus port: in-process now; the scale-out issue adds a Redis implementation. */
export interface EventBus {
  publish(event: DomainEvent): void;
  subscribe<T extends DomainEventType>(type: T, handler: (event: EventOf<T>) => void | Promise<void>): Unsubscribe;
  /** Every event, whatever its type (the SSE stream and the webhook outbox). */
  subscribeAll(handler: (event: DomainEvent) => void | Promise<void>): Unsubscribe;
}

type Handler = (event: DomainEvent) => void | Promise<void>;

const NONE: readonly Handler[] = [];

/**
 * Delivers each event to the handlers of its type, after the publisher's call stack unwinds,
 * so a slow or failing subscriber never delays or fails the service that published.
 *
 * One microtask per event calls all of its handlers in turn (telemetry publishes tens of
 * thousands of events a second; a microtask and promises per handler cost more than most
 * handlers). A handler that throws or rejects is logged and the others still run. Each
 * subscriber sees events in publishing order. The handlers an event goes to are those
 * subscribed when it was published: the lists are replaced, never changed, on (un)subscribe.
 */
export class InProcessEventBus implements EventBus {
  private readonly handlers = new Map<DomainEventType, Set<Handler>>();
  private readonly allHandlers = new Set<Handler>();
  /** Per type: its handlers, then the every-event handlers; rebuilt lazily after a change. */
  private targets = new Map<DomainEventType, readonly Handler[]>();

  constructor(private readonly logger?: Logger) {}

  publish(event: DomainEvent): void {
    const targets = this.targets.get(event.type) ?? this.buildTargets(event.type);
    if (targets.length === 0) return;
    queueMicrotask(() => {
      for (const handler of targets) this.call(handler, event);
    });
  }

  subscribe<T extends DomainEventType>(type: T, handler: (event: EventOf<T>) => void | Promise<void>): Unsubscribe {
    const set = this.handlers.get(type) ?? new Set();
    const h = handler as Handler;
    set.add(h);
    this.handlers.set(type, set);
    this.changed();
    return () => {
      if (set.delete(h)) this.changed();
    };
  }

  subscribeAll(handler: (event: DomainEvent) => void | Promise<void>): Unsubscribe {
    this.allHandlers.add(handler);
    this.changed();
    return () => {
      if (this.allHandlers.delete(handler)) this.changed();
    };
  }

  private call(handler: Handler, event: DomainEvent): void {
    try {
      const result = handler(event);
      if (result !== undefined) Promise.resolve(result).catch((err: unknown) => this.failed(err, event));
    } catch (err) {
      this.failed(err, event);
    }
  }

  private failed(err: unknown, event: DomainEvent): void {
    this.logger?.error({ err, event: event.type }, 'event handler failed');
  }

  private buildTargets(type: DomainEventType): readonly Handler[] {
    const own = this.handlers.get(type);
    const targets = (own?.size ?? 0) + this.allHandlers.size === 0 ? NONE : [...(own ?? []), ...this.allHandlers];
    this.targets.set(type, targets);
    return targets;
  }

  private changed(): void {
    // Deliveries already queued keep the arrays they captured.
    this.targets = new Map();
  }
}
