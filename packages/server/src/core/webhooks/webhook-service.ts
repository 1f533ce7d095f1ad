import { HangarError } from '../../errors.js';
import type { Stores } from '../stores.js';
import { recordAudit } from '../audit/audit-service.js';
import type { CallContext } from '../context.js';
import { parseTypeFilter } from '../events/type-filter.js';
import type { MasterKey } from '../identity/master-key.js';
import { decodeCursor, toPage, type Page } from '../pagination.js';
import { parseQueryText } from '../registry/fleet-query.js';
import { requireRole } from '../tenancy/principal.js';
import { checkDescription, checkOrGenerateSecret, checkWebhookUrl, sealContext, sortableId, TEST_EVENT_TYPE, type DeliveryStatus, type Webhook, type WebhookDelivery } from './webhook.js';

export interface NewWebhookInput {
  url: string;
  eventTypes: string[];
  query?: string | null | undefined;
  enabled?: boolean | undefined;
  description?: string | undefined;
  /** Given by the caller; otherwise generated. */
  secret?: string | undefined;
}

export interface WebhookPatch {
  url?: string | undefined;
  eventTypes?: string[] | undefined;
  query?: string | null | undefined;
  enabled?: boolean | undefined;
  description?: string | undefined;
}

/** What the service tells the delivery machinery (core/webhooks/webhook-delivery.ts). */
export interface WebhookRuntimeHooks {
  /** Webhooks changed: the dispatcher reloads its filters (resolved once it has them). */
  webhooksChanged(): Promise<void>;
  /** Deliveries were queued outside the dispatcher: the worker looks now rather than at its next poll. */
  deliveriesQueued(): void;
  /** A fresh event id for a test ping. */
  issueEventId(): number;
}

export const MAX_WEBHOOKS_PER_TENANT = 100;

/** Webhook subscriptions and their delivery history. Secrets are returned once and sealed at rest. */
export class WebhookService {
  constructor(
    private readonly stores: Stores,
    private readonly masterKey: MasterKey,
    private readonly hooks: WebhookRuntimeHooks,
    private readonly now: () => number = Date.now,
  ) {}

  async create(ctx: CallContext, input: NewWebhookInput): Promise<{ webhook: Webhook; secret: string }> {
    requireRole(ctx.principal, 'operator');
    const tenantId = ctx.principal.tenantId;
    const url = checkWebhookUrl(input.url);
    const eventTypes = this.checkEventTypes(input.eventTypes);
    const query = this.checkQuery(input.query);
    const description = checkDescription(input.description ?? '');
    const secret = checkOrGenerateSecret(input.secret);
    const now = this.now();
    const id = sortableId('wh_', now);
    const webhook: Webhook = { id, tenantId, url, eventTypes, query, enabled: input.enabled ?? true, description, sealedSecret: this.masterKey.encrypt(secret, sealContext(id)), createdAt: now, updatedAt: now };
    await this.stores.transaction(async (tx) => {
      if ((await tx.webhooks.count(tenantId)) >= MAX_WEBHOOKS_PER_TENANT) throw new HangarError('CONFLICT', `a tenant may have at most ${MAX_WEBHOOKS_PER_TENANT} webhooks`);
      await tx.webhooks.insert(webhook);
      await recordAudit(tx.audit, ctx, { action: 'webhook.create', target: { type: 'webhook', id }, summary: { after: summary(webhook) } }, now);
    });
    // Awaited: once the caller has its answer, events it causes next are matched against the change.
    await this.hooks.webhooksChanged();
    return { webhook, secret };
  }

  async get(ctx: CallContext, id: string): Promise<Webhook> {
    requireRole(ctx.principal, 'viewer');
    return this.require(ctx.principal.tenantId, id);
  }

