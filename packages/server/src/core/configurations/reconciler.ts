import type { Logger } from 'pino';
import type { EventBus, Unsubscribe } from '../../bus/event-bus.js';
import { hasCode } from '../../errors.js';
import type { CallContext } from '../context.js';
import { deviceQuery, type FleetQuery } from '../query/index.js';
import type { Stores } from '../stores.js';
import type { TwinService } from '../twin/twin-service.js';
import { twinEtag } from '../twin/twin-service.js';
import { byPrecedence, checkTarget, leavesOf, type Leaf, type StoredConfiguration } from './configuration.js';
import type { ConfigurationChangeListener } from './configuration-service.js';
import { deepEqual, isApplied, planDevice, type DevicePlan, type PlannedConfiguration } from './device-plan.js';
import type { ConfigurationDeviceRecord } from './ports.js';

export interface ReconcilerOptions {
  /** How often every tenant's fleet is re-evaluated in full; 0: no timer (tests call sweep()). Default 60 s. */
  sweepIntervalMs?: number | undefined;
  /** Devices per batch (one set of queries per batch). Default 200. */
  batchSize?: number | undefined;
}

const DEFAULT_SWEEP_MS = 60_000;
const DEFAULT_BATCH = 200;
/** A device whose twin changes under every attempt is left to the next sweep. */
const WRITE_ATTEMPTS = 3;
/** Devices of one batch written at once. */
const WRITE_CONCURRENCY = 8;

interface LoadedConfiguration {
  stored: StoredConfiguration;
  /** undefined: the stored target no longer parses (a parser change); it targets nothing. */
  query: FleetQuery | undefined;
  leaves: Leaf[];
}

interface TenantConfigurations {
  /** Live configurations, highest precedence first. */
  active: LoadedConfiguration[];
  /** Every configuration by id, deleted ones too (their principal undoes their writes). */
  byId: Map<string, LoadedConfiguration>;
}

interface TenantQueue {
  /** Devices an event asked to re-evaluate. */
  pending: Set<string>;
  /** The whole fleet is due (a configuration changed, the sweep, a start). */
  full: boolean;
  running: Promise<void> | undefined;
}

/**
 * Applies configurations to devices. Work is queued per tenant and one drain loop per tenant
 * does it, so the reconciler never races itself over a twin; twin writes carry If-Match, so it
 * never overwrites an operator's write it did not see. Devices named by events are handled in
 * batches; a configuration change or the periodic sweep re-evaluates the tenant's whole fleet
 * in batches (which also finishes anything a restart interrupted: the records are durable).
 */
