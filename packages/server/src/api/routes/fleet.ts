import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Services } from '../../core/services.js';
import { DEFAULT_FIRMWARE_TOP, MAX_FIRMWARE_TOP } from '../../core/fleet/fleet-stats-service.js';
import { ctxOf } from '../context.js';
import { ErrorResponses } from '../schemas.js';

const Counts = Type.Record(Type.String(), Type.Integer());

export const FleetStatsSchema = Type.Object(
  {
    total: Type.Integer(),
    online: Type.Integer(),
    offline: Type.Integer(),
    byType: Type.Record(Type.String(), Type.Integer(), { description: 'the 100 most common types' }),
    typeOther: Type.Integer({ description: 'devices of a type not in byType' }),
    byStatus: Counts,
    firmware: Type.Record(Type.String(), Type.Integer(), { description: 'the firmwareTop most common versions, most devices first' }),
    firmwareOther: Type.Integer({ description: 'devices on a version not in firmware' }),
    firmwareUnknown: Type.Integer({ description: 'devices that have not reported a version' }),
    alerts: Type.Object({
      open: Type.Integer({ description: 'raised or acknowledged alerts of the selected devices' }),
      bySeverity: Type.Object({ critical: Type.Integer(), major: Type.Integer(), minor: Type.Integer(), warning: Type.Integer(), info: Type.Integer() }),
      byState: Type.Object({ raised: Type.Integer(), acknowledged: Type.Integer() }),
    }),
  },
  { $id: 'FleetStats' },
);

export function fleetRoutes(app: FastifyInstance, services: Services): void {
  app.addSchema(FleetStatsSchema);
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.get(
    '/api/v1/fleet/stats',
    {
      schema: {
        tags: ['fleet'],
        summary: 'Fleet overview: online counts, types, statuses, firmware distribution, open alerts',
        description: 'All counts are over the devices the fleet query `q` selects (all devices without it).',
        querystring: Type.Object(
          {
            q: Type.Optional(Type.String({ maxLength: 4096 })),
            firmwareTop: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_FIRMWARE_TOP, default: DEFAULT_FIRMWARE_TOP })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Ref('FleetStats'), ...ErrorResponses },
      },
    },
    async (req) => services.fleet.stats(ctxOf(req), { q: req.query.q, firmwareTop: req.query.firmwareTop }),
  );
}
