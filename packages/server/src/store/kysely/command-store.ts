import type { Kysely, Selectable } from 'kysely';
import type { Command, CommandChange, CommandListFilter, CommandState, CommandStore } from '../../core/commands/ports.js';
import type { CommandsTable, Database } from '../schema.js';

type Row = Selectable<CommandsTable>;

const numOrNull = (v: number | string | null): number | null => (v === null ? null : Number(v));

function fromRow(r: Row): Command {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    deviceId: r.device_id,
    name: r.name,
    params: JSON.parse(r.params) as Record<string, unknown>,
    timeoutSec: Number(r.timeout_sec),
    ttlSec: Number(r.ttl_sec),
    state: r.state as CommandState,
    result: r.result === null ? null : (JSON.parse(r.result) as unknown),
    error: r.error,
    roundTripMs: numOrNull(r.round_trip_ms),
    createdBy: r.created_by,
    jobId: r.job_id,
    createdAt: Number(r.created_at),
    expiresAt: Number(r.expires_at),
    sentAt: numOrNull(r.sent_at),
    completedAt: numOrNull(r.completed_at),
  };
}

export class KyselyCommandStore implements CommandStore {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(c: Command, dueAt: number): Promise<void> {
    await this.db
      .insertInto('commands')
      .values({
        id: c.id,
        tenant_id: c.tenantId,
        device_id: c.deviceId,
        name: c.name,
        params: JSON.stringify(c.params),
        timeout_sec: c.timeoutSec,
        ttl_sec: c.ttlSec,
        state: c.state,
        result: c.result === null ? null : JSON.stringify(c.result),
        error: c.error,
        round_trip_ms: c.roundTripMs,
        created_by: c.createdBy,
        job_id: c.jobId,
        created_at: c.createdAt,
        expires_at: c.expiresAt,
        sent_at: c.sentAt,
        completed_at: c.completedAt,
        due_at: dueAt,
      })
      .execute();
  }

  async get(tenantId: string, id: string): Promise<Command | undefined> {
    const row = await this.db.selectFrom('commands').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
    return row ? fromRow(row) : undefined;
  }

  async list(f: CommandListFilter): Promise<Command[]> {
    let q = this.db.selectFrom('commands').selectAll().where('tenant_id', '=', f.tenantId);
    if (f.deviceId !== undefined) q = q.where('device_id', '=', f.deviceId);
    if (f.jobId !== undefined) q = q.where('job_id', '=', f.jobId);
    if (f.state !== undefined) q = q.where('state', '=', f.state);
    if (f.beforeId !== undefined) q = q.where('id', '<', f.beforeId);
    const rows = await q.orderBy('id', 'desc').limit(f.limit).execute();
    return rows.map(fromRow);
  }

  async pending(tenantId: string, deviceId: string, now: number, limit: number): Promise<Command[]> {
    const rows = await this.db
      .selectFrom('commands')
      .selectAll()
      .where('device_id', '=', deviceId)
      .where('state', '=', 'queued')
      .where('tenant_id', '=', tenantId)
      .where('expires_at', '>', now)
      .orderBy('id', 'asc')
      .limit(limit)
      .execute();
    return rows.map(fromRow);
  }

  async devicesWithPending(tenantId: string, deviceIds: readonly string[], now: number): Promise<string[]> {
    if (deviceIds.length === 0) return [];
    const rows = await this.db
      .selectFrom('commands')
      .select('device_id')
      .distinct()
      .where('device_id', 'in', [...deviceIds])
      .where('state', '=', 'queued')
      .where('tenant_id', '=', tenantId)
      .where('expires_at', '>', now)
      .execute();
    return rows.map((r) => r.device_id);
  }

  async transition(tenantId: string, id: string, from: readonly CommandState[], change: CommandChange, sentAt?: number): Promise<boolean> {
    const set: Partial<CommandsTable> = { state: change.state, due_at: change.dueAt };
    if (change.sentAt !== undefined) set.sent_at = change.sentAt;
    if (change.completedAt !== undefined) set.completed_at = change.completedAt;
    if (change.result !== undefined) set.result = change.result === null ? null : JSON.stringify(change.result);
    if (change.error !== undefined) set.error = change.error;
    if (change.roundTripMs !== undefined) set.round_trip_ms = change.roundTripMs;
    let q = this.db.updateTable('commands').set(set).where('tenant_id', '=', tenantId).where('id', '=', id).where('state', 'in', [...from]);
    if (sentAt !== undefined) q = q.where('sent_at', '=', sentAt);
    const result = await q.executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async due(now: number, limit: number): Promise<Command[]> {
    const rows = await this.db.selectFrom('commands').selectAll().where('due_at', '<=', now).where('state', 'in', ['queued', 'sent']).orderBy('due_at', 'asc').limit(limit).execute();
    return rows.map(fromRow);
  }

  async countByState(tenantId: string, jobId: string): Promise<Partial<Record<CommandState, number>>> {
    const rows = await this.db
      .selectFrom('commands')
      .select(['state', (eb) => eb.fn.countAll<number | string>().as('n')])
      .where('job_id', '=', jobId)
      .where('tenant_id', '=', tenantId)
      .groupBy('state')
      .execute();
    return Object.fromEntries(rows.map((r) => [r.state, Number(r.n)])) as Partial<Record<CommandState, number>>;
  }
}
