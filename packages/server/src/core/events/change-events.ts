import type { EventBus } from '../../bus/event-bus.js';
import type { DomainEvent } from '../../bus/events.js';
import type { StoreSet, Stores } from '../stores.js';

/**
 * Writes what a change's events owe to durable consumers (the webhook outbox) inside the
 * change's own transaction, through that transaction's StoreSet only: on SQLite a call through
 * the outer Stores from inside a transaction waits for the connection the transaction holds.
 */
export interface TransactionalOutbox {
  write(tx: StoreSet, events: readonly DomainEvent[]): Promise<void>;
}

/**
 * The events of changes made in transactions. A service collects its events while its
 * transaction runs; they are written to the outbox in that same transaction (so a crash right
 * after the commit loses no webhook delivery, and a rollback leaves none), and published on
 * the bus only once the transaction has committed (so no subscriber acts on a change that
 * did not happen).
 */
export class ChangeEvents {
  private outbox: TransactionalOutbox | undefined;

  /** `bus` undefined: events are dropped (services built alone, in tests). */
  constructor(private readonly bus: Pick<EventBus, 'publish'> | undefined) {}

  /** The webhooks context attaches its outbox once it is built (it needs the event log). */
  attachOutbox(outbox: TransactionalOutbox): void {
    this.outbox = outbox;
  }

  /**
   * Runs `work` in one transaction of `stores`; the events it pushes onto its second argument
   * are staged in that transaction and published after it commits (never when it fails).
   */
  async transaction<T>(stores: Stores, work: (tx: StoreSet, events: DomainEvent[]) => Promise<T>): Promise<T> {
    let events: DomainEvent[] = [];
    const value = await stores.transaction(async (tx) => {
      events = [];
      const result = await work(tx, events);
      await this.stage(tx, events);
      return result;
    });
    this.publish(events);
    return value;
  }

  /**
   * For work that runs inside a transaction it does not own (group-commit units, import
   * batches): stages `events` in `tx`. The caller publishes them once that transaction commits.
   */
  async stage(tx: StoreSet, events: readonly DomainEvent[]): Promise<void> {
    if (events.length > 0 && this.outbox) await this.outbox.write(tx, events);
  }

  publish(events: readonly DomainEvent[]): void {
    if (!this.bus) return;
    for (const e of events) this.bus.publish(e);
  }
}
