import { Type, type Static } from 'typebox';
import { Nullable, PageQuery, pageOf } from './common.js';

export const LogLevel = Type.Union([Type.Literal('debug'), Type.Literal('info'), Type.Literal('warn'), Type.Literal('error')]);
export type LogLevel = Static<typeof LogLevel>;

/** One stored log record of a device (docs/logs.md). */
export const LogRecord = Type.Object({
  id: Type.String({ description: 'orders records of equal ts' }),
  ts: Type.Integer({ description: 'device time, epoch milliseconds (the receive time when the device gave none)' }),
  receivedAt: Type.Integer({ description: 'when Hangar stored it, epoch milliseconds' }),
  level: LogLevel,
  msg: Type.String(),
  fields: Nullable(Type.Record(Type.String(), Type.Unknown())),
  truncated: Type.Boolean({ description: 'msg was cut at the line length limit (8 KiB by default)' }),
});
export type LogRecord = Static<typeof LogRecord>;

/** `GET /api/v1/devices/{id}/logs?from=&to=&level=&q=&limit=&cursor=&order=` */
export const LogListQuery = Type.Object(
  {
    from: Type.Optional(Type.String({ maxLength: 40, description: 'epoch ms or ISO 8601 with a zone; inclusive (record ts)' })),
    to: Type.Optional(Type.String({ maxLength: 40, description: 'epoch ms or ISO 8601 with a zone; exclusive' })),
    level: Type.Optional(Type.String({ maxLength: 20, description: 'the least severe level listed: debug, info, warn or error' })),
    q: Type.Optional(Type.String({ maxLength: 200, description: 'only records whose msg contains this text (case-insensitive)' })),
    order: Type.Optional(Type.Union([Type.Literal('desc'), Type.Literal('asc')], { description: 'desc (default): newest first' })),
    ...PageQuery,
  },
  { additionalProperties: false },
);
export type LogListQuery = Static<typeof LogListQuery>;

export const LogPage = pageOf(LogRecord);
export type LogPage = Static<typeof LogPage>;

/** A `device.log` event's data on the SSE stream: one stored upload. */
export interface DeviceLogEventData {
  receivedAt: number;
  records: Array<{ id: string; ts: number; level: LogLevel; msg: string; fields?: Record<string, unknown>; truncated?: true }>;
}
