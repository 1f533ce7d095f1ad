import type { Logger } from 'pino';
import type { EventBus, Unsubscribe } from '../../bus/event-bus.js';
import type { DeviceLogRecord } from '../../bus/events.js';
import { HangarError } from '../../errors.js';
import type { CallContext } from '../context.js';
import type { Page } from '../pagination.js';
import type { Stores } from '../stores.js';
import { parseInstant } from '../telemetry/series-query.js';
import type { RateLimit } from '../telemetry/rate-limiter.js';
import { requireRole } from '../tenancy/principal.js';
import { decodePosition, encodePosition } from './log-cursor.js';
import { DEFAULT_LOG_PAYLOAD_LIMITS, parseLogLevel, parseLogPayload, type LogPayloadKind, type LogPayloadLimits } from './log-payload.js';
import { DEFAULT_LOG_RETENTION, LogRetentionWorker, type LogRetentionOptions } from './log-retention.js';
import type { LogLevel, NewLogRecord, StoredLogRecord } from './ports.js';
import { RecordLimiter } from './record-limiter.js';

/** Records per second a device may upload, steadily, and at once (a backlog upload spends the burst). */
export const DEFAULT_LOG_RATE_LIMIT: RateLimit = { perSecond: 100, burst: 2_000 };
export const DEFAULT_LOG_PAGE = 100;
export const MAX_LOG_PAGE = 1_000;
export const MAX_LOG_SEARCH = 200;

export interface DeviceLogServiceOptions {
  limits?: Partial<LogPayloadLimits> | undefined;
  rateLimit?: RateLimit | undefined;
  retention?: Partial<LogRetentionOptions> | undefined;
  now?: (() => number) | undefined;
  logger: Logger;
}

/** Who sent an upload: the authenticated device. */
export interface LogSender {
  tenantId: string;
  deviceId: string;
}

/** The port every device transport calls (MQTT `devices/{id}/logs`, HTTP, CoAP). */
export interface LogIngest {
  /** Resolves once the records are stored; rejects with a HangarError (nothing stored) to refuse. */
  ingest(device: LogSender, payload: Buffer, kind: LogPayloadKind): Promise<{ accepted: number }>;
}

export interface LogListRequest {
  from?: string | undefined;
  to?: string | undefined;
  level?: string | undefined;
  q?: string | undefined;
  limit?: number | undefined;
  cursor?: string | undefined;
  order?: 'asc' | 'desc' | undefined;
}

export interface LogRecordView {
  id: string;
  ts: number;
  receivedAt: number;
  level: LogLevel;
  msg: string;
  fields: Record<string, unknown> | null;
  truncated: boolean;
}

/**
 * Device logs (docs/logs.md): uploads from every transport, checked and stored whole or not at
 * all, rate-limited per device in records; listed with time, level and text filters; tailed
 * live as one `device.log` event per stored upload; bounded by age and a per-device cap.
 */
export class DeviceLogService implements LogIngest {
  readonly limits: LogPayloadLimits;
  readonly retention: LogRetentionWorker;
  private readonly limiter: RecordLimiter;
  private readonly now: () => number;
  private readonly logger: Logger;
  private readonly unsubscribe: Unsubscribe[] = [];
  private readonly purges = new Set<Promise<void>>();

  constructor(
    private readonly stores: Stores,
    private readonly bus: EventBus,
    options: DeviceLogServiceOptions,
  ) {
    this.limits = { ...DEFAULT_LOG_PAYLOAD_LIMITS, ...options.limits };
    this.now = options.now ?? Date.now;
    this.logger = options.logger;
    const rate = options.rateLimit ?? DEFAULT_LOG_RATE_LIMIT;
    // A batch the bucket could never hold would be refused forever: the burst covers the largest one.
    this.limiter = new RecordLimiter({ perSecond: rate.perSecond, burst: Math.max(rate.burst, this.limits.maxBatchRecords) }, this.now);
    this.retention = new LogRetentionWorker(stores, this.logger, this.now, { ...DEFAULT_LOG_RETENTION, ...options.retention });
  }

  start(): void {
    this.retention.start();
    if (this.unsubscribe.length > 0) return;
    this.unsubscribe.push(
      this.bus.subscribe('device.deleted', (e) => this.purge(e.tenantId, e.deviceId, true)),
      this.bus.subscribe('device.decommissioned', (e) => {
        if (e.purgeData) this.purge(e.tenantId, e.deviceId, false);
      }),
    );
  }

