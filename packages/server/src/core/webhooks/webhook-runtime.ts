import type { Logger } from 'pino';
import type { EventLog } from '../events/event-log.js';
import type { MasterKey } from '../identity/master-key.js';
import { DeliveryWorker, type DeliveryWorkerOptions } from './delivery-worker.js';
import type { WebhookStore } from './ports.js';
import type { WebhookRuntimeHooks } from './webhook-service.js';
import { WebhookDispatcher, type DispatcherOptions } from './webhook-dispatcher.js';
import { WebhookOutbox } from './webhook-outbox.js';

export type WebhookOptions = DeliveryWorkerOptions & DispatcherOptions;

export const DEFAULT_WEBHOOK_OPTIONS: WebhookOptions = {
  concurrency: 8,
  maxInFlightPerWebhook: 2,
  timeoutMs: 10_000,
  maxAttempts: 10,
  // 10 s, 20 s, 40 s … capped at 1 h: ten attempts span about 1.4 hours.
  baseDelayMs: 10_000,
  maxDelayMs: 60 * 60_000,
  jitter: 0.2,
  pollMs: 1_000,
  leaseGraceMs: 5_000,
  deliveredRetentionMs: 7 * 24 * 60 * 60_000,
  deadRetentionMs: 30 * 24 * 60 * 60_000,
  pruneIntervalMs: 60 * 60_000,
  flushMs: 50,
  maxBatch: 1_000,
  maxBuffered: 100_000,
  matchTtlMs: 5_000,
  reloadMs: 30_000,
};

/** The outbox writers and the delivery worker, started and stopped together by createHangar. */
export class WebhookRuntime implements WebhookRuntimeHooks {
  readonly dispatcher: WebhookDispatcher;
  readonly worker: DeliveryWorker;
  /** Writes the deliveries of changes made through ChangeEvents, in their transactions. */
  readonly outbox: WebhookOutbox;

  constructor(deps: { store: WebhookStore; log: EventLog; masterKey: MasterKey; logger: Logger; now: () => number }, options: Partial<WebhookOptions> = {}) {
    const o = { ...DEFAULT_WEBHOOK_OPTIONS, ...options };
    const logger = deps.logger.child({ component: 'webhooks' });
    this.worker = new DeliveryWorker({ store: deps.store, masterKey: deps.masterKey, logger, now: deps.now }, o);
    this.outbox = new WebhookOutbox({ log: deps.log, now: deps.now });
    this.dispatcher = new WebhookDispatcher({ store: deps.store, log: deps.log, logger, now: deps.now, onQueued: () => this.worker.wake(), outbox: this.outbox }, o);
    this.issueEventId = () => deps.log.issueId();
  }

  readonly issueEventId: () => number;

  async start(): Promise<void> {
    await this.dispatcher.start();
    this.worker.start();
  }

  /** Writes buffered outbox rows, then stops sending (in-flight attempts give their leases back). */
  async stop(): Promise<void> {
    await this.dispatcher.stop();
    await this.worker.stop();
  }

  webhooksChanged(): Promise<void> {
    return this.dispatcher.changed();
  }

  deliveriesQueued(): void {
    this.worker.wake();
  }
}
