import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { DeviceTwin, TwinDesiredPatch, TwinSchema, TwinSchemaInput } from '@hangar/protocol/rest';
import type { TwinSchemaRecord } from '../../core/twin/ports.js';
import type { Services } from '../../core/services.js';
import { ctxOf } from '../context.js';
import { ErrorResponses } from '../schemas.js';
import { isoTime } from '@hangar/protocol';

const IdParams = Type.Object({ id: Type.String({ maxLength: 256 }) });
const TypeParams = Type.Object({ deviceType: Type.String({ maxLength: 256 }) });

function schemaView(r: TwinSchemaRecord): TwinSchema {
  return { deviceType: r.deviceType, desired: r.desired, reported: r.reported, updatedAt: isoTime(r.updatedAt) };
}

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

  // ---- JSON Schemas per device type

  r.get(
    '/api/v1/twin-schemas',
    { schema: { operationId: 'listTwinSchemas', tags: ['twins'], summary: 'The twin JSON Schemas of every device type that has them', response: { 200: Type.Object({ items: Type.Array(TwinSchema) }), ...ErrorResponses } } },
    async (req) => ({ items: (await services.twinSchemas.list(ctxOf(req))).map(schemaView) }),
  );

  r.get(
    '/api/v1/twin-schemas/:deviceType',
    { schema: { operationId: 'getTwinSchema', tags: ['twins'], summary: 'The twin JSON Schemas of one device type', params: TypeParams, response: { 200: TwinSchema, ...ErrorResponses } } },
    async (req) => schemaView(await services.twinSchemas.get(ctxOf(req), req.params.deviceType)),
  );

  r.put(
    '/api/v1/twin-schemas/:deviceType',
    {
      schema: {
        operationId: 'putTwinSchema',
        tags: ['twins'],
        summary: 'Set the JSON Schemas (2020-12) the desired and reported twins of a device type must satisfy; operator role',
        description: 'Body `{"desired": <schema>, "reported": <schema>}`, either or both (null: none). Checked on every twin write of devices of that type from now on; stored twins are not re-checked. See docs/twins.md.',
        params: TypeParams,
        body: TwinSchemaInput,
        response: { 200: TwinSchema, 413: Type.Ref('Problem'), ...ErrorResponses },
      },
    },
    async (req) => schemaView(await services.twinSchemas.put(ctxOf(req), req.params.deviceType, req.body)),
  );

  r.delete(
    '/api/v1/twin-schemas/:deviceType',
    { schema: { operationId: 'deleteTwinSchema', tags: ['twins'], summary: 'Remove the twin JSON Schemas of a device type; operator role', params: TypeParams, response: { 204: Type.Null({ description: 'removed' }), ...ErrorResponses } } },
    async (req, reply) => {
      await services.twinSchemas.delete(ctxOf(req), req.params.deviceType);
      return reply.code(204).send(null);
    },
  );
}