  async list(ctx: CallContext, cursor: string | undefined, limit: number): Promise<Page<Webhook>> {
    requireRole(ctx.principal, 'viewer');
    const rows = await this.stores.webhooks.list(ctx.principal.tenantId, decodeCursor(cursor), limit + 1);
    return toPage(rows, limit, (w) => w.id);
  }

  async update(ctx: CallContext, id: string, patch: WebhookPatch): Promise<Webhook> {
    requireRole(ctx.principal, 'operator');
    const tenantId = ctx.principal.tenantId;
    // Checked before the transaction: parsing a query needs no data, and bad input must not open one.
    const url = patch.url !== undefined ? checkWebhookUrl(patch.url) : undefined;
    const eventTypes = patch.eventTypes !== undefined ? this.checkEventTypes(patch.eventTypes) : undefined;
    const query = patch.query !== undefined ? this.checkQuery(patch.query) : undefined;
    const description = patch.description !== undefined ? checkDescription(patch.description) : undefined;
    const after = await this.stores.transaction(async (tx) => {
      const before = await tx.webhooks.get(tenantId, id);
      if (!before) throw notFound(id);
      const now = this.now();
      const next: Webhook = {
        ...before,
        url: url ?? before.url,
        eventTypes: eventTypes ?? before.eventTypes,
        query: query !== undefined ? query : before.query,
        enabled: patch.enabled ?? before.enabled,
        description: description ?? before.description,
        updatedAt: now,
      };
      await tx.webhooks.update(next);
      await recordAudit(tx.audit, ctx, { action: 'webhook.update', target: { type: 'webhook', id }, summary: { before: summary(before), after: summary(next) } }, now);
      return next;
    });
    await this.hooks.webhooksChanged();
    return after;
  }

  async delete(ctx: CallContext, id: string): Promise<void> {
    requireRole(ctx.principal, 'operator');
    const tenantId = ctx.principal.tenantId;
    await this.stores.transaction(async (tx) => {
      const before = await tx.webhooks.get(tenantId, id);
      if (!before) throw notFound(id);
      await tx.webhooks.delete(tenantId, id);
      await recordAudit(tx.audit, ctx, { action: 'webhook.delete', target: { type: 'webhook', id }, summary: { before: summary(before) } }, this.now());
    });
    await this.hooks.webhooksChanged();
  }

  /** A new signing secret, effective for every delivery sent from now on (pending ones too). */
  async rotateSecret(ctx: CallContext, id: string, given?: string): Promise<{ webhook: Webhook; secret: string }> {
    requireRole(ctx.principal, 'operator');
    const tenantId = ctx.principal.tenantId;
    const secret = checkOrGenerateSecret(given);
    const webhook = await this.stores.transaction(async (tx) => {
      const before = await tx.webhooks.get(tenantId, id);
      if (!before) throw notFound(id);
      const now = this.now();
      const next: Webhook = { ...before, sealedSecret: this.masterKey.encrypt(secret, sealContext(id)), updatedAt: now };
      await tx.webhooks.update(next);
      await recordAudit(tx.audit, ctx, { action: 'webhook.rotate-secret', target: { type: 'webhook', id }, summary: { generated: given === undefined } }, now);
      return next;
    });
    return { webhook, secret };
  }

  /** Queues a `webhook.test` ping, whatever the webhook's filters (and even when disabled: it waits). */
  async test(ctx: CallContext, id: string): Promise<WebhookDelivery> {
    requireRole(ctx.principal, 'operator');
    const tenantId = ctx.principal.tenantId;
    const delivery = await this.stores.transaction(async (tx) => {
      const webhook = await tx.webhooks.get(tenantId, id);
      if (!webhook) throw notFound(id);
      const now = this.now();
      const eventId = this.hooks.issueEventId();
      const payload = JSON.stringify({ id: eventId, type: TEST_EVENT_TYPE, tenant: tenantId, at: new Date(now).toISOString(), data: { webhookId: id, url: webhook.url } });
      const row = { id: sortableId('dlv_', now), tenantId, webhookId: id, eventType: TEST_EVENT_TYPE, eventId, payload, createdAt: now, nextAttemptAt: now };
      await tx.webhooks.insertDeliveries([row]);
      await recordAudit(tx.audit, ctx, { action: 'webhook.test', target: { type: 'webhook', id }, summary: { deliveryId: row.id } }, now);
      return (await tx.webhooks.getDelivery(tenantId, id, row.id))!;
    });
    this.hooks.deliveriesQueued();
    return delivery;
  }

