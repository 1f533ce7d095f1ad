import { sql, type Kysely } from 'kysely';
import type { NewTimelineEntry, StoredTimelineEntry, TimelineQuery, TimelineStore } from '../../core/timeline/ports.js';
import type { Database } from '../schema.js';

export class KyselyTimelineStore implements TimelineStore {
  constructor(private readonly db: Kysely<Database>) {}

  async append(entries: readonly NewTimelineEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await this.db
      .insertInto('device_events')
      .values(entries.map((e) => ({ tenant_id: e.tenantId, device_id: e.deviceId, ts: e.ts, type: e.type, data: JSON.stringify(e.data) })))
      .execute();
  }

  async list(query: TimelineQuery): Promise<StoredTimelineEntry[]> {
    let q = this.db.selectFrom('device_events').select(['seq', 'ts', 'type', 'data']).where('tenant_id', '=', query.tenantId).where('device_id', '=', query.deviceId);
    if (query.from !== undefined) q = q.where('ts', '>=', query.from);
    if (query.to !== undefined) q = q.where('ts', '<', query.to);
    const types = query.types;
    if (types && (types.exact.length > 0 || types.prefixes.length > 0)) {
      q = q.where((eb) =>
        eb.or([
          ...(types.exact.length > 0 ? [eb('type', 'in', [...types.exact])] : []),
          // substr, not LIKE: type names hold `_`, and SQLite's LIKE has no default escape.
          ...types.prefixes.map((p) => eb(sql<string>`substr(type, 1, ${p.length})`, '=', p)),
        ]),
      );
    }
    const after = query.after;
    if (after) {
      const cmp = query.order === 'desc' ? '<' : '>';
      q = q.where((eb) => eb.or([eb('ts', cmp, after.ts), eb.and([eb('ts', '=', after.ts), eb('seq', cmp, after.seq)])]));
    }
    const rows = await q.orderBy('ts', query.order).orderBy('seq', query.order).limit(query.limit).execute();
    return rows.map((r) => ({ seq: Number(r.seq), ts: Number(r.ts), type: r.type, data: JSON.parse(r.data) as Record<string, unknown> }));
  }

  async deleteBefore(cutoff: number, limit: number): Promise<number> {
    const doomed = this.db.selectFrom('device_events').select('seq').where('ts', '<', cutoff).limit(limit);
    const result = await this.db.deleteFrom('device_events').where('seq', 'in', doomed).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  async purgeDevice(tenantId: string, deviceId: string): Promise<number> {
    const result = await this.db.deleteFrom('device_events').where('tenant_id', '=', tenantId).where('device_id', '=', deviceId).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
