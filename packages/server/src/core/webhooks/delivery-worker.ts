import http from 'node:http';
import https from 'node:https';
import type { Logger } from 'pino';
import type { MasterKey } from '../identity/master-key.js';
import { retryDelay } from './backoff.js';
import { postJson } from './http-post.js';
import type { ClaimedDelivery, WebhookStore } from './ports.js';
import { signatureHeader } from './signature.js';
import { sealContext, type DeliveryAttempt, type Webhook } from './webhook.js';

export interface DeliveryWorkerOptions {
  /** Deliveries in flight at once, over all webhooks. */
  concurrency: number;
  /**
   * Deliveries of one webhook in flight at once (over all workers sharing the database): an
   * endpoint that never answers holds this many slots for `timeoutMs`, not all of them.
   */
  maxInFlightPerWebhook: number;
  /** One attempt, connect to last byte; longer counts as a failure. */
  timeoutMs: number;
  /** Attempts before a delivery is dead. */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  jitter: number;
  /** How often the outbox is scanned when nothing wakes the worker. */
  pollMs: number;
  /** Lease beyond the timeout: a row whose worker died is taken again after timeout + this. */
  leaseGraceMs: number;
  deliveredRetentionMs: number;
  deadRetentionMs: number;
  pruneIntervalMs: number;
}

const HISTORY_KEPT = 20;

/**
 * Sends due outbox rows: leases them (crash-safe: a lease that is never settled expires and
 * the row is tried again), POSTs the signed body, and records delivered, retry-later with
 * exponential backoff and jitter, or dead after `maxAttempts`.
 */
export class DeliveryWorker {
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly shutdown = new AbortController();
  private readonly agents = { http: new http.Agent({ keepAlive: true, maxSockets: 16 }), https: new https.Agent({ keepAlive: true, maxSockets: 16 }) };
  private pollTimer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private again = false;
  private stopped = true;
  private lastPrune = 0;

  constructor(
    private readonly deps: { store: WebhookStore; masterKey: MasterKey; logger: Logger; now: () => number; random?: () => number },
    private readonly options: DeliveryWorkerOptions,
  ) {}

  start(): void {
    this.stopped = false;
    this.lastPrune = this.deps.now();
    this.wake();
  }

  /** Look for due rows now (new deliveries were queued). */
  wake(): void {
    if (this.stopped) return;
    if (this.ticking) {
      this.again = true;
      return;
    }
    this.ticking = this.tick();
  }

