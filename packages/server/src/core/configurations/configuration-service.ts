import { randomUUID } from 'node:crypto';
import { HangarError } from '../../errors.js';
import { recordAudit } from '../audit/audit-service.js';
import type { CallContext } from '../context.js';
import { decodeCursor, toPage, type Page } from '../pagination.js';
import { StoreError, type Stores } from '../stores.js';
import { requireRole } from '../tenancy/principal.js';
import { checkContent, checkLabels, checkName, checkPriority, checkTarget, type Configuration, type StoredConfiguration } from './configuration.js';
import type { ConfigurationCounts, DeviceStatusFilter } from './ports.js';

export interface ConfigurationMetrics {
  /** Devices the target selects (as of the reconciler's last pass). */
  targeted: number;
  /** Targeted devices whose reported twin matches the whole content. */
  applied: number;
  /** Targeted devices not applied yet. */
  pending: number;
  /** Targeted devices where a configuration of higher precedence owns some property of the content. */
  conflicting: number;
}

export interface ConfigurationView extends Configuration {
  metrics: ConfigurationMetrics;
}

export interface NewConfiguration {
  name: string;
  target: string;
  content: unknown;
  priority?: number | undefined;
  labels?: Record<string, string> | undefined;
}

/** `content` and `name` are accepted here only to be refused with a clear reason. */
export interface ConfigurationPatch {
  target?: string | undefined;
  priority?: number | undefined;
  labels?: Record<string, string> | undefined;
  content?: unknown;
  name?: unknown;
}

export interface ConfigurationDevice {
  deviceId: string;
  status: 'applied' | 'pending';
  conflicting: boolean;
  /** When the reconciler last changed what it knows of this device. */
  updatedAt: number;
}

/** What the reconciler hears from configuration changes: re-evaluate the tenant's fleet. */
export interface ConfigurationChangeListener {
  configurationChanged(tenantId: string): void;
}

export const DEVICE_STATUSES: readonly DeviceStatusFilter[] = ['applied', 'pending', 'conflicting'];

/**
 * Configurations (docs/configurations.md): CRUD and metrics. Applying them to devices is the
 * reconciler's (reconciler.ts), which every change here wakes. Every change is audited in its
 * transaction.
 */
export class ConfigurationService {
  private listener: ConfigurationChangeListener | undefined;

  constructor(
    private readonly stores: Stores,
    private readonly now: () => number = Date.now,
  ) {}

  /** The reconciler registers here (it is built after this service). */
  onChange(listener: ConfigurationChangeListener): void {
    this.listener = listener;
  }

  async create(ctx: CallContext, input: NewConfiguration): Promise<ConfigurationView> {
    requireRole(ctx.principal, 'operator');
    const tenantId = ctx.principal.tenantId;
    const name = checkName(input.name);
    checkTarget(input.target);
    const content = checkContent(input.content);
    const now = this.now();
    const c: StoredConfiguration = {
      id: randomUUID(),
      tenantId,
      name,
      target: input.target,
      content,
      priority: checkPriority(input.priority ?? 0),
      labels: checkLabels(input.labels ?? {}),
      createdAt: now,
      updatedAt: now,
      deletedAt: null,
    };
    const exists = (): HangarError => new HangarError('CONFLICT', `a configuration named "${name}" already exists`);
    await this.stores
      .transaction(async (tx) => {
        if (await tx.configurations.findByName(tenantId, name)) throw exists();
        await tx.configurations.insert(c);
        await recordAudit(tx.audit, ctx, { action: 'configuration.create', target: { type: 'configuration', id: c.id }, summary: { after: auditSummary(c), content } }, now);
      })
      .catch((err: unknown) => {
        // Two creates of one name at once: the unique index lets one through.
        if (err instanceof StoreError && err.reason === 'unique') throw exists();
        throw err;
      });
    this.listener?.configurationChanged(tenantId);
    return withMetrics(c, undefined);
  }

  async get(ctx: CallContext, id: string): Promise<ConfigurationView> {
    const c = await this.live(ctx.principal.tenantId, id);
    return withMetrics(c, (await this.stores.configurations.counts(c.tenantId, [c.id])).get(c.id));
  }

  async list(ctx: CallContext, cursor: string | undefined, limit: number): Promise<Page<ConfigurationView>> {
    const tenantId = ctx.principal.tenantId;
    const page = toPage(await this.stores.configurations.list(tenantId, decodeCursor(cursor), limit + 1), limit, (c) => c.id);
    const counts = await this.stores.configurations.counts(tenantId, page.items.map((c) => c.id));
    return { items: page.items.map((c) => withMetrics(c, counts.get(c.id))), nextCursor: page.nextCursor };
  }

