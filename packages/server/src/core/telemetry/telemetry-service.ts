import type { Logger } from 'pino';
import type { EventBus, Unsubscribe } from '../../bus/event-bus.js';
import { HangarError } from '../../errors.js';
import type { Stores } from '../stores.js';
import { recordAudit } from '../audit/audit-service.js';
import type { CallContext } from '../context.js';
import { ReceiveClock } from './receive-clock.js';
import type { DeviceIdentity } from '../identity/device-authenticator.js';
import { requireRole } from '../tenancy/principal.js';
import { decodeTelemetry } from './codec.js';
import { InboxCompactor, type CompactorOptions } from './inbox-compactor.js';
import type { Aggregate, AggregateSource, BucketValue, LatestValue, SeriesPoint } from './ports.js';
import { DEFAULT_DEVICE_RATE_LIMIT, TokenBucketLimiter, defaultBurst, rateLimitProblem, type RateLimit } from './rate-limiter.js';
import { RetentionWorker, type RetentionOptions } from './retention-worker.js';
import { MAX_QUERY_KEYS, planSeriesQuery, type SeriesRequest } from './series-query.js';
import type { IngestDone, TelemetryFormat, TelemetryIngest } from './telemetry-ingest.js';
import { DEFAULT_TELEMETRY_LIMITS, checkKey, type TelemetryLimits, type TelemetryPoint } from './telemetry-point.js';
import { TelemetryWriter, type WriterOptions } from './telemetry-writer.js';

export interface TelemetryServiceOptions {
  limits?: Partial<TelemetryLimits> | undefined;
  /** Per-device message rate of the installation, for tenants without their own; `false` turns it off (benchmarks). */
  rateLimit?: RateLimit | false | undefined;
  /** How often each node reads the tenants' own rate limits again (changes made on this node apply at once). */
  rateLimitRefreshMs?: number | undefined;
  writer?: Partial<WriterOptions> | undefined;
  compactor?: Partial<CompactorOptions> | undefined;
  retention?: Partial<RetentionOptions> | undefined;
  now?: (() => number) | undefined;
}

export interface SeriesResult {
  deviceId: string;
  from: number;
  to: number;
  agg: Aggregate | null;
  interval: string | null;
  intervalMs: number | null;
  source: AggregateSource;
  series: Array<{ key: string; points: Array<SeriesPoint | BucketValue>; truncated: boolean }>;
}

export interface TelemetrySettings {
  retentionDays: number;
  /** Per-device telemetry messages: the tenant's own limit, else the installation's; null: none. */
  rateLimit: RateLimit | null;
  rateLimitSource: 'tenant' | 'installation';
}

export interface TelemetrySettingsPatch {
  retentionDays?: number | undefined;
  /** A limit of the tenant's own (burst defaults to two seconds' worth); null: the installation's again. */
  rateLimit?: { perSecond: number; burst?: number | undefined } | null | undefined;
}

export const MAX_RETENTION_DAYS = 3650;

/**
 * Telemetry: ingestion for every transport (decode → rate limit → group commit), queries of
 * history and latest values for the API, per-tenant retention. Transports see only the
 * `TelemetryIngest` half.
 */
export class TelemetryService implements TelemetryIngest {
  private readonly limits: TelemetryLimits;
  private readonly limiter: TokenBucketLimiter;
  private readonly installationRateLimit: RateLimit | false;
  /** Tenants' own limits, read at start and every `rateLimitRefreshMs`; the hot path reads only this. */
  private tenantRateLimits = new Map<string, RateLimit>();
  private readonly rateLimitRefreshMs: number;
  private rateLimitTimer: NodeJS.Timeout | undefined;
  private readonly logger: Logger;
  private readonly writer: TelemetryWriter;
  private readonly compactor: InboxCompactor;
  private readonly retention: RetentionWorker;
  private readonly now: () => number;
  /** Stamps readings without a `ts`: never the same millisecond twice for one device. */
  private readonly receiveClock: ReceiveClock;
  private unsubscribe: Unsubscribe | undefined;

  constructor(
    private readonly stores: Stores,
    private readonly bus: EventBus,
    logger: Logger,
    options: TelemetryServiceOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.receiveClock = new ReceiveClock(this.now);
    this.limits = { ...DEFAULT_TELEMETRY_LIMITS, ...options.limits };
    this.logger = logger;
    this.installationRateLimit = options.rateLimit === undefined ? DEFAULT_DEVICE_RATE_LIMIT : options.rateLimit;
    this.limiter = new TokenBucketLimiter(this.installationRateLimit === false ? DEFAULT_DEVICE_RATE_LIMIT : this.installationRateLimit, this.now);
    this.rateLimitRefreshMs = options.rateLimitRefreshMs ?? 10_000;
    this.compactor = new InboxCompactor(stores, logger, options.compactor);
    this.writer = new TelemetryWriter(
      stores,
      bus,
      logger,
      { maxBatchPoints: 5_000, lingerMs: 0, maxInFlight: stores.dialect === 'sqlite' ? 1 : 2, ...options.writer },
      (points) => this.compactor.notify(points),
    );
    this.retention = new RetentionWorker(stores, logger, this.now, options.retention);
  }

