import type { Logger } from 'pino';
import type { DomainEvent, DomainEventType, EventOf } from './events.js';

export type Unsubscribe = () => void;

/** The bus port: in-process now; the scale-out issue adds a Redis implementation. */
export interface EventBus {
  publish(event: DomainEvent): void;
  subscribe<T extends DomainEventType>(type: T, handler: (event: EventOf<T>) => void | Promise<void>): Unsubscribe;
}

/**
 * Delivers each event to the handlers of its type, after the publisher's call stack unwinds,
 * so a slow or failing subscriber never delays or fails the service that published.
 */
export class InProcessEventBus implements EventBus {
  private readonly handlers = new Map<DomainEventType, Set<(event: DomainEvent) => void | Promise<void>>>();

  constructor(private readonly logger?: Logger) {}

  publish(event: DomainEvent): void {
    const set = this.handlers.get(event.type);
    if (!set || set.size === 0) return;
    for (const handler of [...set]) {
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
}
