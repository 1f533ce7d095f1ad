import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Services } from '../../core/services.js';
import { ctxOf } from '../context.js';
import { ErrorResponses, IsoTime } from '../schemas.js';

const IdParams = Type.Object({ id: Type.String({ maxLength: 256 }) });
const Value = Type.Union([Type.Number(), Type.String(), Type.Boolean()]);
const Point = Type.Object({ ts: Type.Integer({ description: 'epoch milliseconds (UTC); the bucket start for aggregates' }), value: Type.Union([Value, Type.Null()]) });
const Keys = Type.String({ maxLength: 8192, description: 'comma-separated keys (at most 50); all keys of the device when absent' });

const SeriesResponse = Type.Object({
  deviceId: Type.String(),
  from: IsoTime,
  to: IsoTime,
  agg: Type.Union([Type.String(), Type.Null()]),
  interval: Type.Union([Type.String(), Type.Null()]),
  intervalMs: Type.Union([Type.Integer(), Type.Null()]),
  source: Type.Union([Type.Literal('raw'), Type.Literal('rollup_1m'), Type.Literal('rollup_1h')], { description: 'where buckets were computed from' }),
  series: Type.Array(Type.Object({ key: Type.String(), points: Type.Array(Point), truncated: Type.Boolean({ description: 'the limit was reached: more points may follow' }) })),
});

const LatestResponse = Type.Object({
  deviceId: Type.String(),
  values: Type.Record(Type.String(), Type.Object({ ts: Type.Integer(), value: Value })),
});

const Settings = Type.Object({ retentionDays: Type.Integer({ minimum: 1, maximum: 3650, description: 'days of raw points and rollups kept (default 30)' }) }, { additionalProperties: false });

export function telemetryRoutes(app: FastifyInstance, services: Services): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get(
    '/api/v1/devices/:id/telemetry',
    {
      schema: {
        tags: ['telemetry'],
        summary: 'Telemetry history of a device: raw points, or buckets with agg + interval',
        description:
          'Without agg: raw points in [from, to), oldest first (order=desc: newest first), up to limit per key. ' +
          'With agg and interval: epoch-aligned buckets (the range widens to whole buckets), served from 1-hour rollups when interval is a multiple of 1h, ' +
          'from 1-minute rollups when a multiple of 1m, else from raw points; at most 10,000 buckets. See docs/telemetry.md.',
        params: IdParams,
        querystring: Type.Object(
          {
            keys: Type.Optional(Keys),
            from: Type.Optional(Type.String({ maxLength: 40, description: 'epoch ms or ISO 8601 with a zone; default: to − 24 h' })),
            to: Type.Optional(Type.String({ maxLength: 40, description: 'epoch ms or ISO 8601 with a zone (exclusive); default: now' })),
            agg: Type.Optional(Type.String({ maxLength: 16, description: 'avg, min, max, sum, count or last' })),
            interval: Type.Optional(Type.String({ maxLength: 16, description: 'bucket size: 30s, 1m, 5m, 1h, 1d, 1w …' })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, description: 'raw points per key (default 1000) or buckets per key' })),
            order: Type.Optional(Type.Union([Type.Literal('asc'), Type.Literal('desc')])),
          },
          { additionalProperties: false },
        ),
        response: { 200: SeriesResponse, ...ErrorResponses },
      },
    },
    async (req) => {
      const result = await services.telemetry.series(ctxOf(req), req.params.id, req.query);
      return { ...result, from: new Date(result.from).toISOString(), to: new Date(result.to).toISOString() };
    },
  );

  r.get(
    '/api/v1/devices/:id/telemetry/latest',
    {
      schema: {
        tags: ['telemetry'],
        summary: 'The newest value of each telemetry key of a device (what fleet queries read as telemetry.K)',
        params: IdParams,
        querystring: Type.Object({ keys: Type.Optional(Keys) }, { additionalProperties: false }),
        response: { 200: LatestResponse, ...ErrorResponses },
      },
    },
    async (req) => {
      const keys = req.query.keys?.split(',').map((k) => k.trim()).filter((k) => k.length > 0);
      const latest = await services.telemetry.latest(ctxOf(req), req.params.id, keys);
      const values: Record<string, { ts: number; value: number | string | boolean }> = {};
      for (const v of latest) Object.defineProperty(values, v.key, { value: { ts: v.ts, value: v.value }, enumerable: true, writable: true, configurable: true });
      return { deviceId: req.params.id, values };
    },
  );

  r.get(
    '/api/v1/telemetry/settings',
    { schema: { tags: ['telemetry'], summary: "The tenant's telemetry settings", response: { 200: Settings, ...ErrorResponses } } },
    async (req) => services.telemetry.settings(ctxOf(req)),
  );

  r.put(
    '/api/v1/telemetry/settings',
    { schema: { tags: ['telemetry'], summary: "Change the tenant's telemetry retention (admin)", body: Settings, response: { 200: Settings, ...ErrorResponses } } },
    async (req) => services.telemetry.updateSettings(ctxOf(req), req.body),
  );
}
