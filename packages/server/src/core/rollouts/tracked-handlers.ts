import type { EventBus, Unsubscribe } from '../../bus/event-bus.js';
import type { DomainEventType, EventOf } from '../../bus/events.js';

/**
 * Bus subscriptions whose work runs one at a time per device (two disconnects of one device
 * never read the same count) and can be awaited: `idle()` resolves once everything handed over
 * so far is done (shutdown; tests that publish an event and then look).
 */
export class TrackedHandlers {
  private readonly offs: Unsubscribe[] = [];
  private readonly chains = new Map<string, Promise<void>>();

  constructor(private readonly onError: (err: unknown, type: string) => void) {}

  on<T extends DomainEventType>(bus: Pick<EventBus, 'subscribe'>, type: T, keyOf: (e: EventOf<T>) => string, handler: (e: EventOf<T>) => Promise<void>): void {
    this.offs.push(bus.subscribe(type, (e) => this.run(keyOf(e), () => handler(e), type)));
  }

  /** Runs `work` after the work already queued for `key`. */
  run(key: string, work: () => Promise<void>, label: string): Promise<void> {
    const previous = this.chains.get(key) ?? Promise.resolve();
    const next = previous.then(work).catch((err: unknown) => this.onError(err, label));
    this.chains.set(key, next);
    void next.then(() => {
      if (this.chains.get(key) === next) this.chains.delete(key);
    });
    return next;
  }

  async idle(): Promise<void> {
    while (this.chains.size > 0) await Promise.all([...this.chains.values()]);
  }

  stop(): void {
    for (const off of this.offs.splice(0)) off();
  }
}