  async update(ctx: CallContext, id: string, patch: ConfigurationPatch): Promise<ConfigurationView> {
    requireRole(ctx.principal, 'operator');
    const tenantId = ctx.principal.tenantId;
    if (patch.content !== undefined) {
      throw new HangarError('VALIDATION_FAILED', "a configuration's content cannot change: create a new configuration with the new content (and delete this one)");
    }
    if (patch.name !== undefined) throw new HangarError('VALIDATION_FAILED', "a configuration's name cannot change; only target, priority and labels can");
    if (patch.target !== undefined) checkTarget(patch.target);
    const priority = patch.priority === undefined ? undefined : checkPriority(patch.priority);
    const labels = patch.labels === undefined ? undefined : checkLabels(patch.labels);
    const after = await this.stores.transaction(async (tx) => {
      const before = await tx.configurations.get(tenantId, id);
      if (!before || before.deletedAt !== null) throw notFound(id);
      const now = this.now();
      const after: StoredConfiguration = { ...before, target: patch.target ?? before.target, priority: priority ?? before.priority, labels: labels ?? before.labels, updatedAt: now };
      await tx.configurations.update(after);
      await recordAudit(tx.audit, ctx, { action: 'configuration.update', target: { type: 'configuration', id }, summary: { before: auditSummary(before), after: auditSummary(after) } }, now);
      return after;
    });
    this.listener?.configurationChanged(tenantId);
    return withMetrics(after, (await this.stores.configurations.counts(tenantId, [id])).get(id));
  }

  /**
   * Deletes at once for the API (404 after, the name is free); the reconciler then undoes its
   * writes device by device (docs/configurations.md, "Removal") and drops the row.
   */
  async delete(ctx: CallContext, id: string): Promise<void> {
    requireRole(ctx.principal, 'operator');
    const tenantId = ctx.principal.tenantId;
    await this.stores.transaction(async (tx) => {
      const before = await tx.configurations.get(tenantId, id);
      if (!before || before.deletedAt !== null) throw notFound(id);
      const now = this.now();
      await tx.configurations.update({ ...before, updatedAt: now, deletedAt: now });
      await recordAudit(tx.audit, ctx, { action: 'configuration.delete', target: { type: 'configuration', id }, summary: { before: auditSummary(before) } }, now);
    });
    this.listener?.configurationChanged(tenantId);
  }

  /** The targeted devices, by id; `status` narrows to applied, pending or conflicting ones. */
  async devices(ctx: CallContext, id: string, options: { status?: string | undefined; cursor?: string | undefined; limit: number }): Promise<Page<ConfigurationDevice>> {
    const status = options.status;
    if (status !== undefined && !(DEVICE_STATUSES as readonly string[]).includes(status)) {
      throw new HangarError('VALIDATION_FAILED', `unknown status "${status.slice(0, 40)}" (statuses: ${DEVICE_STATUSES.join(', ')})`);
    }
    const c = await this.live(ctx.principal.tenantId, id);
    const rows = await this.stores.configurations.listRecords(c.tenantId, c.id, status as DeviceStatusFilter | undefined, decodeCursor(options.cursor), options.limit + 1);
    const page = toPage(rows, options.limit, (r) => r.deviceId);
    return { items: page.items.map((r) => ({ deviceId: r.deviceId, status: r.applied ? 'applied' : 'pending', conflicting: r.conflicting, updatedAt: r.updatedAt })), nextCursor: page.nextCursor };
  }

  private async live(tenantId: string, id: string): Promise<StoredConfiguration> {
    const c = await this.stores.configurations.get(tenantId, id);
    if (!c || c.deletedAt !== null) throw notFound(id);
    return c;
  }
}

function notFound(id: string): HangarError {
  return new HangarError('NOT_FOUND', `configuration "${id.slice(0, 128)}" does not exist`);
}

function auditSummary(c: Configuration): Record<string, unknown> {
  return { name: c.name, target: c.target, priority: c.priority, labels: c.labels };
}

function withMetrics(c: StoredConfiguration, counts: ConfigurationCounts | undefined): ConfigurationView {
  const { deletedAt: _deleted, ...configuration } = c;
  const targeted = counts?.targeted ?? 0;
  const applied = counts?.applied ?? 0;
  return { ...configuration, metrics: { targeted, applied, pending: targeted - applied, conflicting: counts?.conflicting ?? 0 } };
}
