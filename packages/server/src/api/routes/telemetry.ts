import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Services } from '../../core/services.js';
import { ctxOf } from '../context.js';
import { TelemetryLatestResponse, TelemetrySeriesResponse, TelemetrySettings, TelemetrySettingsPatch, type TelemetryValue } from '@hangar/protocol/rest';
import { isoTime } from '@hangar/protocol';
import { ErrorResponses } from '../schemas.js';

const IdParams = Type.Object({ id: Type.String({ maxLength: 256 }) });
const Keys = Type.String({ maxLength: 8192, description: 'comma-separated keys (at most 50); all keys of the device when absent' });

export function telemetryRoutes(app: FastifyInstance, services: Services): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get(
    '/api/v1/devices/:id/telemetry',
    {
      schema: {
        operationId: 'getTelemetrySeries',
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
        response: { 200: TelemetrySeriesResponse, ...ErrorResponses },
      },
    },
    async (req) => {
      const result = await services.telemetry.series(ctxOf(req), req.params.id, req.query);
      return { ...result, from: isoTime(result.from), to: isoTime(result.to) };
    },
  );

  r.get(
    '/api/v1/devices/:id/telemetry/latest',
    {
      schema: {
        operationId: 'getLatestTelemetry',
        tags: ['telemetry'],
        summary: 'The newest value of each telemetry key of a device (what fleet queries read as telemetry.K)',
        params: IdParams,
        querystring: Type.Object({ keys: Type.Optional(Keys) }, { additionalProperties: false }),
        response: { 200: TelemetryLatestResponse, ...ErrorResponses },
      },
    },
    async (req) => {
      const keys = req.query.keys?.split(',').map((k) => k.trim()).filter((k) => k.length > 0);
      const latest = await services.telemetry.latest(ctxOf(req), req.params.id, keys);
      const values: Record<string, { ts: number; value: TelemetryValue }> = {};
      for (const v of latest) Object.defineProperty(values, v.key, { value: { ts: v.ts, value: v.value }, enumerable: true, writable: true, configurable: true });
      return { deviceId: req.params.id, values };
    },
  );

  r.get(
    '/api/v1/telemetry/settings',
    { schema: { operationId: 'getTelemetrySettings', tags: ['telemetry'], summary: "The tenant's telemetry settings", response: { 200: TelemetrySettings, ...ErrorResponses } } },
    async (req) => services.telemetry.settings(ctxOf(req)),
  );

  r.put(
    '/api/v1/telemetry/settings',
    {
      schema: {
        operationId: 'updateTelemetrySettings',
        tags: ['telemetry'],
        summary: "Change the tenant's telemetry retention and/or per-device rate limit (admin); fields left out keep their value",
        body: TelemetrySettingsPatch,
        response: { 200: TelemetrySettings, ...ErrorResponses },
      },
    },
    async (req) => services.telemetry.updateSettings(ctxOf(req), req.body),
  );
}
