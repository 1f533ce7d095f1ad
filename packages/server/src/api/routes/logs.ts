import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { LogListQuery, LogPage } from '@hangar/protocol/rest';
import type { Services } from '../../core/services.js';
import { ctxOf } from '../context.js';
import { ErrorResponses } from '../schemas.js';

/** Device logs (docs/logs.md): what devices uploaded, filtered; the live tail is the SSE stream's `device.log`. */
export function logRoutes(app: FastifyInstance, services: Services): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.get(
    '/api/v1/devices/:id/logs',
    {
      schema: {
        operationId: 'listDeviceLogs',
        tags: ['logs'],
        summary: 'A device’s log records, newest first (order=asc: oldest first); viewer role',
        description: 'Filters: from/to (record time), level (the least severe level listed), q (text the message contains, case-insensitive). Follow nextCursor for the next page. Tail live with GET /api/v1/events/stream?types=device.log&device={id}.',
        params: Type.Object({ id: Type.String({ maxLength: 256 }) }),
        querystring: LogListQuery,
        response: { 200: LogPage, ...ErrorResponses },
      },
    },
    async (req) => services.logs.list(ctxOf(req), req.params.id, req.query),
  );
}
