import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { EventBus, Unsubscribe } from '../../bus/event-bus.js';
import { HangarError, hasCode } from '../../errors.js';
import { recordAudit } from '../audit/audit-service.js';
import { checkCommand, type CommandInput } from '../commands/command-rules.js';
import type { CommandService } from '../commands/command-service.js';
import type { CommandState } from '../commands/ports.js';
import type { CallContext } from '../context.js';
import { decodeCursor, encodeCursor, toPage, type Page } from '../pagination.js';
import { parseQueryText } from '../registry/fleet-query.js';
import type { Stores } from '../stores.js';
import { requireRole } from '../tenancy/principal.js';
import { checkAbortThreshold, checkConcurrency, checkRate, JOB_LIMITS, thresholdCrossed } from './job-rules.js';
import type { Job, JobDevice } from './ports.js';

export interface NewJob {
  query: string;
  command: CommandInput;
  ratePerMinute?: number | undefined;
  maxConcurrency?: number | undefined;
  abortThreshold?: { failedCount?: number | undefined; failedPercent?: number | undefined; minCompleted?: number | undefined } | undefined;
}

/** Where the job's devices are: not issued yet, skipped, or their command's state. */
export type JobProgress = Record<CommandState, number> & { targeted: number; pending: number; skipped: number };

export interface JobView extends Job {
  progress: JobProgress;
}

export interface JobServiceOptions {
  now?: (() => number) | undefined;
  logger?: Logger | undefined;
  /** How often running jobs are advanced (0: no timer; tests call tick()). */
  tickIntervalMs?: number | undefined;
}

const LIST_BATCH = 1000;

function newJobId(now: number): string {
  return `job_${now.toString(36).padStart(9, '0')}${randomBytes(6).toString('hex')}`;
}

/**
 * Bulk jobs: one command to every device a fleet query matched when the job was created,
 * issued through the command service at most `ratePerMinute` and with at most
 * `maxConcurrency` unfinished at once; aborted when its failure threshold is crossed. Its
 * state lives in the store (which devices got which command), so a restarted server resumes it.
 */
/** How long after a command completes its job is advanced (completions meanwhile share the tick). */
const COMPLETION_TICK_DELAY_MS = 100;

export class JobService {
  private readonly now: () => number;
  private readonly logger: Logger | undefined;
  private readonly tickIntervalMs: number;
  private timer: NodeJS.Timeout | undefined;
  private soonTimer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private again = false;
  private off: Unsubscribe | undefined;
  private stopped = false;

  constructor(
    private readonly stores: Stores,
    private readonly commands: Pick<CommandService, 'issueForJob' | 'cancelForJob'>,
    private readonly bus: Pick<EventBus, 'subscribe'> | undefined,
    options: JobServiceOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.logger = options.logger;
    this.tickIntervalMs = options.tickIntervalMs ?? 1000;
  }

  start(): void {
    this.stopped = false;
    if (this.tickIntervalMs > 0 && !this.timer) {
      this.timer = setInterval(() => this.kick(), this.tickIntervalMs);
      this.timer.unref();
    }
    // A finished command frees a slot: advance its job now rather than at the next tick.
    this.off ??= this.bus?.subscribe('command.completed', (e) => {
      if (e.jobId !== null) this.soon();
    });
    this.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
    clearTimeout(this.soonTimer);
    this.soonTimer = undefined;
    this.off?.();
    this.off = undefined;
    await this.ticking;
  }

