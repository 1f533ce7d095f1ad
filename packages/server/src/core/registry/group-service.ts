import { HangarError } from '../../errors.js';
import type { Stores } from '../stores.js';
import { recordAudit } from '../audit/audit-service.js';
import type { CallContext } from '../context.js';
import { decodeCursor, toPage, type Page } from '../pagination.js';
import { requireRole } from '../tenancy/principal.js';
import type { Device, Group } from './device.js';
import { GROUP_ID_PATTERN } from './device.js';
import { parseQueryText } from './fleet-query.js';
import type { DeviceView } from './device-service.js';

export interface GroupView extends Group {
  /** Absent in lists unless asked for: counting a dynamic group runs its query over the fleet. */
  deviceCount?: number;
}

const DESCRIPTION_MAX = 1024;

export class GroupService {
  constructor(
    private readonly stores: Stores,
    private readonly now: () => number = Date.now,
  ) {}

  async create(ctx: CallContext, input: { id: string; kind: 'static' | 'dynamic'; query?: string | undefined; description?: string | undefined }): Promise<GroupView> {
    requireRole(ctx.principal, 'operator');
    const tenantId = ctx.principal.tenantId;
    if (!GROUP_ID_PATTERN.test(input.id)) throw new HangarError('VALIDATION_FAILED', `group id ${JSON.stringify(input.id)} is invalid: use 1–64 characters of A–Z a–z 0–9 . _ : -`);
    const query = this.checkQuery(input.kind, input.query);
    const description = checkDescription(input.description ?? '');
    const now = this.now();
    const group: Group = { id: input.id, tenantId, kind: input.kind, query, description, createdAt: now, updatedAt: now };
    await this.stores.transaction(async (tx) => {
      if (await tx.groups.get(tenantId, group.id)) throw new HangarError('GROUP_EXISTS', `group "${group.id}" already exists`);
      await tx.groups.insert(group);
      await recordAudit(tx.audit, ctx, { action: 'group.create', target: { type: 'group', id: group.id }, summary: { after: { kind: group.kind, query } } }, now);
    });
    return this.view(group);
  }

  async get(ctx: CallContext, id: string): Promise<GroupView> {
    return this.view(await this.require(ctx.principal.tenantId, id));
  }

  async list(ctx: CallContext, cursor: string | undefined, limit: number, options: { counts?: boolean } = {}): Promise<Page<GroupView>> {
    const rows = await this.stores.groups.list(ctx.principal.tenantId, decodeCursor(cursor), limit + 1);
    const page = toPage(rows, limit, (g) => g.id);
    if (!options.counts) return page;
    const items: GroupView[] = [];
    for (const g of page.items) items.push(await this.view(g));
    return { items, nextCursor: page.nextCursor };
  }

  async update(ctx: CallContext, id: string, patch: { query?: string | undefined; description?: string | undefined }): Promise<GroupView> {
    requireRole(ctx.principal, 'operator');
    const tenantId = ctx.principal.tenantId;
    const after = await this.stores.transaction(async (tx) => {
      const before = await tx.groups.get(tenantId, id);
      if (!before) throw new HangarError('GROUP_NOT_FOUND', `group "${id}" does not exist`);
      if (patch.query !== undefined && before.kind === 'static') throw new HangarError('VALIDATION_FAILED', `group "${id}" is static: it has no query`);
      const now = this.now();
      const next: Group = {
        ...before,
        query: patch.query !== undefined ? this.checkQuery(before.kind, patch.query) : before.query,
        description: patch.description !== undefined ? checkDescription(patch.description) : before.description,
        updatedAt: now,
      };
      await tx.groups.update(next);
      await recordAudit(tx.audit, ctx, { action: 'group.update', target: { type: 'group', id }, summary: { before: { query: before.query, description: before.description }, after: { query: next.query, description: next.description } } }, now);
      return next;
    });
    return this.view(after);
  }

  async delete(ctx: CallContext, id: string): Promise<void> {
    requireRole(ctx.principal, 'operator');
    const tenantId = ctx.principal.tenantId;
    await this.stores.transaction(async (tx) => {
      const before = await tx.groups.get(tenantId, id);
      if (!before) throw new HangarError('GROUP_NOT_FOUND', `group "${id}" does not exist`);
      await tx.groups.delete(tenantId, id);
      await recordAudit(tx.audit, ctx, { action: 'group.delete', target: { type: 'group', id }, summary: { before: { kind: before.kind, query: before.query } } }, this.now());
    });
  }

