import type { DomainEvent } from '../../bus/events.js';
import type { StoreSet } from '../stores.js';
import type { TransactionalOutbox } from '../events/change-events.js';
import type { EventLog } from '../events/event-log.js';
import { parseQueryFilter } from '../events/fleet-matcher.js';
import type { StreamEvent } from '../events/stream-event.js';
import { parseTypeFilter } from '../events/type-filter.js';
import { deviceQuery, type DeviceQuery } from '../query/index.js';
import type { NewDelivery } from './ports.js';
import { sortableId, type Webhook } from './webhook.js';
import { MAX_WEBHOOKS_PER_TENANT } from './webhook-service.js';

/**
 * The transactional outbox: writes the delivery rows of a change's events in the change's own
 * transaction, so the change and its deliveries commit (or roll back) together. The webhooks
 * are read from inside that transaction, once per transaction and tenant (a group commit runs
 * many changes in one), and a query filter is answered by the same transaction — where a
 * device created by the change already exists.
 *
 * Events written here are still published after commit; the dispatcher skips them (`handled`)
 * and only wakes the delivery worker when they got rows.
 */
export class WebhookOutbox implements TransactionalOutbox {
  private readonly handledEvents = new WeakSet<StreamEvent>();
  private readonly queuedEvents = new WeakSet<StreamEvent>();
  private readonly hooksByTx = new WeakMap<StoreSet, Map<string, Webhook[]>>();

  constructor(private readonly deps: { log: EventLog; now: () => number }) {}

  /** True for an event whose deliveries its transaction wrote. */
  handled(event: StreamEvent): boolean {
    return this.handledEvents.has(event);
  }

  /** True for a handled event that got at least one delivery row. */
  queued(event: StreamEvent): boolean {
    return this.queuedEvents.has(event);
  }

  async write(tx: StoreSet, events: readonly DomainEvent[]): Promise<void> {
    const now = this.deps.now();
    const rows: NewDelivery[] = [];
    const payloads = new Map<StreamEvent, string>();
    for (const [tenantId, ofTenant] of byTenant(events)) {
      for (const hook of await this.hooksOf(tx, tenantId)) {
        let matching = matchingTypes(hook, ofTenant);
        if (matching.length === 0) continue;
        if (hook.query !== null) matching = await matchingDevices(tx, hook, tenantId, matching, now);
        for (const event of matching) {
          const stream = this.deps.log.reserve(event);
          let payload = payloads.get(stream);
          if (payload === undefined) payloads.set(stream, (payload = JSON.stringify(stream)));
          this.queuedEvents.add(stream);
          rows.push({ id: sortableId('dlv_', now), tenantId, webhookId: hook.id, eventType: event.type, eventId: stream.id, payload, createdAt: now, nextAttemptAt: now });
        }
      }
    }
    for (const event of events) this.handledEvents.add(this.deps.log.reserve(event));
    if (rows.length > 0) await tx.webhooks.insertDeliveries(rows);
  }

  private async hooksOf(tx: StoreSet, tenantId: string): Promise<Webhook[]> {
    let cache = this.hooksByTx.get(tx);
    if (!cache) this.hooksByTx.set(tx, (cache = new Map()));
    let hooks = cache.get(tenantId);
    if (!hooks) {
      hooks = (await tx.webhooks.list(tenantId, undefined, MAX_WEBHOOKS_PER_TENANT)).filter((w) => w.enabled);
      cache.set(tenantId, hooks);
    }
    return hooks;
  }
}

function byTenant(events: readonly DomainEvent[]): Map<string, DomainEvent[]> {
  const out = new Map<string, DomainEvent[]>();
  for (const e of events) {
    const list = out.get(e.tenantId);
    if (list) list.push(e);
    else out.set(e.tenantId, [e]);
  }
  return out;
}

function matchingTypes(hook: Webhook, events: readonly DomainEvent[]): DomainEvent[] {
  try {
    const types = parseTypeFilter(hook.eventTypes);
    return events.filter((e) => types.matches(e.type));
  } catch {
    // Stored filters were valid when written; the dispatcher logs one that no longer parses.
    return [];
  }
}

async function matchingDevices(tx: StoreSet, hook: Webhook, tenantId: string, events: DomainEvent[], now: number): Promise<DomainEvent[]> {
  const ids = [...new Set(events.flatMap((e) => ('deviceId' in e ? [e.deviceId] : [])))];
  if (ids.length === 0) return [];
  let where: DeviceQuery;
  try {
    where = deviceQuery(parseQueryFilter(hook.query!), now);
  } catch {
    // Stored queries were valid when written; one that no longer parses matches nothing (as in the dispatcher).
    return [];
  }
  const found = await tx.webhooks.devicesMatching(tenantId, where, ids);
  return events.filter((e) => 'deviceId' in e && found.has(e.deviceId));
}
