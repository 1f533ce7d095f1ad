import { Type, type Static } from 'typebox';
import { PageQuery, pageOf } from './common.js';

/** One entry of a device's timeline: a domain event of the device, or `log.error` (a summary of error log records). */
export const TimelineEntry = Type.Object({
  id: Type.String({ description: 'orders entries of equal ts' }),
  ts: Type.Integer({ description: 'epoch milliseconds' }),
  type: Type.String({ description: 'the event type, e.g. device.connected, twin.desired.changed, alert.raised, log.error' }),
  data: Type.Record(Type.String(), Type.Unknown(), { description: 'the event’s fields' }),
});
export type TimelineEntry = Static<typeof TimelineEntry>;

/** `GET /api/v1/devices/{id}/events?from=&to=&types=&limit=&cursor=&order=` */
export const TimelineQuery = Type.Object(
  {
    from: Type.Optional(Type.String({ maxLength: 40, description: 'epoch ms or ISO 8601 with a zone; inclusive' })),
    to: Type.Optional(Type.String({ maxLength: 40, description: 'epoch ms or ISO 8601 with a zone; exclusive' })),
    types: Type.Optional(Type.String({ maxLength: 2000, description: 'comma-separated types or prefixes such as twin.*; default all' })),
    order: Type.Optional(Type.Union([Type.Literal('desc'), Type.Literal('asc')], { description: 'desc (default): newest first' })),
    ...PageQuery,
  },
  { additionalProperties: false },
);
export type TimelineQuery = Static<typeof TimelineQuery>;

export const TimelinePage = pageOf(TimelineEntry);
export type TimelinePage = Static<typeof TimelinePage>;
