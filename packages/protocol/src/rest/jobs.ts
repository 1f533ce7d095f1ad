import { Type, type Static } from 'typebox';
import { CommandState, NewCommand } from './commands.js';
import { IsoTime, Nullable, PageQuery } from './common.js';

export const JobState = Type.Union([Type.Literal('running'), Type.Literal('completed'), Type.Literal('aborted'), Type.Literal('cancelled')]);
export type JobState = Static<typeof JobState>;

export const AbortThreshold = Type.Object(
  {
    failedCount: Type.Optional(Type.Integer({ description: 'abort once this many commands failed, timed out or expired' })),
    failedPercent: Type.Optional(Type.Number({ description: 'abort once this percentage of the finished commands failed, timed out or expired' })),
    minCompleted: Type.Optional(Type.Integer({ description: 'judge failedPercent only from this many finished commands on (default 10)' })),
  },
  { additionalProperties: false },
);
export type AbortThreshold = Static<typeof AbortThreshold>;

export const NewJob = Type.Object(
  {
    query: Type.String({ maxLength: 4096, description: 'fleet query selecting the devices, evaluated once when the job is created' }),
    command: NewCommand,
    ratePerMinute: Type.Optional(Type.Integer({ description: 'commands issued per minute at most, 1–60000 (default 60)' })),
    maxConcurrency: Type.Optional(Type.Integer({ description: 'unfinished commands at once at most, 1–10000 (default 10)' })),
    abortThreshold: Type.Optional(AbortThreshold),
  },
  { additionalProperties: false },
);
export type NewJob = Static<typeof NewJob>;

export const JobProgress = Type.Object({
  targeted: Type.Integer(),
  pending: Type.Integer({ description: 'devices not issued their command yet' }),
  skipped: Type.Integer({ description: 'devices deleted or decommissioned before their turn' }),
  queued: Type.Integer(),
  sent: Type.Integer(),
  succeeded: Type.Integer(),
  failed: Type.Integer(),
  timed_out: Type.Integer(),
  expired: Type.Integer(),
  cancelled: Type.Integer(),
});
export type JobProgress = Static<typeof JobProgress>;

export const Job = Type.Object(
  {
    id: Type.String(),
    query: Type.String(),
    command: Type.Object({ name: Type.String(), params: Type.Record(Type.String(), Type.Unknown()), timeoutSec: Type.Integer(), ttlSec: Type.Integer() }),
    ratePerMinute: Type.Integer(),
    maxConcurrency: Type.Integer(),
    abortThreshold: Type.Object({ failedCount: Nullable(Type.Integer()), failedPercent: Nullable(Type.Number()), minCompleted: Nullable(Type.Integer()) }),
    state: JobState,
    reason: Nullable(Type.String({ description: 'why the job ended, when it did not simply complete' })),
    progress: JobProgress,
    createdBy: Type.String(),
    createdAt: IsoTime,
    finishedAt: Nullable(IsoTime),
  },
  { $id: 'Job' },
);
export type Job = Static<typeof Job>;

export const JobDevice = Type.Object({
  deviceId: Type.String(),
  commandId: Nullable(Type.String()),
  state: Nullable(CommandState),
  skipped: Nullable(Type.String()),
  error: Nullable(Type.String()),
  result: Type.Unknown(),
});
export type JobDevice = Static<typeof JobDevice>;

export const JobListQuery = Type.Object(PageQuery, { additionalProperties: false });
