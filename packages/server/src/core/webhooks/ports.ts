import type { DeviceQuery } from '../query/index.js';
import type { DeliveryAttempt, DeliveryStatus, Webhook, WebhookDelivery } from './webhook.js';

export type NewDelivery = Omit<WebhookDelivery, 'status' | 'attempts' | 'lastStatusCode' | 'lastError' | 'lastAttemptAt' | 'history' | 'deliveredAt' | 'nextAttemptAt'> & { nextAttemptAt: number };

/** A delivery the worker leased: nobody else tries it until `nextAttemptAt` (the lease) passes. */
export interface ClaimedDelivery extends WebhookDelivery {
  /** The attempt number this claim is (attempts were incremented by the claim). */
  attempt: number;
}

export interface DeliveryOutcome {
  id: string;
  /** The claim's attempt number: the outcome is dropped if the row was re-claimed since. */
  attempt: number;
  status: DeliveryStatus;
  nextAttemptAt: number | null;
  statusCode: number | null;
  error: string | null;
  at: number;
  history: DeliveryAttempt[];
}

export interface WebhookStore {
  insert(webhook: Webhook): Promise<void>;
  update(webhook: Webhook): Promise<void>;
  get(tenantId: string, id: string): Promise<Webhook | undefined>;
  list(tenantId: string, afterId: string | undefined, limit: number): Promise<Webhook[]>;
  count(tenantId: string): Promise<number>;
  /** Every enabled webhook of every tenant (the dispatcher's cache). */
  listEnabled(): Promise<Webhook[]>;
  /** Webhooks by id, whatever their tenant (the delivery worker). */
  getMany(ids: readonly string[]): Promise<Map<string, Webhook>>;
  /** Deletes the webhook and its deliveries. */
  delete(tenantId: string, id: string): Promise<boolean>;

  /** The outbox: many deliveries in as few statements as the dialect allows. */
  insertDeliveries(rows: readonly NewDelivery[]): Promise<void>;
  /**
   * Leases up to `limit` pending deliveries of enabled webhooks due at `now`: counts the
   * attempt and moves `next_attempt_at` to `leaseUntil`, atomically, so two workers never
   * take the same row and a row whose worker died is taken again once the lease passes.
   * Skips webhooks with `maxPerWebhook` leases in flight and takes no more than that per
   * webhook (default: no cap beyond `limit`), so one dead endpoint cannot take every slot.
   */
  claimDue(now: number, leaseUntil: number, limit: number, maxPerWebhook?: number): Promise<ClaimedDelivery[]>;
  /** Records an attempt's outcome; false when the row was re-claimed or changed meanwhile. */
  recordOutcome(outcome: DeliveryOutcome): Promise<boolean>;
  /** Gives a lease back without counting the attempt (graceful shutdown). */
  release(id: string, attempt: number, at: number): Promise<void>;
  getDelivery(tenantId: string, webhookId: string, id: string): Promise<WebhookDelivery | undefined>;
  listDeliveries(options: { tenantId: string; webhookId: string; status?: DeliveryStatus | undefined; beforeId?: string | undefined; limit: number }): Promise<WebhookDelivery[]>;
  /** Puts a dead or delivered delivery back in the queue with a fresh attempt budget. */
  requeue(tenantId: string, webhookId: string, id: string, at: number): Promise<boolean>;
  /** Deletes delivered rows older than `deliveredBefore` and dead ones older than `deadBefore`. */
  prune(deliveredBefore: number, deadBefore: number): Promise<number>;
  /**
   * Which of `deviceIds` satisfy a fleet query, in one query: the membership check of
   * webhook and event-stream query filters (core/events/fleet-matcher.ts).
   */
  devicesMatching(tenantId: string, where: DeviceQuery, deviceIds: readonly string[]): Promise<Set<string>>;
}
