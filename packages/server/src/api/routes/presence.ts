import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { DeviceConnection, DevicePresence, PageQuery, pageOf } from '@hangar/protocol/rest';
import type { Services } from '../../core/services.js';
import { ctxOf } from '../context.js';
import { ErrorResponses } from '../schemas.js';
import { connectionView, presenceView } from '../views.js';

const IdParams = Type.Object({ id: Type.String({ maxLength: 256 }) });

/** Device presence: the current state and the connection history (any role may read). */
export function presenceRoutes(app: FastifyInstance, services: Services): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get(
    '/api/v1/devices/:id/presence',
    {
      schema: {
        operationId: 'getDevicePresence',
        tags: ['devices'],
        summary: 'Whether a device is online, since when and how; when it was last seen',
        params: IdParams,
        response: { 200: DevicePresence, ...ErrorResponses },
      },
    },
    async (req) => presenceView(await services.presence.presence(ctxOf(req), req.params.id)),
  );

  r.get(
    '/api/v1/devices/:id/connections',
    {
      schema: {
        operationId: 'listDeviceConnections',
        tags: ['devices'],
        summary: 'A device’s connection history, newest first',
        params: IdParams,
        querystring: Type.Object({ ...PageQuery }, { additionalProperties: false }),
        response: { 200: pageOf(DeviceConnection), ...ErrorResponses },
      },
    },
    async (req) => {
      const page = await services.presence.connections(ctxOf(req), req.params.id, { cursor: req.query.cursor, limit: req.query.limit ?? 100 });
      return { items: page.items.map(connectionView), nextCursor: page.nextCursor };
    },
  );
}