  async create(ctx: CallContext, input: NewJob): Promise<JobView> {
    requireRole(ctx.principal, 'operator');
    const tenantId = ctx.principal.tenantId;
    if (typeof input.query !== 'string' || input.query.trim() === '') throw new HangarError('VALIDATION_FAILED', 'query must be a fleet query selecting the devices (e.g. tags.site = "berlin"; `id ~ "*"` for every device)');
    const now = this.now();
    const where = parseQueryText(input.query, { now });
    const command = checkCommand(input.command ?? ({} as CommandInput));
    const ratePerMinute = checkRate(input.ratePerMinute);
    const maxConcurrency = checkConcurrency(input.maxConcurrency);
    const abort = checkAbortThreshold(input.abortThreshold);
    const deviceIds: string[] = [];
    for (let afterId: string | undefined; ; ) {
      const page = await this.stores.devices.list({ tenantId, where, afterId, limit: LIST_BATCH });
      for (const d of page) if (d.status !== 'decommissioned') deviceIds.push(d.id);
      if (deviceIds.length > JOB_LIMITS.maxTargeted) throw new HangarError('VALIDATION_FAILED', `the query matches more than ${JOB_LIMITS.maxTargeted} devices; a job targets at most that many`);
      if (page.length < LIST_BATCH) break;
      afterId = page[page.length - 1]!.id;
    }
    const job: Job = {
      id: newJobId(now),
      tenantId,
      query: input.query,
      command,
      ratePerMinute,
      maxConcurrency,
      abort,
      state: deviceIds.length === 0 ? 'completed' : 'running',
      targeted: deviceIds.length,
      reason: deviceIds.length === 0 ? 'the query matched no device' : null,
      createdBy: `${ctx.principal.type}:${ctx.principal.id}`,
      createdAt: now,
      finishedAt: deviceIds.length === 0 ? now : null,
    };
    await this.stores.transaction(async (tx) => {
      await tx.jobs.insert(job, deviceIds);
      await recordAudit(tx.audit, ctx, { action: 'job.create', target: { type: 'job', id: job.id }, summary: { query: job.query, command: command.name, targeted: job.targeted } }, now);
    });
    this.kick();
    return this.view(job);
  }

  async get(ctx: CallContext, id: string): Promise<JobView> {
    requireRole(ctx.principal, 'viewer');
    return this.view(await this.require(ctx.principal.tenantId, id));
  }

  async list(ctx: CallContext, cursor: string | undefined, limit: number): Promise<Page<JobView>> {
    requireRole(ctx.principal, 'viewer');
    const rows = await this.stores.jobs.list(ctx.principal.tenantId, decodeCursor(cursor), limit + 1);
    const page = toPage(rows, limit, (j) => j.id);
    return { items: await Promise.all(page.items.map((j) => this.view(j))), nextCursor: page.nextCursor };
  }

  async devices(ctx: CallContext, id: string, cursor: string | undefined, limit: number): Promise<Page<JobDevice>> {
    requireRole(ctx.principal, 'viewer');
    const job = await this.require(ctx.principal.tenantId, id);
    const rows = await this.stores.jobs.devices(job.tenantId, job.id, decodeCursor(cursor), limit + 1);
    const more = rows.length > limit;
    const items = more ? rows.slice(0, limit) : rows;
    return { items, nextCursor: more ? encodeCursor(items[items.length - 1]!.deviceId) : null };
  }

  /** Stops issuing and cancels the job's unfinished commands. */
  async cancel(ctx: CallContext, id: string): Promise<JobView> {
    requireRole(ctx.principal, 'operator');
    const job = await this.require(ctx.principal.tenantId, id);
    const at = this.now();
    const ended = await this.stores.transaction(async (tx) => {
      if (!(await tx.jobs.finish(job.tenantId, job.id, 'cancelled', `cancelled by ${ctx.principal.name}`, at))) return false;
      await recordAudit(tx.audit, ctx, { action: 'job.cancel', target: { type: 'job', id: job.id }, summary: {} }, at);
      return true;
    });
    if (!ended) throw new HangarError('CONFLICT', `job "${id}" is already ${(await this.require(job.tenantId, id)).state}; only a running job can be cancelled`);
    await this.cancelCommands(job, ['queued', 'sent'], `job ${job.id} was cancelled`);
    return this.get(ctx, id);
  }

  /** Advances every running job once (the timer and command completions call it). */
  async tick(): Promise<void> {
    if (this.ticking) {
      this.again = true;
      return this.ticking;
    }
    this.ticking = (async () => {
      try {
        do {
          this.again = false;
          for (const job of await this.stores.jobs.running()) {
            if (this.stopped) return;
            await this.advance(job);
          }
        } while (this.again && !this.stopped);
      } catch (err) {
        this.logger?.warn({ err }, 'job tick failed');
      } finally {
        this.ticking = undefined;
      }
    })();
    return this.ticking;
  }

