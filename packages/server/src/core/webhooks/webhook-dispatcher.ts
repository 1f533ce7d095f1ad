import type { Logger } from 'pino';
import type { EventLog } from '../events/event-log.js';
import { FleetMatcher, parseQueryFilter } from '../events/fleet-matcher.js';
import type { StreamEvent } from '../events/stream-event.js';
import { parseTypeFilter, type TypeFilter } from '../events/type-filter.js';
import type { NewDelivery, WebhookStore } from './ports.js';
import type { WebhookOutbox } from './webhook-outbox.js';
import { sortableId, type Webhook } from './webhook.js';

export interface DispatcherOptions {
  /** How long events gather before one batched insert. */
  flushMs: number;
  /** Rows that trigger an insert at once. */
  maxBatch: number;
  /** Rows held in memory while the database lags; beyond it new rows are dropped (and logged). */
  maxBuffered: number;
  matchTtlMs: number;
  /** Reload of the webhook list, for changes made on other nodes. */
  reloadMs: number;
}

interface Subscriber {
  webhook: Webhook;
  types: TypeFilter;
  matcher: FleetMatcher | undefined;
}

/**
 * The outbox writer for events that are not written with their change (telemetry and presence,
 * whose changes are group-committed by their own writers): turns each event of the log into
 * delivery rows for the webhooks of its tenant that subscribed to its type (and whose query its
 * device matches), and inserts them in batches — at telemetry rates one transaction per event
 * would cost more than the event. A crash between an event and the next flush (≤ flushMs) loses
 * those deliveries; docs/events-and-webhooks.md says so. Events of changes made through
 * ChangeEvents had their rows written in their own transaction (WebhookOutbox) and are skipped.
 */
export class WebhookDispatcher {
  private byTenant = new Map<string, Subscriber[]>();
  private buffer: NewDelivery[] = [];
  private readonly pendingMatches = new Set<Promise<void>>();
  private flushTimer: NodeJS.Timeout | undefined;
  private reloadTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private unlisten: (() => void) | undefined;
  private dropped = 0;
  private droppedLoggedAt = 0;
  private reloadQueued: Promise<void> | undefined;

  constructor(
    private readonly deps: { store: WebhookStore; log: EventLog; logger: Logger; now: () => number; onQueued: () => void; outbox: WebhookOutbox },
    private readonly options: DispatcherOptions,
  ) {}

  async start(): Promise<void> {
    await this.reload();
    this.unlisten = this.deps.log.listen((e) => this.onEvent(e));
    this.reloadTimer = setInterval(() => void this.changed(), this.options.reloadMs);
    this.reloadTimer.unref();
  }

  /**
   * Webhooks changed: reload their filters. Concurrent calls share one reload that starts after
   * the latest call, so every caller's change is in the list it waits for.
   */
  changed(): Promise<void> {
    this.reloadQueued ??= Promise.resolve().then(() => {
      this.reloadQueued = undefined;
      return this.reload().catch((err: unknown) => this.deps.logger.error({ err }, 'webhook reload failed'));
    });
    return this.reloadQueued;
  }

  async stop(): Promise<void> {
    this.unlisten?.();
    clearInterval(this.reloadTimer);
    await Promise.allSettled([...this.pendingMatches]);
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    await this.flush();
  }

  /** Writes what is buffered now (tests; shutdown). */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.buffer.length === 0) return;
    const rows = this.buffer;
    this.buffer = [];
    this.flushing = this.deps.store
      .insertDeliveries(rows)
      .then(() => this.deps.onQueued())
      .catch((err: unknown) => {
        // Keep the rows for the next flush unless that would exceed the bound.
        this.deps.logger.error({ err, rows: rows.length }, 'webhook outbox insert failed; will retry');
        const room = this.options.maxBuffered - this.buffer.length;
        if (room > 0) this.buffer = rows.slice(0, room).concat(this.buffer);
        this.noteDropped(rows.length - Math.max(0, room));
        this.schedule();
      })
      .finally(() => (this.flushing = undefined));
    await this.flushing;
  }

  private async reload(): Promise<void> {
    const hooks = await this.deps.store.listEnabled();
    const next = new Map<string, Subscriber[]>();
    for (const webhook of hooks) {
      try {
        const types = parseTypeFilter(webhook.eventTypes);
        const matcher = webhook.query
          ? new FleetMatcher(parseQueryFilter(webhook.query), { tenantId: webhook.tenantId, lookup: (t, w, ids) => this.deps.store.devicesMatching(t, w, ids), ttlMs: this.options.matchTtlMs, now: this.deps.now })
          : undefined;
        const list = next.get(webhook.tenantId) ?? [];
        list.push({ webhook, types, matcher });
        next.set(webhook.tenantId, list);
      } catch (err) {
        // Stored filters were valid when written; one that no longer parses must not stop the others.
        this.deps.logger.error({ err, webhook: webhook.id }, 'webhook filter no longer valid; skipping it');
      }
    }
    this.byTenant = next;
    // Rows of a webhook deleted or disabled since they were buffered would fail the whole batch
    // (foreign key) or deliver against the operator's wish.
    const live = new Set(hooks.map((w) => w.id));
    this.buffer = this.buffer.filter((row) => live.has(row.webhookId));
  }

  private onEvent(event: StreamEvent): void {
    if (this.deps.outbox.handled(event)) {
      // Its rows committed with its change; now that the change is published they may go out.
      if (this.deps.outbox.queued(event)) this.deps.onQueued();
      return;
    }
    const subs = this.byTenant.get(event.tenant);
    if (!subs) return;
    let payload: string | undefined;
    for (const sub of subs) {
      if (!sub.types.matches(event.type)) continue;
      payload ??= JSON.stringify(event);
      const body = payload;
      if (!sub.matcher) {
        this.enqueue(sub.webhook, event, body);
        continue;
      }
      if (event.deviceId === undefined) continue;
      const match = sub.matcher.matches(event.deviceId);
      if (match === true) this.enqueue(sub.webhook, event, body);
      else if (match !== false) {
        const p: Promise<void> = match
          .then((ok) => {
            if (ok) this.enqueue(sub.webhook, event, body);
          })
          .catch((err: unknown) => this.deps.logger.error({ err, webhook: sub.webhook.id }, 'webhook query filter failed; event not delivered'))
          .finally(() => this.pendingMatches.delete(p));
        this.pendingMatches.add(p);
      }
    }
  }

  private enqueue(webhook: Webhook, event: StreamEvent, payload: string): void {
    if (this.buffer.length >= this.options.maxBuffered) {
      this.noteDropped(1);
      return;
    }
    const now = this.deps.now();
    this.buffer.push({ id: sortableId('dlv_', now), tenantId: webhook.tenantId, webhookId: webhook.id, eventType: event.type, eventId: event.id, payload, createdAt: now, nextAttemptAt: now });
    if (this.buffer.length >= this.options.maxBatch) void this.flush();
    else this.schedule();
  }

  private schedule(): void {
    if (this.flushTimer) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      void this.flush();
    }, this.options.flushMs);
  }

  private noteDropped(n: number): void {
    if (n <= 0) return;
    this.dropped += n;
    const now = this.deps.now();
    if (now - this.droppedLoggedAt < 1000) return; // one line a second, not one per event
    this.droppedLoggedAt = now;
    this.deps.logger.error({ total: this.dropped }, 'webhook outbox buffer full: deliveries dropped');
  }
}
