import type { Kysely, Selectable } from 'kysely';
import type { CommandState } from '../../core/commands/ports.js';
import type { Job, JobCommand, JobDevice, JobState, JobStore } from '../../core/jobs/ports.js';
import type { Database, JobsTable } from '../schema.js';
import { chunk } from './chunk.js';

type Row = Selectable<JobsTable>;

const numOrNull = (v: number | string | null): number | null => (v === null ? null : Number(v));

function fromRow(r: Row): Job {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    query: r.query,
    command: JSON.parse(r.command) as JobCommand,
    ratePerMinute: Number(r.rate_per_minute),
    maxConcurrency: Number(r.max_concurrency),
    abort: { failedCount: numOrNull(r.abort_failed_count), failedPercent: numOrNull(r.abort_failed_percent), minCompleted: numOrNull(r.abort_min_completed) },
    state: r.state as JobState,
    targeted: Number(r.targeted),
    reason: r.reason,
    createdBy: r.created_by,
    createdAt: Number(r.created_at),
    finishedAt: numOrNull(r.finished_at),
  };
}

export class KyselyJobStore implements JobStore {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(job: Job, deviceIds: readonly string[]): Promise<void> {
    await this.db
      .insertInto('jobs')
      .values({
        id: job.id,
        tenant_id: job.tenantId,
        query: job.query,
        command: JSON.stringify(job.command),
        rate_per_minute: job.ratePerMinute,
        max_concurrency: job.maxConcurrency,
        abort_failed_count: job.abort.failedCount,
        abort_failed_percent: job.abort.failedPercent,
        abort_min_completed: job.abort.minCompleted,
        state: job.state,
        targeted: job.targeted,
        reason: job.reason,
        created_by: job.createdBy,
        created_at: job.createdAt,
        finished_at: job.finishedAt,
      })
      .execute();
    let position = 0;
    // Five parameters a row: well under SQLite's and PostgreSQL's bound-parameter limits.
    for (const ids of chunk([...deviceIds], 500)) {
      await this.db
        .insertInto('job_devices')
        .values(ids.map((deviceId) => ({ job_id: job.id, device_id: deviceId, position: position++, command_id: null, skipped: null })))
        .execute();
    }
  }

  async get(tenantId: string, id: string): Promise<Job | undefined> {
    const row = await this.db.selectFrom('jobs').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
    return row ? fromRow(row) : undefined;
  }

  async list(tenantId: string, beforeId: string | undefined, limit: number): Promise<Job[]> {
    let q = this.db.selectFrom('jobs').selectAll().where('tenant_id', '=', tenantId);
    if (beforeId !== undefined) q = q.where('id', '<', beforeId);
    return (await q.orderBy('id', 'desc').limit(limit).execute()).map(fromRow);
  }

  async running(): Promise<Job[]> {
    return (await this.db.selectFrom('jobs').selectAll().where('state', '=', 'running').orderBy('id').execute()).map(fromRow);
  }

  async finish(tenantId: string, id: string, state: Exclude<JobState, 'running'>, reason: string | null, at: number): Promise<boolean> {
    const r = await this.db.updateTable('jobs').set({ state, reason, finished_at: at }).where('tenant_id', '=', tenantId).where('id', '=', id).where('state', '=', 'running').executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async nextDevices(jobId: string, limit: number): Promise<string[]> {
    const rows = await this.db
      .selectFrom('job_devices')
      .select('device_id')
      .where('job_id', '=', jobId)
      .where('command_id', 'is', null)
      .where('skipped', 'is', null)
      .orderBy('position')
      .limit(limit)
      .execute();
    return rows.map((r) => r.device_id);
  }

  async setCommand(jobId: string, deviceId: string, commandId: string): Promise<void> {
    await this.db.updateTable('job_devices').set({ command_id: commandId }).where('job_id', '=', jobId).where('device_id', '=', deviceId).execute();
  }

  async skip(jobId: string, deviceId: string, reason: string): Promise<void> {
    await this.db.updateTable('job_devices').set({ skipped: reason }).where('job_id', '=', jobId).where('device_id', '=', deviceId).execute();
  }

  async issueCounts(jobId: string): Promise<{ issued: number; skipped: number; pending: number }> {
    const row = await this.db
      .selectFrom('job_devices')
      .select((eb) => [
        eb.fn.count<number | string>('command_id').as('issued'),
        eb.fn.count<number | string>('skipped').as('skipped'),
        eb.fn.countAll<number | string>().as('total'),
      ])
      .where('job_id', '=', jobId)
      .executeTakeFirstOrThrow();
    const issued = Number(row.issued);
    const skipped = Number(row.skipped);
    return { issued, skipped, pending: Number(row.total) - issued - skipped };
  }

  async devices(tenantId: string, jobId: string, afterDeviceId: string | undefined, limit: number): Promise<JobDevice[]> {
    let q = this.db
      .selectFrom('job_devices as jd')
      .leftJoin('commands as c', (j) => j.onRef('c.id', '=', 'jd.command_id').on('c.tenant_id', '=', tenantId))
      .select(['jd.device_id', 'jd.command_id', 'jd.skipped', 'c.state', 'c.error', 'c.result'])
      .where('jd.job_id', '=', jobId);
    if (afterDeviceId !== undefined) q = q.where('jd.device_id', '>', afterDeviceId);
    const rows = await q.orderBy('jd.device_id').limit(limit).execute();
    return rows.map((r) => ({
      deviceId: r.device_id,
      commandId: r.command_id,
      state: (r.state ?? null) as CommandState | null,
      skipped: r.skipped,
      error: r.error ?? null,
      result: r.result === null || r.result === undefined ? null : (JSON.parse(r.result) as unknown),
    }));
  }
}
