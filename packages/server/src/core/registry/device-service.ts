import { HangarError } from '../../errors.js';
import type { DomainEvent } from '../../bus/events.js';
import type { StoreSet, Stores } from '../stores.js';
import { recordAudit } from '../audit/audit-service.js';
import type { CallContext } from '../context.js';
import { ChangeEvents } from '../events/change-events.js';
import { decodeCursor, toPage, type Page } from '../pagination.js';
import { deviceQuery, onlyDevice } from '../query/index.js';
import { purgeSmallHistory } from '../telemetry/device-history.js';
import { requireRole } from '../tenancy/principal.js';
import type { Device, DeviceStatus } from './device.js';
import { checkAttributes, checkTags, checkType, mergeFlat, mergePatch } from './device-rules.js';
import { parseQueryText } from './fleet-query.js';
import { newDevice, registerDevices } from './register-device.js';

export interface DeviceView extends Device {
  groups: string[];
}

export interface NewDevice {
  id: string;
  type?: string | undefined;
  tags?: Record<string, string> | undefined;
  attributes?: Record<string, unknown> | undefined;
  groups?: string[] | undefined;
}

export interface DevicePatch {
  type?: string | undefined;
  tags?: Record<string, string | null> | undefined;
  attributes?: Record<string, unknown> | undefined;
  status?: 'active' | 'suspended' | undefined;
}

export { DEFAULT_DEVICE_TYPE } from './register-device.js';

/** What the audit log keeps of a device: enough to see what changed, not a full copy. */
export function auditSummary(d: Device): Record<string, unknown> {
  return { type: d.type, status: d.status, tags: d.tags };
}

/**
 * What the registry asks of the identity context: revoke a deleted device's credentials in the
 * same transaction (the events it returns are published with the deletion's).
 */
export interface DeviceDeletionHook {
  revokeAllOfDevice(tx: StoreSet, tenantId: string, deviceId: string, reason: string): Promise<DomainEvent[]>;
}

export class DeviceService {
  constructor(
    private readonly stores: Stores,
    private readonly now: () => number = Date.now,
    private readonly onDelete?: DeviceDeletionHook,
    private readonly events: ChangeEvents = new ChangeEvents(undefined),
  ) {}

  async create(ctx: CallContext, input: NewDevice): Promise<DeviceView> {
    requireRole(ctx.principal, 'operator');
    const now = this.now();
    const device = newDevice(ctx.principal.tenantId, input, now);
    const groups = [...new Set(input.groups ?? [])];
    await this.events.transaction(this.stores, async (tx, events) => {
      const outcome = await registerDevices(tx, [{ device, groups }], {
        groups: 'refuse',
        audit: { ctx, entry: (r) => ({ action: 'device.create', target: { type: 'device', id: r.device.id }, summary: { after: { ...auditSummary(r.device), groups: r.groups } } }) },
        now,
      });
      if (outcome.refused[0]) throw outcome.refused[0].error;
      events.push(...outcome.events);
    });
    return { ...device, groups: groups.sort() };
  }

  async get(ctx: CallContext, id: string): Promise<DeviceView> {
    const tenantId = ctx.principal.tenantId;
    const device = await this.stores.devices.get(tenantId, id);
    if (!device) throw new HangarError('DEVICE_NOT_FOUND', `device "${id}" does not exist`);
    const statics = (await this.stores.groups.staticGroupsOf(tenantId, [id])).get(id) ?? [];
    return { ...device, groups: [...statics, ...(await this.dynamicGroupsOf(tenantId, id))].sort() };
  }

  async list(ctx: CallContext, options: { q?: string | undefined; cursor?: string | undefined; limit: number }): Promise<Page<DeviceView>> {
    const tenantId = ctx.principal.tenantId;
    const where = parseQueryText(options.q, { now: this.now() });
    const rows = await this.stores.devices.list({ tenantId, where, afterId: decodeCursor(options.cursor), limit: options.limit + 1 });
    return this.withStaticGroups(tenantId, toPage(rows, options.limit, (d) => d.id));
  }

  async count(ctx: CallContext, q: string | undefined): Promise<number> {
    const tenantId = ctx.principal.tenantId;
    return this.stores.devices.count(tenantId, parseQueryText(q, { now: this.now() }));
  }

