import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { DomainEvent } from '../../bus/events.js';
import { HangarError } from '../../errors.js';
import { recordAudit } from '../audit/audit-service.js';
import type { CallContext } from '../context.js';
import type { ChangeEvents } from '../events/change-events.js';
import { decodeCursor, toPage, type Page } from '../pagination.js';
import type { StoreSet, Stores } from '../stores.js';
import { TokenBucketLimiter, type RateLimit } from '../telemetry/rate-limiter.js';
import { requireRole } from '../tenancy/principal.js';
import { checkCommand, checkResult, type CheckedCommand, type CommandInput } from './command-rules.js';
import type { Command, CommandState } from './ports.js';

/** What a device receives for one command (HTTP and CoAP lists; MQTT sends it without `id`, which is in the topic). */
export interface DeviceCommand {
  id: string;
  name: string;
  params: Record<string, unknown>;
  /** Epoch ms after which the command is no longer carried out; null: never. */
  expiresAt: number | null;
  timeoutSec: number;
}

export type FinalState = Extract<CommandState, 'succeeded' | 'failed' | 'timed_out' | 'expired' | 'cancelled'>;

export interface CommandServiceOptions {
  now?: (() => number) | undefined;
  logger?: Logger | undefined;
  /** Commands an operator may create per device (token bucket). */
  createRate?: RateLimit | undefined;
  /** Results a device may send (token bucket). */
  resultRate?: RateLimit | undefined;
  /** How often the sweeper expires and times out commands (0: no timer; tests call sweep()). */
  sweepIntervalMs?: number | undefined;
}

export const DEFAULT_COMMAND_CREATE_RATE: RateLimit = { perSecond: 5, burst: 20 };
export const DEFAULT_COMMAND_RESULT_RATE: RateLimit = { perSecond: 20, burst: 50 };
/** Commands handed to a device in one delivery. */
const DELIVERY_BATCH = 50;
const SWEEP_BATCH = 500;

/** Sortable by creation: lists run newest first on the id alone. */
function newCommandId(now: number): string {
  return `cmd_${now.toString(36).padStart(9, '0')}${randomBytes(8).toString('hex')}`;
}

export function toDeviceCommand(c: Command): DeviceCommand {
  return { id: c.id, name: c.name, params: c.params, expiresAt: c.expiresAt, timeoutSec: c.timeoutSec };
}

/**
 * Commands to devices (docs/commands.md): durable in the store from the moment they are
 * queued, handed to whichever transport the device is on (`deliver`), completed by the
 * device's result, and expired or timed out by a sweeper. Every state change is a conditional
 * write from the states it may leave, so concurrent deliveries, results and sweeps never
 * both win.
 */
export class CommandService {
  private readonly now: () => number;
  private readonly createLimiter: TokenBucketLimiter;
  private readonly resultLimiter: TokenBucketLimiter;
  private readonly sweepIntervalMs: number;
  private readonly logger: Logger | undefined;
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;

  constructor(
    private readonly stores: Stores,
    private readonly changeEvents: ChangeEvents,
    options: CommandServiceOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.logger = options.logger;
    this.createLimiter = new TokenBucketLimiter(options.createRate ?? DEFAULT_COMMAND_CREATE_RATE, this.now);
    this.resultLimiter = new TokenBucketLimiter(options.resultRate ?? DEFAULT_COMMAND_RESULT_RATE, this.now);
    this.sweepIntervalMs = options.sweepIntervalMs ?? 1000;
  }