  async close(): Promise<void> {
    for (const off of this.unsubscribe.splice(0)) off();
    await this.retention.stop();
    await Promise.allSettled([...this.purges]);
  }

  async ingest(device: LogSender, payload: Buffer, kind: LogPayloadKind): Promise<{ accepted: number }> {
    const receivedAt = this.now();
    const parsed = parseLogPayload(payload, kind, receivedAt, this.limits);
    const wait = this.limiter.take(`${device.tenantId}\u0000${device.deviceId}`, parsed.length);
    if (wait > 0) {
      throw new HangarError('RATE_LIMITED', `device ${device.deviceId} is sending logs faster than ${this.limiter.limit.perSecond} records per second; retry in ${wait} ms`, { retryAfterMs: wait });
    }
    const rows: NewLogRecord[] = parsed.map((r) => ({ tenantId: device.tenantId, deviceId: device.deviceId, receivedAt, ...r }));
    const seqs = await this.stores.deviceLogs.append(rows);
    const records: DeviceLogRecord[] = rows.map((r, i) => {
      const record: DeviceLogRecord = { id: String(seqs[i]), ts: r.ts, level: r.level, msg: r.msg };
      if (r.fields !== undefined) record.fields = JSON.parse(r.fields) as Record<string, unknown>;
      if (r.truncated) record.truncated = true;
      return record;
    });
    this.bus.publish({ type: 'device.log', tenantId: device.tenantId, deviceId: device.deviceId, receivedAt, records });
    return { accepted: records.length };
  }

  async list(ctx: CallContext, deviceId: string, req: LogListRequest): Promise<Page<LogRecordView>> {
    requireRole(ctx.principal, 'viewer');
    const tenantId = ctx.principal.tenantId;
    const from = req.from === undefined ? undefined : parseInstant(req.from, 'from');
    const to = req.to === undefined ? undefined : parseInstant(req.to, 'to');
    let minLevel: LogLevel | undefined;
    if (req.level !== undefined) {
      minLevel = parseLogLevel(req.level);
      if (!minLevel) throw new HangarError('VALIDATION_FAILED', `level must be debug, info, warn or error (the least severe level listed), not ${JSON.stringify(req.level.slice(0, 40))}`);
    }
    if (req.q !== undefined && req.q.length > MAX_LOG_SEARCH) throw new HangarError('VALIDATION_FAILED', `q may hold at most ${MAX_LOG_SEARCH} characters`);
    const limit = req.limit ?? DEFAULT_LOG_PAGE;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LOG_PAGE) throw new HangarError('VALIDATION_FAILED', `limit must be a whole number from 1 to ${MAX_LOG_PAGE}`);
    const after = decodePosition(req.cursor);
    if (!(await this.stores.devices.get(tenantId, deviceId))) throw new HangarError('DEVICE_NOT_FOUND', `device "${deviceId}" does not exist`);
    const order = req.order ?? 'desc';
    const rows = await this.stores.deviceLogs.list({ tenantId, deviceId, from, to, minLevel, contains: req.q, order, after, limit: limit + 1 });
    const more = rows.length > limit;
    const items = (more ? rows.slice(0, limit) : rows).map(view);
    const last = items[items.length - 1];
    return { items, nextCursor: more && last ? encodePosition(last.ts, Number(last.id)) : null };
  }

  /**
   * Removes a device's logs in the background. For a deleted device, only while the id is still
   * free: an id created again is a new device, and what it sent since is its own.
   */
  private purge(tenantId: string, deviceId: string, deleted: boolean): void {
    const work: Promise<void> = (async () => {
      if (deleted && (await this.stores.devices.get(tenantId, deviceId))) return;
      const rows = await this.stores.deviceLogs.purgeDevice(tenantId, deviceId);
      if (rows > 0) this.logger.info({ deviceId, rows }, 'purged device logs');
    })()
      .catch((err: unknown) => this.logger.warn({ err, deviceId }, 'purging device logs failed; retention removes them later'))
      .finally(() => this.purges.delete(work));
    this.purges.add(work);
  }
}

function view(r: StoredLogRecord): LogRecordView {
  return { id: String(r.seq), ts: r.ts, receivedAt: r.receivedAt, level: r.level, msg: r.msg, fields: r.fields === null ? null : (JSON.parse(r.fields) as Record<string, unknown>), truncated: r.truncated };
}
