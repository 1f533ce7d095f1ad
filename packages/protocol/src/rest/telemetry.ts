import { Type, type Static } from 'typebox';
import { IsoTime, Nullable } from './common.js';

/** A telemetry value as devices send it (DESIGN §5). */
export const TelemetryValue = Type.Union([Type.Number(), Type.String(), Type.Boolean()]);
export type TelemetryValue = Static<typeof TelemetryValue>;

export const TelemetryAggregate = Type.Union([Type.Literal('avg'), Type.Literal('min'), Type.Literal('max'), Type.Literal('sum'), Type.Literal('count'), Type.Literal('last')]);
export type TelemetryAggregate = Static<typeof TelemetryAggregate>;

/** One raw point, or one bucket of an aggregate (`value` null when the bucket has no number, e.g. avg of strings). */
export const TelemetryPoint = Type.Object({
  ts: Type.Integer({ description: 'epoch milliseconds (UTC); the bucket start for aggregates' }),
  value: Nullable(TelemetryValue),
});
export type TelemetryPoint = Static<typeof TelemetryPoint>;

/** `GET /api/v1/devices/{id}/telemetry?keys=&from=&to=&agg=&interval=&limit=&order=` */
export const TelemetrySeriesResponse = Type.Object({
  deviceId: Type.String(),
  from: IsoTime,
  to: IsoTime,
  agg: Nullable(TelemetryAggregate),
  interval: Nullable(Type.String()),
  intervalMs: Nullable(Type.Integer()),
  source: Type.Union([Type.Literal('raw'), Type.Literal('rollup_1m'), Type.Literal('rollup_1h')], { description: 'where buckets were computed from' }),
  series: Type.Array(Type.Object({ key: Type.String(), points: Type.Array(TelemetryPoint), truncated: Type.Boolean({ description: 'the limit was reached: more points may follow' }) })),
});
export type TelemetrySeriesResponse = Static<typeof TelemetrySeriesResponse>;

/** `GET /api/v1/devices/{id}/telemetry/latest?keys=` */
export const TelemetryLatestResponse = Type.Object({
  deviceId: Type.String(),
  values: Type.Record(Type.String(), Type.Object({ ts: Type.Integer(), value: TelemetryValue })),
});
export type TelemetryLatestResponse = Static<typeof TelemetryLatestResponse>;

/** `GET|PUT /api/v1/telemetry/settings` */
export const TelemetrySettings = Type.Object(
  { retentionDays: Type.Integer({ minimum: 1, maximum: 3650, description: 'days of raw points and rollups kept (default 30)' }) },
  { additionalProperties: false },
);
export type TelemetrySettings = Static<typeof TelemetrySettings>;
