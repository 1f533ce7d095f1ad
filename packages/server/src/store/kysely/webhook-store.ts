import { sql, type Kysely, type Selectable } from 'kysely';
import type { DeviceQuery } from '../../core/query/index.js';
import type { ClaimedDelivery, DeliveryOutcome, NewDelivery, WebhookStore } from '../../core/webhooks/ports.js';
import type { DeliveryAttempt, DeliveryStatus, Webhook, WebhookDelivery } from '../../core/webhooks/webhook.js';
import type { Database, Dialect, WebhookDeliveriesTable, WebhooksTable } from '../schema.js';
import { chunk } from './chunk.js';
import { compileDeviceFilter } from './fleet-query-sql.js';

const DELIVERY_BATCH = 1000;
/**
 * The stored status of a pending delivery while an attempt holds its lease. Outside this store
 * it is 'pending' (the public statuses do not change); inside, it lets a claim count the
 * attempts in flight per webhook, which a lease in next_attempt_at alone cannot tell apart
 * from a retry's due time.
 */
const LEASED = 'sending';

export class KyselyWebhookStore implements WebhookStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: Dialect,
  ) {}

  async insert(w: Webhook): Promise<void> {
    await this.db.insertInto('webhooks').values(toRow(w)).execute();
  }

  async update(w: Webhook): Promise<void> {
    const { id: _id, tenant_id: _t, created_at: _c, ...rest } = toRow(w);
    await this.db.updateTable('webhooks').set(rest).where('tenant_id', '=', w.tenantId).where('id', '=', w.id).execute();
  }

  async get(tenantId: string, id: string): Promise<Webhook | undefined> {
    const r = await this.db.selectFrom('webhooks').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
    return r ? toWebhook(r) : undefined;
  }

  async list(tenantId: string, afterId: string | undefined, limit: number): Promise<Webhook[]> {
    let q = this.db.selectFrom('webhooks').selectAll().where('tenant_id', '=', tenantId);
    if (afterId !== undefined) q = q.where('id', '>', afterId);
    return (await q.orderBy('id').limit(limit).execute()).map(toWebhook);
  }

  async count(tenantId: string): Promise<number> {
    const r = await this.db.selectFrom('webhooks').select(sql<number>`count(*)`.as('n')).where('tenant_id', '=', tenantId).executeTakeFirstOrThrow();
    return Number(r.n);
  }

  async listEnabled(): Promise<Webhook[]> {
    return (await this.db.selectFrom('webhooks').selectAll().where('enabled', '=', 1).orderBy('id').execute()).map(toWebhook);
  }

  async getMany(ids: readonly string[]): Promise<Map<string, Webhook>> {
    const out = new Map<string, Webhook>();
    for (const part of chunk([...ids], DELIVERY_BATCH)) {
      for (const r of await this.db.selectFrom('webhooks').selectAll().where('id', 'in', part).execute()) out.set(r.id, toWebhook(r));
    }
    return out;
  }

  async delete(tenantId: string, id: string): Promise<boolean> {
    await this.db.deleteFrom('webhook_deliveries').where('tenant_id', '=', tenantId).where('webhook_id', '=', id).execute();
    const res = await this.db.deleteFrom('webhooks').where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
    return Number(res.numDeletedRows) > 0;
  }

  async insertDeliveries(rows: readonly NewDelivery[]): Promise<void> {
    for (const part of chunk([...rows], DELIVERY_BATCH)) {
      await this.db
        .insertInto('webhook_deliveries')
        .values(
          part.map((d) => ({
            id: d.id,
            tenant_id: d.tenantId,
            webhook_id: d.webhookId,
            event_type: d.eventType,
            event_id: d.eventId,
            payload: d.payload,
            status: 'pending',
            attempts: 0,
            next_attempt_at: d.nextAttemptAt,
            last_status_code: null,
            last_error: null,
            last_attempt_at: null,
            history: '[]',
            created_at: d.createdAt,
            delivered_at: null,
          })),
        )
        .execute();
    }
  }

  async claimDue(now: number, leaseUntil: number, limit: number, maxPerWebhook: number = limit): Promise<ClaimedDelivery[]> {
    // Leases whose worker died go back to pending first (their attempt stays counted); it is
    // rare and cheap (few rows are 'sending'), and it keeps the claim below on one index range.
    await this.db.updateTable('webhook_deliveries').set({ status: 'pending' }).where('status', '=', LEASED).where('next_attempt_at', '<=', now).execute();
    // Rows of webhooks that already have `maxPerWebhook` attempts in flight are skipped, and a
    // claim takes at most that many per webhook: one endpoint that never answers must not take
    // every slot. The per-webhook count is taken over a prefix of the due rows (a few per slot),
    // so the claim stays an index range scan however long the backlog is.
    const scan = limit * Math.max(1, Math.min(maxPerWebhook, limit));
    const result =
      this.dialect === 'postgres'
        ? // SKIP LOCKED lets concurrent workers take different rows without waiting; the CTEs are
          // materialised so the row choice is made once (an IN subquery may be re-run per row).
          // Row locks and window functions cannot share a SELECT, hence candidates, then ranked.
          await sql<Selectable<WebhookDeliveriesTable>>`
            WITH busy AS (
              SELECT webhook_id, count(*) AS n FROM webhook_deliveries
              WHERE status = ${LEASED} AND next_attempt_at > ${now} GROUP BY webhook_id
            ),
            candidates AS MATERIALIZED (
              SELECT d.id, d.webhook_id, d.next_attempt_at, coalesce(b.n, 0) AS busy
              FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id LEFT JOIN busy b ON b.webhook_id = d.webhook_id
              WHERE d.status = 'pending' AND d.next_attempt_at <= ${now} AND w.enabled = 1 AND coalesce(b.n, 0) < ${maxPerWebhook}
              ORDER BY d.next_attempt_at LIMIT ${scan} FOR UPDATE OF d SKIP LOCKED
            ),
            due AS MATERIALIZED (
              SELECT id FROM (
                SELECT id, next_attempt_at, busy + row_number() OVER (PARTITION BY webhook_id ORDER BY next_attempt_at, id) AS slot FROM candidates
              ) ranked
              WHERE slot <= ${maxPerWebhook} ORDER BY next_attempt_at LIMIT ${limit}
            )
            UPDATE webhook_deliveries SET status = ${LEASED}, attempts = attempts + 1, next_attempt_at = ${leaseUntil}
            FROM due WHERE webhook_deliveries.id = due.id AND webhook_deliveries.status = 'pending' AND webhook_deliveries.next_attempt_at <= ${now}
            RETURNING webhook_deliveries.*`.execute(this.db)
        : // SQLite has one writer: the statement is atomic on its own.
          await sql<Selectable<WebhookDeliveriesTable>>`
            WITH busy AS (
              SELECT webhook_id, count(*) AS n FROM webhook_deliveries
              WHERE status = ${LEASED} AND next_attempt_at > ${now} GROUP BY webhook_id
            ),
            candidates AS (
              SELECT d.id, d.webhook_id, d.next_attempt_at, coalesce(b.n, 0) AS busy
              FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id LEFT JOIN busy b ON b.webhook_id = d.webhook_id
              WHERE d.status = 'pending' AND d.next_attempt_at <= ${now} AND w.enabled = 1 AND coalesce(b.n, 0) < ${maxPerWebhook}
              ORDER BY d.next_attempt_at LIMIT ${scan}
            ),
            ranked AS (
              SELECT id, next_attempt_at, busy + row_number() OVER (PARTITION BY webhook_id ORDER BY next_attempt_at, id) AS slot FROM candidates
            )
            UPDATE webhook_deliveries SET status = ${LEASED}, attempts = attempts + 1, next_attempt_at = ${leaseUntil}
            WHERE status = 'pending' AND next_attempt_at <= ${now} AND id IN (
              SELECT id FROM ranked WHERE slot <= ${maxPerWebhook} ORDER BY next_attempt_at LIMIT ${limit}
            )
            RETURNING *`.execute(this.db);
    return result.rows
      .map((r) => ({ ...toDelivery(r), attempt: Number(r.attempts) }))
      .sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
  }

  async recordOutcome(o: DeliveryOutcome): Promise<boolean> {
    const res = await this.db
      .updateTable('webhook_deliveries')
      .set({
        status: o.status,
        next_attempt_at: o.nextAttemptAt,
        last_status_code: o.statusCode,
        last_error: o.error,
        last_attempt_at: o.at,
        history: JSON.stringify(o.history),
        delivered_at: o.status === 'delivered' ? o.at : null,
      })
      .where('id', '=', o.id)
      // 'pending' too: a lease that expired and was given back is still this attempt's until re-claimed.
      .where('status', 'in', [LEASED, 'pending'])
      .where('attempts', '=', o.attempt)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  async release(id: string, attempt: number, at: number): Promise<void> {
    await this.db
      .updateTable('webhook_deliveries')
      .set({ status: 'pending', attempts: attempt - 1, next_attempt_at: at })
      .where('id', '=', id)
      .where('status', 'in', [LEASED, 'pending'])
      .where('attempts', '=', attempt)
      .execute();
  }

  async getDelivery(tenantId: string, webhookId: string, id: string): Promise<WebhookDelivery | undefined> {
    const r = await this.db
      .selectFrom('webhook_deliveries')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('webhook_id', '=', webhookId)
      .where('id', '=', id)
      .executeTakeFirst();
    return r ? toDelivery(r) : undefined;
  }

  async listDeliveries(options: { tenantId: string; webhookId: string; status?: DeliveryStatus | undefined; beforeId?: string | undefined; limit: number }): Promise<WebhookDelivery[]> {
    let q = this.db.selectFrom('webhook_deliveries').selectAll().where('tenant_id', '=', options.tenantId).where('webhook_id', '=', options.webhookId);
    if (options.status === 'pending') q = q.where('status', 'in', ['pending', LEASED]);
    else if (options.status !== undefined) q = q.where('status', '=', options.status);
    if (options.beforeId !== undefined) q = q.where('id', '<', options.beforeId);
    return (await q.orderBy('id', 'desc').limit(options.limit).execute()).map(toDelivery);
  }

  async requeue(tenantId: string, webhookId: string, id: string, at: number): Promise<boolean> {
    const res = await this.db
      .updateTable('webhook_deliveries')
      .set({ status: 'pending', attempts: 0, next_attempt_at: at, delivered_at: null })
      .where('tenant_id', '=', tenantId)
      .where('webhook_id', '=', webhookId)
      .where('id', '=', id)
      .where('status', 'in', ['dead', 'delivered'])
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  async prune(deliveredBefore: number, deadBefore: number): Promise<number> {
    const res = await this.db
      .deleteFrom('webhook_deliveries')
      .where((eb) =>
        eb.or([
          eb.and([eb('status', '=', 'delivered'), eb('created_at', '<', deliveredBefore)]),
          eb.and([eb('status', '=', 'dead'), eb('created_at', '<', deadBefore)]),
        ]),
      )
      .executeTakeFirst();
    return Number(res.numDeletedRows);
  }

  async devicesMatching(tenantId: string, query: DeviceQuery, deviceIds: readonly string[]): Promise<Set<string>> {
    const out = new Set<string>();
    const where = compileDeviceFilter(query, this.dialect, tenantId);
    for (const part of chunk([...new Set(deviceIds)], DELIVERY_BATCH)) {
      const rows = await this.db.selectFrom('devices').select('devices.id').where('devices.tenant_id', '=', tenantId).where('devices.id', 'in', part).where(where).execute();
      for (const r of rows) out.add(r.id);
    }
    return out;
  }
}

function toRow(w: Webhook): Selectable<WebhooksTable> {
  return {
    id: w.id,
    tenant_id: w.tenantId,
    url: w.url,
    event_types: JSON.stringify(w.eventTypes),
    query: w.query,
    enabled: w.enabled ? 1 : 0,
    description: w.description,
    sealed_secret: w.sealedSecret,
    created_at: w.createdAt,
    updated_at: w.updatedAt,
  };
}

function toWebhook(r: Selectable<WebhooksTable>): Webhook {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    url: r.url,
    eventTypes: JSON.parse(r.event_types) as string[],
    query: r.query,
    enabled: Number(r.enabled) === 1,
    description: r.description,
    sealedSecret: r.sealed_secret,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  };
}

const numOrNull = (v: number | string | null): number | null => (v === null ? null : Number(v));

function toDelivery(r: Selectable<WebhookDeliveriesTable>): WebhookDelivery {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    webhookId: r.webhook_id,
    eventType: r.event_type,
    eventId: numOrNull(r.event_id),
    payload: r.payload,
    status: (r.status === LEASED ? 'pending' : r.status) as DeliveryStatus,
    attempts: Number(r.attempts),
    nextAttemptAt: r.status === 'pending' || r.status === LEASED ? numOrNull(r.next_attempt_at) : null,
    lastStatusCode: numOrNull(r.last_status_code),
    lastError: r.last_error,
    lastAttemptAt: numOrNull(r.last_attempt_at),
    history: JSON.parse(r.history) as DeliveryAttempt[],
    createdAt: Number(r.created_at),
    deliveredAt: numOrNull(r.delivered_at),
  };
}
