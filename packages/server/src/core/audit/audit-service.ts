import { HangarError } from '../../errors.js';
import type { CallContext } from '../context.js';
import { requireRole } from '../tenancy/principal.js';
import type { AuditEntry, AuditStore } from './ports.js';

export interface AuditRecord {
  action: string;
  target: { type: string; id: string };
  summary?: Record<string, unknown>;
}

/**
 * Writes the audit entry of a mutation. Services call it with the transaction's store so the
 * entry lands atomically with the change it describes.
 */
export async function recordAudit(store: AuditStore, ctx: CallContext, record: AuditRecord, now: number): Promise<void> {
  await store.append({
    tenantId: ctx.principal.tenantId,
    at: now,
    actor: { type: ctx.principal.type, id: ctx.principal.id, name: ctx.principal.name },
    action: record.action,
    target: record.target,
    summary: record.summary ?? {},
    requestId: ctx.requestId ?? null,
  });
}

export class AuditService {
  constructor(private readonly store: AuditStore) {}

  async list(
    ctx: CallContext,
    options: { action?: string | undefined; targetId?: string | undefined; cursor?: string | undefined; limit: number },
  ): Promise<{ items: AuditEntry[]; nextCursor: string | null }> {
    requireRole(ctx.principal, 'admin');
    let beforeId: number | undefined;
    if (options.cursor !== undefined) {
      beforeId = Number(options.cursor);
      if (!Number.isSafeInteger(beforeId) || beforeId <= 0) throw new HangarError('INVALID_CURSOR', `cursor "${options.cursor}" is not one this API issued`);
    }
    const items = await this.store.list({ tenantId: ctx.principal.tenantId, action: options.action, targetId: options.targetId, beforeId, limit: options.limit + 1 });
    const more = items.length > options.limit;
    const page = more ? items.slice(0, options.limit) : items;
    return { items: page, nextCursor: more ? String(page[page.length - 1]!.id) : null };
  }
}
