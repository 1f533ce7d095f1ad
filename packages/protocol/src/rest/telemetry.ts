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

const RetentionDays = Type.Integer({ minimum: 1, maximum: 3650, description: 'days of raw points and rollups kept (default 30)' });
const PerSecond = Type.Number({ exclusiveMinimum: 0, maximum: 100_000, description: 'telemetry messages per second per device, steady' });
const Burst = Type.Integer({ minimum: 1, maximum: 1_000_000, description: 'messages a device may send at once (default: two seconds’ worth)' });

/** A per-device telemetry rate limit. */
export const TelemetryRateLimit = Type.Object({ perSecond: PerSecond, burst: Burst }, { additionalProperties: false });
export type TelemetryRateLimit = Static<typeof TelemetryRateLimit>;

/** `GET /api/v1/telemetry/settings`, and the answer to `PUT` */
export const TelemetrySettings = Type.Object(
  {
    retentionDays: RetentionDays,
    rateLimit: Type.Union([TelemetryRateLimit, Type.Null()], { description: 'per-device telemetry rate limit in force for the tenant; null: none' }),
    rateLimitSource: Type.Union([Type.Literal('tenant'), Type.Literal('installation')], { description: 'the tenant’s own limit, or the installation’s (hangar serve --telemetry-rate-limit)' }),
  },
  { additionalProperties: false },
);
export type TelemetrySettings = Static<typeof TelemetrySettings>;

/** `PUT /api/v1/telemetry/settings`: only what changes */
export const TelemetrySettingsPatch = Type.Object(
  {
    retentionDays: Type.Optional(RetentionDays),
    rateLimit: Type.Optional(
      Type.Union([Type.Object({ perSecond: PerSecond, burst: Type.Optional(Burst) }, { additionalProperties: false }), Type.Null()], {
        description: 'a limit of the tenant’s own; null: the installation’s again',
      }),
    ),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type TelemetrySettingsPatch = Static<typeof TelemetrySettingsPatch>;