  async deliveries(ctx: CallContext, id: string, options: { status?: DeliveryStatus | undefined; cursor?: string | undefined; limit: number }): Promise<Page<WebhookDelivery>> {
    requireRole(ctx.principal, 'viewer');
    const tenantId = ctx.principal.tenantId;
    await this.require(tenantId, id);
    const rows = await this.stores.webhooks.listDeliveries({ tenantId, webhookId: id, status: options.status, beforeId: decodeCursor(options.cursor), limit: options.limit + 1 });
    return toPage(rows, options.limit, (d) => d.id);
  }

  async delivery(ctx: CallContext, id: string, deliveryId: string): Promise<WebhookDelivery> {
    requireRole(ctx.principal, 'viewer');
    const tenantId = ctx.principal.tenantId;
    await this.require(tenantId, id);
    const d = await this.stores.webhooks.getDelivery(tenantId, id, deliveryId);
    if (!d) throw new HangarError('WEBHOOK_DELIVERY_NOT_FOUND', `webhook "${id}" has no delivery "${deliveryId}"`);
    return d;
  }

  /** Re-queues a dead delivery (or re-sends a delivered one) with a fresh attempt budget. */
  async retry(ctx: CallContext, id: string, deliveryId: string): Promise<WebhookDelivery> {
    requireRole(ctx.principal, 'operator');
    const tenantId = ctx.principal.tenantId;
    const after = await this.stores.transaction(async (tx) => {
      if (!(await tx.webhooks.get(tenantId, id))) throw notFound(id);
      const before = await tx.webhooks.getDelivery(tenantId, id, deliveryId);
      if (!before) throw new HangarError('WEBHOOK_DELIVERY_NOT_FOUND', `webhook "${id}" has no delivery "${deliveryId}"`);
      const now = this.now();
      if (!(await tx.webhooks.requeue(tenantId, id, deliveryId, now))) throw new HangarError('CONFLICT', `delivery "${deliveryId}" is still pending: it is tried again on its own`);
      await recordAudit(tx.audit, ctx, { action: 'webhook.delivery.retry', target: { type: 'webhook', id }, summary: { deliveryId, before: { status: before.status, attempts: before.attempts } } }, now);
      return (await tx.webhooks.getDelivery(tenantId, id, deliveryId))!;
    });
    this.hooks.deliveriesQueued();
    return after;
  }

  private checkEventTypes(types: string[]): string[] {
    if (types.length === 0) throw new HangarError('VALIDATION_FAILED', 'eventTypes must list at least one type pattern (or "*")');
    return [...parseTypeFilter(types).patterns];
  }

  private checkQuery(query: string | null | undefined): string | null {
    if (query === undefined || query === null || query.trim() === '') return null;
    parseQueryText(query, { now: this.now() }); // throws INVALID_QUERY with the position
    return query;
  }

  private async require(tenantId: string, id: string): Promise<Webhook> {
    const w = await this.stores.webhooks.get(tenantId, id);
    if (!w) throw notFound(id);
    return w;
  }
}

function notFound(id: string): HangarError {
  return new HangarError('WEBHOOK_NOT_FOUND', `webhook "${id.slice(0, 140)}" does not exist`);
}

function summary(w: Webhook): Record<string, unknown> {
  return { url: w.url, eventTypes: w.eventTypes, query: w.query, enabled: w.enabled, description: w.description };
}