  async devices(ctx: CallContext, id: string, cursor: string | undefined, limit: number): Promise<Page<DeviceView>> {
    const tenantId = ctx.principal.tenantId;
    const group = await this.require(tenantId, id);
    const where =
      group.kind === 'dynamic'
        ? parseQueryText(group.query ?? '', { now: this.now() })
        : ({ kind: 'staticGroup', groupId: id } as const);
    const rows = await this.stores.devices.list({ tenantId, where, afterId: decodeCursor(cursor), limit: limit + 1 });
    const page = toPage(rows, limit, (d: Device) => d.id);
    const statics = await this.stores.groups.staticGroupsOf(tenantId, page.items.map((d) => d.id));
    return { items: page.items.map((d) => ({ ...d, groups: statics.get(d.id) ?? [] })), nextCursor: page.nextCursor };
  }

  async addDevices(ctx: CallContext, id: string, deviceIds: string[]): Promise<number> {
    requireRole(ctx.principal, 'operator');
    const tenantId = ctx.principal.tenantId;
    const unique = [...new Set(deviceIds)];
    if (unique.length === 0 || unique.length > 10_000) throw new HangarError('VALIDATION_FAILED', 'deviceIds must list 1–10,000 devices');
    return this.stores.transaction(async (tx) => {
      const group = await tx.groups.get(tenantId, id);
      if (!group) throw new HangarError('GROUP_NOT_FOUND', `group "${id}" does not exist`);
      if (group.kind !== 'static') throw new HangarError('VALIDATION_FAILED', `group "${id}" is dynamic: its members come from its query`);
      const owners = await tx.devices.findOwners(unique);
      const missing = unique.filter((d) => owners.get(d)?.tenantId !== tenantId);
      if (missing.length > 0) throw new HangarError('DEVICE_NOT_FOUND', `no such device: ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ` and ${missing.length - 10} more` : ''}`);
      const now = this.now();
      const added = await tx.groups.addMembers(tenantId, id, unique, now);
      await recordAudit(tx.audit, ctx, { action: 'group.members.add', target: { type: 'group', id }, summary: { deviceIds: unique.slice(0, 100), count: unique.length, added } }, now);
      return added;
    });
  }

  async removeDevice(ctx: CallContext, id: string, deviceId: string): Promise<void> {
    requireRole(ctx.principal, 'operator');
    const tenantId = ctx.principal.tenantId;
    await this.stores.transaction(async (tx) => {
      const group = await tx.groups.get(tenantId, id);
      if (!group) throw new HangarError('GROUP_NOT_FOUND', `group "${id}" does not exist`);
      if (!(await tx.groups.removeMember(tenantId, id, deviceId))) throw new HangarError('DEVICE_NOT_FOUND', `device "${deviceId}" is not a member of group "${id}"`);
      await recordAudit(tx.audit, ctx, { action: 'group.members.remove', target: { type: 'group', id }, summary: { deviceId } }, this.now());
    });
  }

  private checkQuery(kind: 'static' | 'dynamic', query: string | undefined): string | null {
    if (kind === 'static') {
      if (query !== undefined && query !== '') throw new HangarError('VALIDATION_FAILED', 'a static group has no query; use kind "dynamic"');
      return null;
    }
    if (query === undefined || query.trim() === '') throw new HangarError('VALIDATION_FAILED', 'a dynamic group needs a fleet query');
    parseQueryText(query, { now: this.now() }); // throws INVALID_QUERY with the position
    return query;
  }

  private async require(tenantId: string, id: string): Promise<Group> {
    const group = await this.stores.groups.get(tenantId, id);
    if (!group) throw new HangarError('GROUP_NOT_FOUND', `group "${id}" does not exist`);
    return group;
  }

  private async view(group: Group): Promise<GroupView & { deviceCount: number }> {
    const deviceCount =
      group.kind === 'static'
        ? await this.stores.groups.memberCount(group.tenantId, group.id)
        : await this.stores.devices.count(group.tenantId, parseQueryText(group.query ?? '', { now: this.now() }));
    return { ...group, deviceCount };
  }
}

function checkDescription(d: string): string {
  if (d.length > DESCRIPTION_MAX) throw new HangarError('VALIDATION_FAILED', `description is longer than ${DESCRIPTION_MAX} characters`);
  return d;
}
