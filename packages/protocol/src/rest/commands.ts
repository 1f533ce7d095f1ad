import { Type, type Static } from 'typebox';
import { IsoTime, Nullable, PageQuery } from './common.js';

export const CommandState = Type.Union([
  Type.Literal('queued'),
  Type.Literal('sent'),
  Type.Literal('succeeded'),
  Type.Literal('failed'),
  Type.Literal('timed_out'),
  Type.Literal('expired'),
  Type.Literal('cancelled'),
]);
export type CommandState = Static<typeof CommandState>;

/** A command to a device (docs/commands.md). */
export const DeviceCommand = Type.Object(
  {
    id: Type.String(),
    deviceId: Type.String(),
    name: Type.String(),
    params: Type.Record(Type.String(), Type.Unknown()),
    state: CommandState,
    timeoutSec: Type.Integer({ description: 'how long the device has to answer once the command was sent' }),
    ttlSec: Type.Integer({ description: 'how long the command may wait undelivered' }),
    expiresAt: IsoTime,
    result: Type.Unknown({ description: 'what the device answered (any JSON); null until then' }),
    error: Nullable(Type.String()),
    roundTripMs: Nullable(Type.Integer({ description: '`ping`: result time − sent time' })),
    createdBy: Type.String(),
    jobId: Nullable(Type.String()),
    createdAt: IsoTime,
    sentAt: Nullable(IsoTime),
    completedAt: Nullable(IsoTime),
  },
  { $id: 'DeviceCommand' },
);
export type DeviceCommand = Static<typeof DeviceCommand>;

/** What to tell a device: also the `command` of a bulk job. */
export const NewCommand = Type.Object(
  {
    name: Type.String({ maxLength: 256, description: '1–64 characters of A–Z a–z 0–9 . _ -; built-ins: reboot, ping, upload-logs, factory-reset, get-system-info' }),
    params: Type.Optional(Type.Unknown({ description: 'a JSON object (at most 16 KiB)' })),
    timeoutSec: Type.Optional(Type.Integer({ description: 'result wait once sent, 1–86400 s (default 30)' })),
    ttlSec: Type.Optional(Type.Integer({ description: 'how long it may wait undelivered, 1 s to 30 days (default 1 day)' })),
  },
  { additionalProperties: false },
);
export type NewCommand = Static<typeof NewCommand>;

export const CommandListQuery = Type.Object({ ...PageQuery, state: Type.Optional(CommandState) }, { additionalProperties: false });
export type CommandListQuery = Static<typeof CommandListQuery>;