  async ingest(device: DeviceIdentity, payload: Uint8Array, format: TelemetryFormat): Promise<{ accepted: number }> {
    const points = this.accept(device, payload, format);
    await this.writer.write(device.tenantId, device.deviceId, points);
    return { accepted: points.length };
  }

  submit(device: DeviceIdentity, payload: Uint8Array, format: TelemetryFormat, done: IngestDone): void {
    let points: TelemetryPoint[];
    try {
      points = this.accept(device, payload, format);
    } catch (err) {
      done(err);
      return;
    }
    this.writer.submit(device.tenantId, device.deviceId, points, done);
  }

  /** Rate limit, then decode: the readings to write, or a HangarError saying why not. */
  private accept(device: DeviceIdentity, payload: Uint8Array, format: TelemetryFormat): TelemetryPoint[] {
    const limit = this.tenantRateLimits.get(device.tenantId) ?? this.installationRateLimit;
    if (limit !== false) {
      const waitMs = this.limiter.take(device.deviceId, limit);
      if (waitMs > 0) throw new HangarError('RATE_LIMITED', `device "${device.deviceId}" sends telemetry faster than allowed; retry in ${waitMs} ms`, { retryAfterMs: waitMs });
    }
    return decodeTelemetry(payload, format, this.receiveClock.stamp(device.deviceId), this.limits);
  }

  /** Raw points, or bucketed aggregates with `agg` + `interval` (see docs/telemetry.md). */
  async series(ctx: CallContext, deviceId: string, request: SeriesRequest): Promise<SeriesResult> {
    requireRole(ctx.principal, 'viewer');
    const plan = planSeriesQuery(request, this.now());
    const tenantId = ctx.principal.tenantId;
    await this.requireDevice(tenantId, deviceId);
    // Read what was acknowledged before this request, even if not compacted yet.
    await this.compactor.flush();
    let keys = plan.keys;
    if (!keys) {
      keys = await this.stores.telemetry.keysOf(tenantId, deviceId);
      if (keys.length > MAX_QUERY_KEYS) throw new HangarError('VALIDATION_FAILED', `device "${deviceId}" has ${keys.length} keys; name up to ${MAX_QUERY_KEYS} with keys=`);
    }
    const series: SeriesResult['series'] = [];
    for (const key of keys) {
      const base = { deviceId, key, from: plan.from, to: plan.to, limit: plan.limit };
      const points = plan.bucketed
        ? await this.stores.telemetry.aggregate({ ...base, agg: plan.bucketed.agg, intervalMs: plan.bucketed.intervalMs, source: plan.bucketed.source })
        : await this.stores.telemetry.range({ ...base, desc: plan.desc });
      series.push({ key, points, truncated: points.length >= plan.limit });
    }
    return {
      deviceId,
      from: plan.from,
      to: plan.to,
      agg: plan.bucketed?.agg ?? null,
      interval: plan.bucketed?.interval ?? null,
      intervalMs: plan.bucketed?.intervalMs ?? null,
      source: plan.bucketed?.source ?? 'raw',
      series,
    };
  }

  async latest(ctx: CallContext, deviceId: string, keys?: string[]): Promise<LatestValue[]> {
    requireRole(ctx.principal, 'viewer');
    if (keys) {
      if (keys.length > MAX_QUERY_KEYS) throw new HangarError('VALIDATION_FAILED', `keys names ${keys.length} keys; the limit is ${MAX_QUERY_KEYS}`);
      for (const k of keys) checkKey(k, 'keys');
    }
    await this.requireDevice(ctx.principal.tenantId, deviceId);
    return this.stores.telemetry.latest(ctx.principal.tenantId, deviceId, keys);
  }

  async settings(ctx: CallContext): Promise<TelemetrySettings> {
    requireRole(ctx.principal, 'viewer');
    const tenantId = ctx.principal.tenantId;
    const retentionDays = (await this.stores.telemetry.getRetentionDays(tenantId)) ?? this.retention.defaultDays;
    return { retentionDays, ...this.rateLimitSettings(await this.stores.telemetry.getRateLimit(tenantId)) };
  }

