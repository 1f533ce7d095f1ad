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

/**
 * Delivers each event to the handlers of its type, after the publisher's call stack unwinds,
 * so a slow or failing subscriber never delays or fails the service that published.
 */
export class InProcessEventBus implements EventBus {
  private readonly handlers = new Map<DomainEventType, Set<(event: DomainEvent) => void | Promise<void>>>();
  private readonly allHandlers = new Set<(event: DomainEvent) => void | Promise<void>>();

  constructor(private readonly logger?: Logger) {}

  publish(event: DomainEvent): void {
    const set = this.handlers.get(event.type);
    if ((!set || set.size === 0) && this.allHandlers.size === 0) return;
    for (const handler of [...(set ?? []), ...this.allHandlers]) {
      queueMicrotask(() => {
        Promise.resolve()
          .then(() => handler(event))
          .catch((err: unknown) => this.logger?.error({ err, event: event.type }, 'event handler failed'));
      });
    }
  }

  subscribe<T extends DomainEventType>(type: T, handler: (event: EventOf<T>) => void | Promise<void>): Unsubscribe {
    const set = this.handlers.get(type) ?? new Set();
    const h = handler as (event: DomainEvent) => void | Promise<void>;
    set.add(h);
    this.handlers.set(type, set);
    return () => set.delete(h);
  }

  subscribeAll(handler: (event: DomainEvent) => void | Promise<void>): Unsubscribe {
    this.allHandlers.add(handler);
    return () => this.allHandlers.delete(handler);
  }
}