  private kick(): void {
    if (!this.stopped) void this.tick();
  }

  /**
   * A tick shortly after a command finished, one for however many finish meanwhile: each tick
   * counts the job's commands by state, and a tick per completion made a 10,000-device job
   * count 10,000 times over (measured: the server stalled, docs/benchmarks.md).
   */
  private soon(): void {
    if (this.stopped || this.soonTimer) return;
    this.soonTimer = setTimeout(() => {
      this.soonTimer = undefined;
      this.kick();
    }, COMPLETION_TICK_DELAY_MS);
    this.soonTimer.unref();
  }

  private async advance(job: Job): Promise<void> {
    const progress = await this.progress(job);
    const failures = progress.failed + progress.timed_out + progress.expired;
    const finished = failures + progress.succeeded + progress.cancelled;
    const crossed = thresholdCrossed(job.abort, failures, finished);
    if (crossed) {
      if (await this.stores.jobs.finish(job.tenantId, job.id, 'aborted', crossed, this.now())) {
        this.logger?.info({ jobId: job.id, reason: crossed }, 'job aborted');
        await this.cancelCommands(job, ['queued'], `job ${job.id} was aborted: ${crossed}`);
      }
      return;
    }
    const issued = progress.targeted - progress.pending - progress.skipped;
    if (progress.pending === 0) {
      if (finished === issued) await this.stores.jobs.finish(job.tenantId, job.id, 'completed', null, this.now());
      return;
    }
    const inFlight = progress.queued + progress.sent;
    // The rate is kept from the job's start (durable across restarts): at most one command
    // now, then ratePerMinute per minute; a backlog never bursts past one minute's worth.
    const dueByRate = Math.floor(((this.now() - job.createdAt) * job.ratePerMinute) / 60_000) + 1 - (issued + progress.skipped);
    const room = Math.min(job.maxConcurrency - inFlight, dueByRate, job.ratePerMinute, progress.pending);
    if (room <= 0) return;
    for (const deviceId of await this.stores.jobs.nextDevices(job.id, room)) {
      if (this.stopped) return;
      try {
        await this.commands.issueForJob(job.tenantId, deviceId, job.command, { id: job.id, createdBy: job.createdBy }, (tx, command) => tx.jobs.setCommand(job.id, deviceId, command.id));
      } catch (err) {
        if (hasCode(err, 'DEVICE_NOT_FOUND') || hasCode(err, 'DEVICE_DECOMMISSIONED')) await this.stores.jobs.skip(job.id, deviceId, err.message);
        else throw err;
      }
    }
  }

  private async cancelCommands(job: Job, states: CommandState[], reason: string): Promise<void> {
    for (const state of states) {
      for (;;) {
        const batch = await this.stores.commands.list({ tenantId: job.tenantId, jobId: job.id, state, limit: 500 });
        let changed = 0;
        for (const c of batch) if (await this.commands.cancelForJob(c, reason)) changed += 1;
        if (batch.length < 500 || changed === 0) break;
      }
    }
  }

  private async progress(job: Job): Promise<JobProgress> {
    const counts = await this.stores.commands.countByState(job.tenantId, job.id);
    const issue = await this.stores.jobs.issueCounts(job.id);
    return {
      targeted: job.targeted,
      pending: issue.pending,
      skipped: issue.skipped,
      queued: counts.queued ?? 0,
      sent: counts.sent ?? 0,
      succeeded: counts.succeeded ?? 0,
      failed: counts.failed ?? 0,
      timed_out: counts.timed_out ?? 0,
      expired: counts.expired ?? 0,
      cancelled: counts.cancelled ?? 0,
    };
  }

  private async view(job: Job): Promise<JobView> {
    return { ...job, progress: await this.progress(job) };
  }

  private async require(tenantId: string, id: string): Promise<Job> {
    const job = await this.stores.jobs.get(tenantId, id);
    if (!job) throw new HangarError('NOT_FOUND', `job "${id}" does not exist`);
    return job;
  }
}