export class ConfigurationReconciler implements ConfigurationChangeListener {
  private readonly sweepIntervalMs: number;
  private readonly batchSize: number;
  private readonly queues = new Map<string, TenantQueue>();
  private readonly unsubscribes: Unsubscribe[] = [];
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly stores: Stores,
    private readonly bus: EventBus,
    private readonly twins: TwinService,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
    options: ReconcilerOptions = {},
  ) {
    this.sweepIntervalMs = options.sweepIntervalMs ?? DEFAULT_SWEEP_MS;
    this.batchSize = options.batchSize ?? DEFAULT_BATCH;
  }

  /** Subscribes to device changes, starts the sweep timer and a first full pass (resuming after a restart). */
  async start(): Promise<void> {
    this.stopped = false;
    const device = (e: { tenantId: string; deviceId: string }): void => this.enqueueDevice(e.tenantId, e.deviceId);
    this.unsubscribes.push(
      this.bus.subscribe('device.created', device),
      this.bus.subscribe('device.updated', device),
      this.bus.subscribe('device.recommissioned', device),
      this.bus.subscribe('device.enrolled', device),
      // Applied is judged on reported; a target may also read reported twin fields.
      this.bus.subscribe('twin.reported.changed', device),
    );
    if (this.sweepIntervalMs > 0) {
      this.timer = setInterval(() => {
        this.sweep().catch((err: unknown) => this.logger.warn({ err }, 'configuration sweep failed'));
      }, this.sweepIntervalMs);
      this.timer.unref();
    }
    for (const t of await this.stores.tenancy.listTenants()) this.enqueueFull(t.id);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const u of this.unsubscribes.splice(0)) u();
    if (this.timer) clearInterval(this.timer);
    await Promise.allSettled([...this.queues.values()].map((q) => q.running));
  }

  configurationChanged(tenantId: string): void {
    this.enqueueFull(tenantId);
  }

  /** Queues a full pass of every tenant and waits for the work queued so far. */
  async sweep(): Promise<void> {
    for (const t of await this.stores.tenancy.listTenants()) this.enqueueFull(t.id);
    await this.idle();
  }

  /** Resolves once nothing is queued or running (tests; graceful handovers). */
  async idle(): Promise<void> {
    for (;;) {
      // Bus handlers run after the publisher's call stack: let them arrive first.
      await new Promise((resolve) => setImmediate(resolve));
      const running = [...this.queues.values()].map((q) => q.running).filter((p): p is Promise<void> => p !== undefined);
      if (running.length === 0) return;
      await Promise.allSettled(running);
    }
  }

  enqueueDevice(tenantId: string, deviceId: string): void {
    this.queue(tenantId).pending.add(deviceId);
    this.kick(tenantId);
  }

  enqueueFull(tenantId: string): void {
    this.queue(tenantId).full = true;
    this.kick(tenantId);
  }

  private queue(tenantId: string): TenantQueue {
    let q = this.queues.get(tenantId);
    if (!q) {
      q = { pending: new Set(), full: false, running: undefined };
      this.queues.set(tenantId, q);
    }
    return q;
  }

  private kick(tenantId: string): void {
    const q = this.queue(tenantId);
    if (q.running || this.stopped) return;
    q.running = this.drain(tenantId, q).finally(() => {
      q.running = undefined;
      // Work queued while the loop was finishing.
      if (!this.stopped && (q.full || q.pending.size > 0)) this.kick(tenantId);
    });
  }

  private async drain(tenantId: string, q: TenantQueue): Promise<void> {
    while (!this.stopped) {
      try {
        if (q.full) {
          q.full = false;
          // The full pass reads the current state of every device, these included.
          q.pending.clear();
          await this.fullPass(tenantId);
          continue;
        }
        if (q.pending.size === 0) return;
        const ids: string[] = [];
        for (const id of q.pending) {
          ids.push(id);
          if (ids.length >= this.batchSize) break;
        }
        for (const id of ids) q.pending.delete(id);
        await this.reconcileBatch(tenantId, ids, await this.load(tenantId));
      } catch (err) {
        this.logger.warn({ err, tenant: tenantId }, 'configuration reconciliation failed; the next sweep retries');
      }
    }
  }

  private async fullPass(tenantId: string): Promise<void> {
    const configs = await this.load(tenantId);
    if (configs.byId.size === 0) return;
    let afterId: string | undefined;
    for (;;) {
      if (this.stopped) return;
      const devices = await this.stores.devices.list({ tenantId, afterId, limit: this.batchSize });
      if (devices.length === 0) break;
      await this.reconcileBatch(tenantId, devices.map((d) => d.id), configs);
      if (devices.length < this.batchSize) break;
      afterId = devices[devices.length - 1]!.id;
    }
    // Every device has been through the pass: a deleted configuration with no record left is done.
    const purged = await this.stores.configurations.purgeDeleted(tenantId);
    if (purged > 0) this.logger.debug({ tenant: tenantId, purged }, 'deleted configurations undone and dropped');
  }

  private async load(tenantId: string): Promise<TenantConfigurations> {
    const byId = new Map<string, LoadedConfiguration>();
    for (const stored of await this.stores.configurations.listAll(tenantId)) {
      let query: FleetQuery | undefined;
      try {
        query = checkTarget(stored.target);
      } catch (err) {
        this.logger.warn({ err, tenant: tenantId, configuration: stored.id }, 'configuration target no longer parses; it targets no device');
      }
      byId.set(stored.id, { stored, query, leaves: leavesOf(stored.content.desired) });
    }
    const active = [...byId.values()].filter((c) => c.stored.deletedAt === null && c.query !== undefined).sort((a, b) => byPrecedence(a.stored, b.stored));
    return { active, byId };
  }

  private async reconcileBatch(tenantId: string, deviceIds: string[], configs: TenantConfigurations): Promise<void> {
    // No configuration, live or deleted: no device can have a record either (they go with it).
    if (configs.byId.size === 0) return;
    const now = this.now();
    const targeting = new Map<string, PlannedConfiguration[]>(deviceIds.map((id) => [id, []]));
    const ids: FleetQuery = { kind: 'in', field: { kind: 'id' }, values: deviceIds.map((value) => ({ kind: 'string', value })) };
    // In precedence order, so each device's list is too.
    for (const c of configs.active) {
      const query = c.query!.kind === 'all' ? ids : { kind: 'and' as const, operands: [ids, c.query!] };
      const matched = await this.stores.devices.list({ tenantId, where: deviceQuery(query, now), limit: deviceIds.length });
      for (const d of matched) targeting.get(d.id)?.push({ id: c.stored.id, leaves: c.leaves });
    }
    const recordsByDevice = new Map<string, ConfigurationDeviceRecord[]>();
    for (const r of await this.stores.configurations.recordsOf(tenantId, deviceIds)) {
      const list = recordsByDevice.get(r.deviceId) ?? [];
      list.push(r);
      recordsByDevice.set(r.deviceId, list);
    }
    const reported = await this.stores.configurations.reportedOf(tenantId, deviceIds);

    const plans = new Map<string, DevicePlan | undefined>();
    const toWrite: string[] = [];
    for (const deviceId of deviceIds) {
      const records = recordsByDevice.get(deviceId) ?? [];
      const targets = targeting.get(deviceId) ?? [];
      if (targets.length === 0 && records.length === 0) continue;
      const plan = planDevice({ targeting: targets, records, desired: undefined });
      plans.set(deviceId, plan);
      if (plan.needsDesired) toWrite.push(deviceId);
    }
    // Devices are independent of one another: a few at a time (each write is its own transaction).
    await forEachConcurrently(toWrite, WRITE_CONCURRENCY, async (deviceId) => {
      plans.set(deviceId, await this.write(tenantId, deviceId, targeting.get(deviceId) ?? [], recordsByDevice.get(deviceId) ?? [], configs));
    });

    const upserts: ConfigurationDeviceRecord[] = [];
    const drop: Array<{ configurationId: string; deviceId: string }> = [];
    for (const [deviceId, plan] of plans) {
      if (!plan) continue;
      const records = recordsByDevice.get(deviceId) ?? [];
      for (const k of plan.keep) {
        const before = records.find((r) => r.configurationId === k.configurationId);
        const leaves = configs.byId.get(k.configurationId)?.leaves ?? [];
        const next: ConfigurationDeviceRecord = { configurationId: k.configurationId, deviceId, written: k.written, conflicting: k.conflicting, applied: isApplied(leaves, reported.get(deviceId)), updatedAt: now };
        if (!before || before.conflicting !== next.conflicting || before.applied !== next.applied || !deepEqual(before.written, next.written)) upserts.push(next);
      }
      for (const configurationId of plan.drop) drop.push({ configurationId, deviceId });
    }
    if (upserts.length > 0 || drop.length > 0) await this.stores.transaction((tx) => tx.configurations.saveRecords(tenantId, upserts, drop));
  }

  /**
   * Reads the twin, plans against its desired and writes each configuration's patch as that
   * configuration (audited so), with If-Match: an operator's write in between makes it read
   * and plan again. Undefined when the device could not be brought there (the sweep retries).
   */
  private async write(tenantId: string, deviceId: string, targeting: PlannedConfiguration[], records: ConfigurationDeviceRecord[], configs: TenantConfigurations): Promise<DevicePlan | undefined> {
    for (let attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
      const twin = await this.stores.twins.get(tenantId, deviceId);
      const plan = planDevice({ targeting, records, desired: twin?.desired.properties ?? {} });
      let etag = twinEtag(twin);
      try {
        for (const p of plan.patches) {
          const view = await this.twins.updateDesired(this.contextOf(tenantId, p.configurationId, configs), deviceId, p.patch, etag);
          etag = view.etag;
        }
        return plan;
      } catch (err) {
        if (hasCode(err, 'PRECONDITION_FAILED') || hasCode(err, 'CONFLICT')) continue;
        if (hasCode(err, 'DEVICE_NOT_FOUND')) return undefined;
        this.logger.warn({ err, tenant: tenantId, device: deviceId }, 'a configuration could not be written to a device twin; the next sweep retries');
        // Still targeted (and so counted, as pending), but with only what was written before.
        const before = new Map(records.map((r) => [r.configurationId, r.written]));
        return { needsDesired: false, patches: [], keep: plan.keep.map((k) => ({ ...k, written: [...(before.get(k.configurationId) ?? [])] })), drop: [] };
      }
    }
    this.logger.debug({ tenant: tenantId, device: deviceId }, 'twin kept changing while configurations were applied; the next sweep retries');
    return undefined;
  }

  private contextOf(tenantId: string, configurationId: string, configs: TenantConfigurations): CallContext {
    const name = configs.byId.get(configurationId)?.stored.name ?? configurationId;
    return { principal: { type: 'system', id: `configuration:${configurationId}`, name: `configuration ${name}`, role: 'admin', tenantId } };
  }
}

async function forEachConcurrently<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
