import { sql, type Kysely } from 'kysely';
import { LOG_LEVELS, type DeviceLogCount, type DeviceLogStore, type LogQuery, type NewLogRecord, type StoredLogRecord } from '../../core/logs/ports.js';
import type { Database } from '../schema.js';

/** `%`, `_` and the escape itself taken literally in a LIKE pattern (ESCAPE '\'). */
export function likeLiteral(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

export class KyselyDeviceLogStore implements DeviceLogStore {
  constructor(private readonly db: Kysely<Database>) {}

  async append(records: readonly NewLogRecord[]): Promise<number[]> {
    if (records.length === 0) return [];
    const rows = await this.db
      .insertInto('device_logs')
      .values(
        records.map((r) => ({
          tenant_id: r.tenantId,
          device_id: r.deviceId,
          ts: r.ts,
          received_at: r.receivedAt,
          level: LOG_LEVELS.indexOf(r.level),
          msg: r.msg,
          fields: r.fields ?? null,
          truncated: r.truncated ? 1 : 0,
        })),
      )
      .returning('seq')
      .execute();
    return rows.map((r) => Number(r.seq));
  }

  async list(query: LogQuery): Promise<StoredLogRecord[]> {
    let q = this.db
      .selectFrom('device_logs')
      .select(['seq', 'ts', 'received_at', 'level', 'msg', 'fields', 'truncated'])
      .where('tenant_id', '=', query.tenantId)
      .where('device_id', '=', query.deviceId);
    if (query.from !== undefined) q = q.where('ts', '>=', query.from);
    if (query.to !== undefined) q = q.where('ts', '<', query.to);
    if (query.minLevel !== undefined && query.minLevel !== 'debug') q = q.where('level', '>=', LOG_LEVELS.indexOf(query.minLevel));
    if (query.contains !== undefined && query.contains !== '') {
      // lower() on both sides: SQLite's LIKE ignores ASCII case only, PostgreSQL's not at all.
      q = q.where(sql<boolean>`lower(msg) LIKE ${'%' + likeLiteral(query.contains.toLowerCase()) + '%'} ESCAPE '\\'`);
    }
    const after = query.after;
    if (after) {
      const cmp = query.order === 'desc' ? '<' : '>';
      q = q.where((eb) => eb.or([eb('ts', cmp, after.ts), eb.and([eb('ts', '=', after.ts), eb('seq', cmp, after.seq)])]));
    }
    const rows = await q.orderBy('ts', query.order).orderBy('seq', query.order).limit(query.limit).execute();
    return rows.map((r) => ({
      seq: Number(r.seq),
      ts: Number(r.ts),
      receivedAt: Number(r.received_at),
      level: LOG_LEVELS[r.level] ?? 'info',
      msg: r.msg,
      fields: r.fields,
      truncated: r.truncated === 1,
    }));
  }

  async deleteReceivedBefore(cutoff: number, limit: number): Promise<number> {
    const doomed = this.db.selectFrom('device_logs').select('seq').where('received_at', '<', cutoff).limit(limit);
    const result = await this.db.deleteFrom('device_logs').where('seq', 'in', doomed).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  async devicesOver(cap: number, limit: number): Promise<DeviceLogCount[]> {
    const rows = await this.db
      .selectFrom('device_logs')
      .select(['tenant_id', 'device_id', (eb) => eb.fn.countAll<number>().as('n')])
      .groupBy(['tenant_id', 'device_id'])
      .having((eb) => eb.fn.countAll(), '>', cap)
      .limit(limit)
      .execute();
    return rows.map((r) => ({ tenantId: r.tenant_id, deviceId: r.device_id, count: Number(r.n) }));
  }

  async trimDevice(tenantId: string, deviceId: string, keep: number): Promise<number> {
    // The newest record past the ones kept: it and everything older goes.
    const edge = await this.db
      .selectFrom('device_logs')
      .select(['ts', 'seq'])
      .where('tenant_id', '=', tenantId)
      .where('device_id', '=', deviceId)
      .orderBy('ts', 'desc')
      .orderBy('seq', 'desc')
      .offset(keep)
      .limit(1)
      .executeTakeFirst();
    if (!edge) return 0;
    const ts = Number(edge.ts);
    const seq = Number(edge.seq);
    const result = await this.db
      .deleteFrom('device_logs')
      .where('tenant_id', '=', tenantId)
      .where('device_id', '=', deviceId)
      .where((eb) => eb.or([eb('ts', '<', ts), eb.and([eb('ts', '=', ts), eb('seq', '<=', seq)])]))
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  async purgeDevice(tenantId: string, deviceId: string): Promise<number> {
    const result = await this.db.deleteFrom('device_logs').where('tenant_id', '=', tenantId).where('device_id', '=', deviceId).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
