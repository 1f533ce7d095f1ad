import { Type, type Static } from 'typebox';
import { IsoTime } from './common.js';

/** One event of `GET /api/v1/events/stream` (SSE `data:`) and the body of a webhook delivery. */
export const StreamEvent = Type.Object({
  id: Type.Integer({ description: 'orders the events of one node; an SSE client resumes after it with Last-Event-ID' }),
  type: Type.String(),
  tenant: Type.String(),
  deviceId: Type.Optional(Type.String()),
  at: IsoTime,
  data: Type.Record(Type.String(), Type.Unknown(), { description: 'the event’s own fields (e.g. values of telemetry.received, alertId of alert.*)' }),
});
export type StreamEvent = Static<typeof StreamEvent>;