  /** Changes what the patch names: retention, and/or the tenant's own rate limit (null: back to the installation's). */
  async updateSettings(ctx: CallContext, patch: TelemetrySettingsPatch): Promise<TelemetrySettings> {
    requireRole(ctx.principal, 'admin');
    const days = patch.retentionDays;
    if (days === undefined && patch.rateLimit === undefined) throw new HangarError('VALIDATION_FAILED', 'name retentionDays, rateLimit or both');
    if (days !== undefined && (!Number.isInteger(days) || days < 1 || days > MAX_RETENTION_DAYS)) {
      throw new HangarError('VALIDATION_FAILED', `retentionDays must be a whole number of days between 1 and ${MAX_RETENTION_DAYS}`);
    }
    let rate: RateLimit | null | undefined;
    if (patch.rateLimit) {
      rate = { perSecond: patch.rateLimit.perSecond, burst: patch.rateLimit.burst ?? defaultBurst(patch.rateLimit.perSecond) };
      const problem = rateLimitProblem(rate);
      if (problem) throw new HangarError('VALIDATION_FAILED', `rateLimit.${problem}`);
    } else rate = patch.rateLimit;
    const tenantId = ctx.principal.tenantId;
    const now = this.now();
    const settings = await this.stores.transaction(async (tx) => {
      const before: Record<string, unknown> = {};
      const after: Record<string, unknown> = {};
      let retentionDays = (await tx.telemetry.getRetentionDays(tenantId)) ?? this.retention.defaultDays;
      if (days !== undefined) {
        before.retentionDays = retentionDays;
        after.retentionDays = retentionDays = days;
        await tx.telemetry.setRetentionDays(tenantId, days, now);
      }
      let own = await tx.telemetry.getRateLimit(tenantId);
      if (rate !== undefined) {
        before.rateLimit = own;
        after.rateLimit = own = rate;
        await tx.telemetry.setRateLimit(tenantId, rate, now);
      }
      await recordAudit(tx.audit, ctx, { action: 'telemetry.settings.update', target: { type: 'tenant', id: tenantId }, summary: { before, after } }, now);
      return { retentionDays, ...this.rateLimitSettings(own) };
    });
    if (rate === null) this.tenantRateLimits.delete(tenantId);
    else if (rate !== undefined) this.tenantRateLimits.set(tenantId, rate);
    return settings;
  }

  private rateLimitSettings(own: RateLimit | null): Pick<TelemetrySettings, 'rateLimit' | 'rateLimitSource'> {
    if (own) return { rateLimit: own, rateLimitSource: 'tenant' };
    return { rateLimit: this.installationRateLimit === false ? null : this.installationRateLimit, rateLimitSource: 'installation' };
  }

  /** Reads every tenant's own limit; a failed read keeps the limits known so far. */
  async refreshRateLimits(): Promise<void> {
    try {
      const rows = await this.stores.telemetry.listRateLimits();
      this.tenantRateLimits = new Map(rows.map((r) => [r.tenantId, { perSecond: r.perSecond, burst: r.burst }]));
    } catch (err) {
      this.logger.warn({ err }, 'could not read the tenants’ telemetry rate limits; keeping the ones known');
    }
  }

  /** Starts the inbox compaction, the retention timer and the purge of deleted devices' history. */
  start(): void {
    this.compactor.start();
    this.retention.start();
    void this.refreshRateLimits();
    // Another node may change a tenant's limit; this node learns of it within the interval.
    this.rateLimitTimer ??= setInterval(() => void this.refreshRateLimits(), this.rateLimitRefreshMs).unref();
    this.unsubscribe ??= this.bus.subscribe('device.deleted', (e) => this.retention.purgeDevice(e.deviceId));
  }

  /** One retention pass now (tests, and the timer's work). */
  async runRetention(): Promise<{ deleted: number }> {
    await this.compactor.flush();
    return this.retention.runOnce();
  }

  /** Moves every acknowledged reading into the history tables now (tests, benchmarks). */
  compactNow(): Promise<void> {
    return this.compactor.flush();
  }

  /** Stops background work and writes every reading already accepted; call before the store closes. */
  async close(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    clearInterval(this.rateLimitTimer);
    this.rateLimitTimer = undefined;
    await this.writer.close();
    await this.retention.stop();
    // What the inbox holds is durable either way; compacting it now leaves the history complete.
    await this.compactor.flush();
    await this.compactor.stop();
  }

  private async requireDevice(tenantId: string, deviceId: string): Promise<void> {
    const device = await this.stores.devices.get(tenantId, deviceId);
    if (!device) throw new HangarError('DEVICE_NOT_FOUND', `no device "${deviceId}"`);
  }
}
