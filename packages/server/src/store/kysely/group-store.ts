import { sql, type Kysely } from 'kysely';
import type { Group } from '../../core/registry/device.js';
import type { GroupStore } from '../../core/registry/ports.js';
import type { Database } from '../schema.js';
import { chunk } from './chunk.js';

export class KyselyGroupStore implements GroupStore {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(g: Group): Promise<void> {
    await this.db
      .insertInto('groups')
      .values({ id: g.id, tenant_id: g.tenantId, kind: g.kind, query: g.query, description: g.description, created_at: g.createdAt, updated_at: g.updatedAt })
      .execute();
  }

  async update(g: Group): Promise<void> {
    await this.db
      .updateTable('groups')
      .set({ query: g.query, description: g.description, updated_at: g.updatedAt })
      .where('tenant_id', '=', g.tenantId)
      .where('id', '=', g.id)
      .execute();
  }

  async get(tenantId: string, id: string): Promise<Group | undefined> {
    const r = await this.db.selectFrom('groups').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
    return r ? toGroup(r) : undefined;
  }

  async delete(tenantId: string, id: string): Promise<boolean> {
    await this.db.deleteFrom('group_members').where('tenant_id', '=', tenantId).where('group_id', '=', id).execute();
    const res = await this.db.deleteFrom('groups').where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
    return Number(res.numDeletedRows) > 0;
  }

  async list(tenantId: string, afterId: string | undefined, limit: number): Promise<Group[]> {
    let q = this.db.selectFrom('groups').selectAll().where('tenant_id', '=', tenantId);
    if (afterId !== undefined) q = q.where('id', '>', afterId);
    return (await q.orderBy('id').limit(limit).execute()).map(toGroup);
  }

  async addMembers(tenantId: string, groupId: string, deviceIds: string[], at: number): Promise<number> {
    let added = 0;
    for (const part of chunk(deviceIds, 1000)) {
      const res = await this.db
        .insertInto('group_members')
        .values(part.map((device_id) => ({ tenant_id: tenantId, group_id: groupId, device_id, added_at: at })))
        .onConflict((oc) => oc.columns(['tenant_id', 'group_id', 'device_id']).doNothing())
        .executeTakeFirst();
      added += Number(res.numInsertedOrUpdatedRows ?? 0);
    }
    return added;
  }

  async removeMember(tenantId: string, groupId: string, deviceId: string): Promise<boolean> {
    const res = await this.db
      .deleteFrom('group_members')
      .where('tenant_id', '=', tenantId)
      .where('group_id', '=', groupId)
      .where('device_id', '=', deviceId)
      .executeTakeFirst();
    return Number(res.numDeletedRows) > 0;
  }

  async staticGroupsOf(tenantId: string, deviceIds: string[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    for (const part of chunk(deviceIds, 1000)) {
      const rows = await this.db
        .selectFrom('group_members')
        .select(['device_id', 'group_id'])
        .where('tenant_id', '=', tenantId)
        .where('device_id', 'in', part)
        .orderBy('group_id')
        .execute();
      for (const r of rows) {
        const list = out.get(r.device_id) ?? [];
        list.push(r.group_id);
        out.set(r.device_id, list);
      }
    }
    return out;
  }

  async memberCount(tenantId: string, groupId: string): Promise<number> {
    const r = await this.db
      .selectFrom('group_members')
      .select(sql<number>`count(*)`.as('n'))
      .where('tenant_id', '=', tenantId)
      .where('group_id', '=', groupId)
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }
}

function toGroup(r: { id: string; tenant_id: string; kind: string; query: string | null; description: string; created_at: number; updated_at: number }): Group {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    kind: r.kind === 'dynamic' ? 'dynamic' : 'static',
    query: r.query,
    description: r.description,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}