  async update(ctx: CallContext, id: string, patch: DevicePatch): Promise<DeviceView> {
    requireRole(ctx.principal, 'operator');
    const tenantId = ctx.principal.tenantId;
    const type = patch.type === undefined ? undefined : checkType(patch.type);
    const tags = patch.tags === undefined ? undefined : checkTags(patch.tags, true);
    const attributes = patch.attributes === undefined ? undefined : checkAttributes(patch.attributes);
    await this.events.transaction(this.stores, async (tx, events) => {
      const before = await tx.devices.get(tenantId, id);
      if (!before) throw new HangarError('DEVICE_NOT_FOUND', `device "${id}" does not exist`);
      if (before.status === 'decommissioned') throw new HangarError('DEVICE_DECOMMISSIONED', `device "${id}" is decommissioned and cannot be changed`);
      const now = this.now();
      const after: Device = {
        ...before,
        type: type ?? before.type,
        tags: tags ? mergeFlat(before.tags, tags) : before.tags,
        attributes: attributes ? (mergePatch(before.attributes, attributes) as Record<string, unknown>) : before.attributes,
        status: (patch.status ?? before.status) as DeviceStatus,
        updatedAt: now,
      };
      if (Object.keys(after.tags).length > 64) throw new HangarError('VALIDATION_FAILED', 'a device has at most 64 tags');
      checkAttributes(after.attributes);
      await tx.devices.update(after);
      await recordAudit(tx.audit, ctx, { action: 'device.update', target: { type: 'device', id }, summary: { before: auditSummary(before), after: auditSummary(after) } }, now);
      // Transports end a suspended device's sessions and forget its cached authentications.
      if (before.status !== after.status) events.push({ type: after.status === 'suspended' ? 'device.suspended' : 'device.reactivated', tenantId, deviceId: id });
      // Configurations and other fleet-query watchers re-evaluate the device.
      events.push({ type: 'device.updated', tenantId, deviceId: id });
    });
    return this.get(ctx, id);
  }

  async delete(ctx: CallContext, id: string): Promise<void> {
    requireRole(ctx.principal, 'operator');
    const tenantId = ctx.principal.tenantId;
    await this.events.transaction(this.stores, async (tx, events) => {
      const before = await tx.devices.get(tenantId, id);
      if (!before) throw new HangarError('DEVICE_NOT_FOUND', `device "${id}" does not exist`);
      // A decommissioned id stays taken (and its record kept) until an operator recommissions it.
      if (before.status === 'decommissioned') throw new HangarError('DEVICE_DECOMMISSIONED', `device "${id}" is decommissioned and kept; recommission it first to delete it`);
      // Its certificates must stay on the CRL after the device is gone.
      const revoked = (await this.onDelete?.revokeAllOfDevice(tx, tenantId, id, 'cessationOfOperation')) ?? [];
      await tx.devices.delete(tenantId, id);
      await purgeSmallHistory(tx.telemetry, id);
      await recordAudit(tx.audit, ctx, { action: 'device.delete', target: { type: 'device', id }, summary: { before: auditSummary(before), revokedCredentials: revoked.length } }, this.now());
      events.push(...revoked, { type: 'device.deleted', tenantId, deviceId: id });
    });
  }

  private async dynamicGroupsOf(tenantId: string, deviceId: string): Promise<string[]> {
    const matched: string[] = [];
    let after: string | undefined;
    for (;;) {
      const groups = await this.stores.groups.list(tenantId, after, 500);
      for (const g of groups) {
        if (g.kind !== 'dynamic' || g.query === null) continue;
        const now = this.now();
        const where = parseQueryText(g.query, { now });
        const n = await this.stores.devices.count(tenantId, deviceQuery(onlyDevice(where?.query ?? { kind: 'all' }, deviceId), now));
        if (n > 0) matched.push(g.id);
      }
      if (groups.length < 500) return matched;
      after = groups[groups.length - 1]!.id;
    }
  }

  private async withStaticGroups(tenantId: string, page: Page<Device>): Promise<Page<DeviceView>> {
    const groups = await this.stores.groups.staticGroupsOf(tenantId, page.items.map((d) => d.id));
    return { items: page.items.map((d) => ({ ...d, groups: groups.get(d.id) ?? [] })), nextCursor: page.nextCursor };
  }
}
