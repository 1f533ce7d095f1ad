import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { DeviceTwin, TwinDesiredPatch } from '@hangar/protocol/rest';
import type { Services } from '../../core/services.js';
import { ctxOf } from '../context.js';
import { ErrorResponses } from '../schemas.js';

const IdParams = Type.Object({ id: Type.String({ maxLength: 256 }) });

/** Device twins (docs/twins.md): read the twin with its delta; operators patch desired. */
export function twinRoutes(app: FastifyInstance, services: Services): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get(
    '/api/v1/devices/:id/twin',
    {
      schema: {
        operationId: 'getDeviceTwin',
        tags: ['twins'],
        summary: 'A device’s twin: desired, reported, and the delta (desired properties reported does not match yet)',
        params: IdParams,
        response: { 200: DeviceTwin, ...ErrorResponses },
      },
    },
    async (req, reply) => {
      const twin = await services.twins.get(ctxOf(req), req.params.id);
      return reply.header('etag', twin.etag).send(twin);
    },
  );

  r.patch(
    '/api/v1/devices/:id/twin',
    {
      schema: {
        operationId: 'updateDeviceTwinDesired',
        tags: ['twins'],
        summary: 'Change a device’s desired twin with a JSON merge patch (RFC 7396); operator role',
        description: 'Body `{"desired": <merge patch>}`: `null` deletes a property, objects merge. With `If-Match: <etag>` the patch applies only if the twin is still that version (412 otherwise). Each half is limited in size (413).',
        params: IdParams,
        headers: Type.Object({ 'if-match': Type.Optional(Type.String({ maxLength: 256 })) }, { additionalProperties: true }),
        body: TwinDesiredPatch,
        response: { 200: DeviceTwin, 412: Type.Ref('Problem'), 413: Type.Ref('Problem'), ...ErrorResponses },
      },
    },
    async (req, reply) => {
      const twin = await services.twins.updateDesired(ctxOf(req), req.params.id, req.body.desired, req.headers['if-match']);
      return reply.header('etag', twin.etag).send(twin);
    },
  );
}