  /** Stops claiming, aborts attempts in flight (their leases are given back) and closes connections. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.pollTimer);
    this.shutdown.abort();
    if (this.inFlight.size > 0) this.deps.logger.info({ inFlight: this.inFlight.size }, 'webhook delivery stopping: attempts in flight are aborted and retried after restart');
    await this.ticking; // a scan under way may still start attempts (they see the abort)
    await Promise.allSettled([...this.inFlight.values()]);
    this.agents.http.destroy();
    this.agents.https.destroy();
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  private async tick(): Promise<void> {
    clearTimeout(this.pollTimer);
    try {
      do {
        this.again = false;
        await this.claimAndSend();
        await this.pruneIfDue();
      } while (this.again && !this.stopped);
    } catch (err) {
      this.deps.logger.error({ err }, 'webhook delivery scan failed');
    } finally {
      this.ticking = undefined;
      if (!this.stopped) {
        this.pollTimer = setTimeout(() => this.wake(), this.options.pollMs);
        this.pollTimer.unref();
      }
    }
  }

  private async claimAndSend(): Promise<void> {
    const free = this.options.concurrency - this.inFlight.size;
    if (free <= 0 || this.stopped) return;
    const now = this.deps.now();
    const claimed = await this.deps.store.claimDue(now, now + this.options.timeoutMs + this.options.leaseGraceMs, free, this.options.maxInFlightPerWebhook);
    if (claimed.length === 0) return;
    const webhooks = await this.deps.store.getMany([...new Set(claimed.map((d) => d.webhookId))]);
    for (const delivery of claimed) {
      const run = this.attempt(delivery, webhooks.get(delivery.webhookId))
        .catch((err: unknown) => this.deps.logger.error({ err, delivery: delivery.id }, 'webhook delivery bookkeeping failed'))
        .finally(() => {
          this.inFlight.delete(delivery.id);
          this.wake(); // a slot is free: more may be due
        });
      this.inFlight.set(delivery.id, run);
    }
    // More may be due: a full batch says so, and a short one may have been cut by the
    // per-webhook cap (the next claim skips the webhooks now at it). An empty claim ends the round.
    this.again = true;
  }

  private async attempt(delivery: ClaimedDelivery, webhook: Webhook | undefined): Promise<void> {
    const store = this.deps.store;
    if (!webhook) return; // deleted meanwhile; its deliveries went with it
    if (delivery.attempt > this.options.maxAttempts) {
      // The budget was spent by attempts whose worker stopped before recording them.
      await this.settle(delivery, { statusCode: null, error: 'gave up: the server stopped during the last attempts', durationMs: 0 }, 'dead');
      return;
    }
    const started = this.deps.now();
    let statusCode: number | null = null;
    let error: string | null = null;
    try {
      const secret = this.deps.masterKey.decrypt(webhook.sealedSecret, sealContext(webhook.id));
      const timestamp = String(Math.floor(started / 1000));
      const res = await postJson(new URL(webhook.url), {
        headers: {
          'content-type': 'application/json',
          'user-agent': 'Hangar-Webhooks/1',
          'x-hangar-event': delivery.eventType,
          'x-hangar-delivery': delivery.id,
          'x-hangar-timestamp': timestamp,
          'x-hangar-signature': signatureHeader(secret, timestamp, delivery.payload),
        },
        body: delivery.payload,
        timeoutMs: this.options.timeoutMs,
        signal: this.shutdown.signal,
        agents: this.agents,
      });
      statusCode = res.statusCode;
      if (statusCode < 200 || statusCode > 299) error = `HTTP ${statusCode}${res.bodySnippet.trim() ? `: ${res.bodySnippet.trim().slice(0, 300)}` : ''}`;
    } catch (err) {
      if (this.shutdown.signal.aborted) {
        await store.release(delivery.id, delivery.attempt, this.deps.now());
        return;
      }
      error = describe(err);
    }
    const durationMs = this.deps.now() - started;
    if (error === null) {
      await this.settle(delivery, { statusCode, error: null, durationMs }, 'delivered');
      return;
    }
    const dead = delivery.attempt >= this.options.maxAttempts;
    this.deps.logger.debug({ delivery: delivery.id, webhook: webhook.id, attempt: delivery.attempt, error, dead }, 'webhook delivery failed');
    await this.settle(delivery, { statusCode, error, durationMs }, dead ? 'dead' : 'pending');
  }

  private async settle(delivery: ClaimedDelivery, result: Omit<DeliveryAttempt, 'at'>, status: 'delivered' | 'pending' | 'dead'): Promise<void> {
    const at = this.deps.now();
    const history = [...delivery.history, { at, ...result }].slice(-HISTORY_KEPT);
    const nextAttemptAt = status === 'pending' ? at + retryDelay(delivery.attempt, this.options, this.deps.random) : null;
    const recorded = await this.deps.store.recordOutcome({ id: delivery.id, attempt: delivery.attempt, status, nextAttemptAt, statusCode: result.statusCode, error: result.error, at, history });
    if (!recorded) this.deps.logger.warn({ delivery: delivery.id }, 'webhook delivery changed while in flight (lease expired?); outcome not recorded');
  }

  private async pruneIfDue(): Promise<void> {
    const now = this.deps.now();
    if (now - this.lastPrune < this.options.pruneIntervalMs) return;
    this.lastPrune = now;
    const removed = await this.deps.store.prune(now - this.options.deliveredRetentionMs, now - this.options.deadRetentionMs);
    if (removed > 0) this.deps.logger.info({ removed }, 'pruned old webhook deliveries');
  }
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return (code && !err.message.includes(code) ? `${code}: ${err.message}` : err.message).slice(0, 300);
  }
  return String(err).slice(0, 300);
}
