import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Services } from '../../core/services.js';
import { DEFAULT_FIRMWARE_TOP, MAX_FIRMWARE_TOP } from '../../core/fleet/fleet-stats-service.js';
import { ctxOf } from '../context.js';
import { ErrorResponses } from '../schemas.js';

export function fleetRoutes(app: FastifyInstance, services: Services): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.get(
    '/api/v1/fleet/stats',
    {
      schema: {
        operationId: 'getFleetStats',
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