  /** Starts the sweeper (unref'd: it never keeps a process alive). */
  start(): void {
    if (this.timer || this.sweepIntervalMs <= 0) return;
    this.timer = setInterval(() => void this.sweep(), this.sweepIntervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.sweeping;
  }

  // ---- operators ----------------------------------------------------------------------------

  async send(ctx: CallContext, deviceId: string, input: CommandInput): Promise<Command> {
    requireRole(ctx.principal, 'operator');
    const checked = checkCommand(input);
    const tenantId = ctx.principal.tenantId;
    const wait = this.createLimiter.take(`${tenantId}\u0000${deviceId}`);
    if (wait > 0) throw new HangarError('RATE_LIMITED', `too many commands for device "${deviceId}"; try again in ${wait} ms`, { retryAfterMs: wait });
    return this.changeEvents.transaction(this.stores, async (tx, events) => {
      const command = await this.enqueue(tx, events, tenantId, deviceId, checked, { createdBy: `${ctx.principal.type}:${ctx.principal.id}`, jobId: null });
      await recordAudit(tx.audit, ctx, { action: 'command.send', target: { type: 'device', id: deviceId }, summary: { commandId: command.id, name: command.name } }, command.createdAt);
      return command;
    });
  }

  /**
   * A bulk job's command: checked like any, not rate-limited per device (the job has its own
   * rate). `recordIssue` runs in the same transaction, so a job never loses track of one.
   */
  async issueForJob(tenantId: string, deviceId: string, checked: CheckedCommand, job: { id: string; createdBy: string }, recordIssue: (tx: StoreSet, command: Command) => Promise<void>): Promise<Command> {
    return this.changeEvents.transaction(this.stores, async (tx, events) => {
      const command = await this.enqueue(tx, events, tenantId, deviceId, checked, { createdBy: job.createdBy, jobId: job.id });
      await recordIssue(tx, command);
      return command;
    });
  }

  async get(ctx: CallContext, deviceId: string, commandId: string): Promise<Command> {
    requireRole(ctx.principal, 'viewer');
    const command = await this.stores.commands.get(ctx.principal.tenantId, commandId);
    if (!command || command.deviceId !== deviceId) throw new HangarError('NOT_FOUND', `device "${deviceId}" has no command "${commandId}"`);
    return command;
  }

  async list(ctx: CallContext, deviceId: string, options: { state?: CommandState | undefined; cursor?: string | undefined; limit: number }): Promise<Page<Command>> {
    requireRole(ctx.principal, 'viewer');
    const tenantId = ctx.principal.tenantId;
    const beforeId = decodeCursor(options.cursor);
    if (!(await this.stores.devices.get(tenantId, deviceId))) throw new HangarError('DEVICE_NOT_FOUND', `device "${deviceId}" does not exist`);
    const rows = await this.stores.commands.list({ tenantId, deviceId, state: options.state, beforeId, limit: options.limit + 1 });
    return toPage(rows, options.limit, (c) => c.id);
  }

  async cancel(ctx: CallContext, deviceId: string, commandId: string): Promise<Command> {
    requireRole(ctx.principal, 'operator');
    const command = await this.get(ctx, deviceId, commandId);
    const cancelled = await this.finish(command, 'cancelled', { error: `cancelled by ${ctx.principal.name}` }, async (tx, at) => {
      await recordAudit(tx.audit, ctx, { action: 'command.cancel', target: { type: 'device', id: deviceId }, summary: { commandId, name: command.name, was: command.state } }, at);
    });
    if (!cancelled) throw new HangarError('CONFLICT', `command "${commandId}" is ${(await this.stores.commands.get(command.tenantId, commandId))?.state ?? command.state}; only queued or sent commands can be cancelled`);
    return cancelled;
  }

  /** Cancels a job's unfinished command without an audit entry of its own (the job's cancel is audited). */
  async cancelForJob(command: Command, reason: string): Promise<boolean> {
    return (await this.finish(command, 'cancelled', { error: reason })) !== undefined;
  }

  // ---- devices ------------------------------------------------------------------------------

  /** True when the device has a queued command it has not received yet. */
  async hasPending(tenantId: string, deviceId: string): Promise<boolean> {
    return (await this.stores.commands.pending(tenantId, deviceId, this.now(), 1)).length > 0;
  }

  /**
   * Hands the device's queued commands to `write`, oldest first, each marked `sent` first so
   * that two deliveries at once never both send it. `write` answers whether the command went
   * out; when it did not, the command is queued again. Answers how many went out.
   */
  async deliver(tenantId: string, deviceId: string, write: (command: DeviceCommand) => boolean): Promise<number> {
    const pending = await this.stores.commands.pending(tenantId, deviceId, this.now(), DELIVERY_BATCH);
    let sent = 0;
    for (const command of pending) {
      const at = this.now();
      if (!(await this.stores.commands.transition(tenantId, command.id, ['queued'], { state: 'sent', sentAt: at, dueAt: at + command.timeoutSec * 1000 }))) continue;
      let written = false;
      try {
        written = write(toDeviceCommand(command));
      } catch (err) {
        this.logger?.warn({ err, deviceId, commandId: command.id }, 'command delivery failed');
      }
      if (!written) {
        await this.stores.commands.transition(tenantId, command.id, ['sent'], { state: 'queued', sentAt: null, dueAt: command.expiresAt }, at);
        break;
      }
      sent += 1;
      this.changeEvents.publish([{ type: 'command.sent', tenantId, deviceId, commandId: command.id, name: command.name }]);
    }
    return sent;
  }

  /** For pull transports (HTTP long-poll, CoAP): the queued commands, now marked sent. */
  async take(tenantId: string, deviceId: string): Promise<DeviceCommand[]> {
    const taken: DeviceCommand[] = [];
    await this.deliver(tenantId, deviceId, (c) => {
      taken.push(c);
      return true;
    });
    return taken;
  }

  /** A device's answer. Unknown (or another device's) command: NOT_FOUND; finished: CONFLICT; nothing changes then. */
  async complete(tenantId: string, deviceId: string, commandId: string, body: unknown): Promise<Command> {
    const wait = this.resultLimiter.take(`${tenantId}\u0000${deviceId}`);
    if (wait > 0) throw new HangarError('RATE_LIMITED', `too many command results from device "${deviceId}"; try again in ${wait} ms`, { retryAfterMs: wait });
    const answer = checkResult(body);
    const command = await this.stores.commands.get(tenantId, commandId);
    if (!command || command.deviceId !== deviceId) throw new HangarError('NOT_FOUND', `device "${deviceId}" has no command "${commandId}"`);
    const at = this.now();
    const roundTripMs = command.name === 'ping' && command.sentAt !== null ? Math.max(0, at - command.sentAt) : null;
    const done = await this.finish(command, answer.status, { result: answer.result, error: answer.error, roundTripMs });
    if (done) return done;
    const now = await this.stores.commands.get(tenantId, commandId);
    throw new HangarError('CONFLICT', `command "${commandId}" is already ${now?.state ?? command.state}; its result was not changed`);
  }

  // ---- the sweeper --------------------------------------------------------------------------

  /** Expires queued commands past their TTL and times out sent ones past their timeout. */
  async sweep(): Promise<void> {
    if (this.sweeping) return this.sweeping;
    this.sweeping = (async () => {
      try {
        for (;;) {
          const due = await this.stores.commands.due(this.now(), SWEEP_BATCH);
          for (const c of due) {
            if (c.state === 'queued') await this.finish(c, 'expired', { error: `not delivered within its TTL of ${c.ttlSec} s` });
            else await this.finish(c, 'timed_out', { error: `no result within ${c.timeoutSec} s of being sent` });
          }
          if (due.length < SWEEP_BATCH) break;
        }
      } catch (err) {
        this.logger?.warn({ err }, 'command sweep failed');
      } finally {
        this.sweeping = undefined;
      }
    })();
    return this.sweeping;
  }

  // ---- internals ----------------------------------------------------------------------------

  private async enqueue(tx: StoreSet, events: DomainEvent[], tenantId: string, deviceId: string, checked: CheckedCommand, origin: { createdBy: string; jobId: string | null }): Promise<Command> {
    const device = await tx.devices.get(tenantId, deviceId);
    if (!device) throw new HangarError('DEVICE_NOT_FOUND', `device "${deviceId}" does not exist`);
    if (device.status === 'decommissioned') throw new HangarError('DEVICE_DECOMMISSIONED', `device "${deviceId}" is decommissioned and takes no commands`);
    const now = this.now();
    const command: Command = {
      id: newCommandId(now),
      tenantId,
      deviceId,
      ...checked,
      state: 'queued',
      result: null,
      error: null,
      roundTripMs: null,
      createdBy: origin.createdBy,
      jobId: origin.jobId,
      createdAt: now,
      expiresAt: now + checked.ttlSec * 1000,
      sentAt: null,
      completedAt: null,
    };
    await tx.commands.insert(command, command.expiresAt);
    events.push({ type: 'command.queued', tenantId, deviceId, commandId: command.id, name: command.name });
    return command;
  }

  /** Moves an unfinished command to a final state; undefined when it had finished meanwhile. */
  private async finish(
    command: Command,
    state: FinalState,
    fields: { result?: unknown; error?: string | null; roundTripMs?: number | null },
    inTransaction?: (tx: StoreSet, at: number) => Promise<void>,
  ): Promise<Command | undefined> {
    const at = this.now();
    return this.changeEvents.transaction(this.stores, async (tx, events) => {
      const from: CommandState[] = state === 'expired' ? ['queued'] : state === 'timed_out' ? ['sent'] : ['queued', 'sent'];
      const changed = await tx.commands.transition(command.tenantId, command.id, from, { state, completedAt: at, dueAt: null, ...fields });
      if (!changed) return undefined;
      await inTransaction?.(tx, at);
      events.push({ type: 'command.completed', tenantId: command.tenantId, deviceId: command.deviceId, commandId: command.id, name: command.name, state, jobId: command.jobId });
      return (await tx.commands.get(command.tenantId, command.id))!;
    });
  }
}
