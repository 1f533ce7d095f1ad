import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { TimelinePage, TimelineQuery } from '@hangar/protocol/rest';
import type { Services } from '../../core/services.js';
import { ctxOf } from '../context.js';
import { ErrorResponses } from '../schemas.js';

/** A device's timeline (docs/logs.md): its events in one ordered view. */
export function timelineRoutes(app: FastifyInstance, services: Services): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.get(
    '/api/v1/devices/:id/events',
    {
      schema: {
        operationId: 'listDeviceEvents',
        tags: ['logs'],
        summary: 'A device’s timeline: connects, twin changes, commands, credentials, enrollment, alerts and error logs; newest first; viewer role',
        description: 'Ordered by time, then id (stable). types filters by event type or prefix (twin.*); log.error entries summarise error log records (at most one per device per minute, with a count).',
        params: Type.Object({ id: Type.String({ maxLength: 256 }) }),
        querystring: TimelineQuery,
        response: { 200: TimelinePage, ...ErrorResponses },
      },
    },
    async (req) => services.timeline.list(ctxOf(req), req.params.id, req.query),
  );
}
