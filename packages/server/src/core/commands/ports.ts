/** A command's life: `queued → sent → succeeded | failed | timed_out`, or `expired` / `cancelled` on the way. */
export const COMMAND_STATES = ['queued', 'sent', 'succeeded', 'failed', 'timed_out', 'expired', 'cancelled'] as const;
export type CommandState = (typeof COMMAND_STATES)[number];

/** States a command never leaves. */
export const FINAL_COMMAND_STATES: readonly CommandState[] = ['succeeded', 'failed', 'timed_out', 'expired', 'cancelled'];

export function isCommandState(value: string): value is CommandState {
  return (COMMAND_STATES as readonly string[]).includes(value);
}

export interface Command {
  id: string;
  tenantId: string;
  deviceId: string;
  name: string;
  params: Record<string, unknown>;
  /** How long the device has to answer once the command was sent. */
  timeoutSec: number;
  /** How long the command may wait undelivered. */
  ttlSec: number;
  state: CommandState;
  /** What the device answered (any JSON), null until then. */
  result: unknown;
  error: string | null;
  /** `ping` only: result time − sent time. */
  roundTripMs: number | null;
  /** `<principal type>:<principal id>` of whoever created it (or the job's creator). */
  createdBy: string;
  jobId: string | null;
  createdAt: number;
  expiresAt: number;
  sentAt: number | null;
  completedAt: number | null;
}

/** What a state change writes besides the state; fields not given stay as they are. */
export interface CommandChange {
  state: CommandState;
  sentAt?: number | null;
  completedAt?: number | null;
  result?: unknown;
  error?: string | null;
  roundTripMs?: number | null;
  /** The sweeper's next deadline for this command (null: none). */
  dueAt: number | null;
}

export interface CommandListFilter {
  tenantId: string;
  deviceId?: string | undefined;
  jobId?: string | undefined;
  state?: CommandState | undefined;
  /** Keyset: only ids below this one (lists run newest first). */
  beforeId?: string | undefined;
  limit: number;
}

/** Commands, one row each (table `commands`). */
export interface CommandStore {
  insert(command: Command, dueAt: number): Promise<void>;
  get(tenantId: string, id: string): Promise<Command | undefined>;
  list(filter: CommandListFilter): Promise<Command[]>;
  /** Queued commands of one device not yet expired at `now`, oldest first. */
  pending(tenantId: string, deviceId: string, now: number, limit: number): Promise<Command[]>;
  /** Devices with queued, unexpired commands among `deviceIds`. */
  devicesWithPending(tenantId: string, deviceIds: readonly string[], now: number): Promise<string[]>;
  /**
   * Applies `change` if the command is still in one of `from` (and, when given, was sent at
   * `sentAt`): false when another writer moved it first, and nothing was written.
   */
  transition(tenantId: string, id: string, from: readonly CommandState[], change: CommandChange, sentAt?: number): Promise<boolean>;
  /** Queued or sent commands whose deadline (expiry or result timeout) is at or before `now`. */
  due(now: number, limit: number): Promise<Command[]>;
  /** How many commands of a job are in each state. */
  countByState(tenantId: string, jobId: string): Promise<Partial<Record<CommandState, number>>>;
}
