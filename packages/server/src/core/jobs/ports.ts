import type { CommandState } from '../commands/ports.js';

export const JOB_STATES = ['running', 'completed', 'aborted', 'cancelled'] as const;
export type JobState = (typeof JOB_STATES)[number];

export interface AbortThreshold {
  /** Abort once this many commands failed, timed out or expired. */
  failedCount: number | null;
  /** Abort once this share (0–100) of the finished commands failed. */
  failedPercent: number | null;
  /** Percent is judged only from this many finished commands on. */
  minCompleted: number | null;
}

export interface JobCommand {
  name: string;
  params: Record<string, unknown>;
  timeoutSec: number;
  ttlSec: number;
}

export interface Job {
  id: string;
  tenantId: string;
  query: string;
  command: JobCommand;
  ratePerMinute: number;
  maxConcurrency: number;
  abort: AbortThreshold;
  state: JobState;
  targeted: number;
  /** Why it ended (aborted: the threshold crossed; cancelled: by whom). */
  reason: string | null;
  createdBy: string;
  createdAt: number;
  finishedAt: number | null;
}

/** One targeted device and what became of it. */
export interface JobDevice {
  deviceId: string;
  commandId: string | null;
  /** The command's state; null before it was issued. */
  state: CommandState | null;
  skipped: string | null;
  error: string | null;
  result: unknown;
}

export interface JobStore {
  /** The job with its targeted devices, in the order they are issued. */
  insert(job: Job, deviceIds: readonly string[]): Promise<void>;
  get(tenantId: string, id: string): Promise<Job | undefined>;
  list(tenantId: string, beforeId: string | undefined, limit: number): Promise<Job[]>;
  running(): Promise<Job[]>;
  /** Ends a running job; false when it had ended already. */
  finish(tenantId: string, id: string, state: Exclude<JobState, 'running'>, reason: string | null, at: number): Promise<boolean>;
  /** Devices not yet issued a command, in order. */
  nextDevices(jobId: string, limit: number): Promise<string[]>;
  setCommand(jobId: string, deviceId: string, commandId: string): Promise<void>;
  skip(jobId: string, deviceId: string, reason: string): Promise<void>;
  /** Issued, skipped and not yet issued devices. */
  issueCounts(jobId: string): Promise<{ issued: number; skipped: number; pending: number }>;
  devices(tenantId: string, jobId: string, afterDeviceId: string | undefined, limit: number): Promise<JobDevice[]>;
}
