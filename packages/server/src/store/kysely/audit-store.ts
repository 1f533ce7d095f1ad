import type { Kysely } from 'kysely';
import type { AuditEntry, AuditFilter, AuditStore, NewAuditEntry } from '../../core/audit/ports.js';
import type { Database } from '../schema.js';

export class KyselyAuditStore implements AuditStore {
  constructor(private readonly db: Kysely<Database>) {}

  async append(e: NewAuditEntry): Promise<void> {
    await this.db
      .insertInto('audit_log')
      .values({
        tenant_id: e.tenantId,
        at: e.at,
        actor_type: e.actor.type,
        actor_id: e.actor.id,
        actor_name: e.actor.name,
        action: e.action,
        target_type: e.target.type,
        target_id: e.target.id,
        summary: JSON.stringify(e.summary),
        request_id: e.requestId,
      })
      .execute();
  }

  async list(f: AuditFilter): Promise<AuditEntry[]> {
    let q = this.db.selectFrom('audit_log').selectAll().where('tenant_id', '=', f.tenantId);
    if (f.action !== undefined) q = q.where('action', '=', f.action);
    if (f.targetId !== undefined) q = q.where('target_id', '=', f.targetId);
    if (f.beforeId !== undefined) q = q.where('id', '<', f.beforeId);
    const rows = await q.orderBy('id', 'desc').limit(f.limit).execute();
    return rows.map((r) => ({
      id: Number(r.id),
      tenantId: r.tenant_id,
      at: r.at,
      actor: { type: r.actor_type, id: r.actor_id, name: r.actor_name },
      action: r.action,
      target: { type: r.target_type, id: r.target_id },
      summary: JSON.parse(r.summary) as Record<string, unknown>,
      requestId: r.request_id,
    }));
  }
}
