import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Services } from '../../core/services.js';
import { ctxOf } from '../context.js';
import { ErrorResponses, PageQuery, pageOf } from '../schemas.js';
import { deviceView, groupView } from '../views.js';

const IdParams = Type.Object({ id: Type.String({ maxLength: 256 }) });

export function groupRoutes(app: FastifyInstance, services: Services): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['groups'];

  r.get(
    '/api/v1/groups',
    {
      schema: {
        tags,
        summary: 'List groups',
        description: 'deviceCount is included only with counts=true: counting a dynamic group runs its query over the whole fleet.',
        querystring: Type.Object({ ...PageQuery, counts: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
        response: { 200: pageOf(Type.Ref('Group')), ...ErrorResponses },
      },
    },
    async (req) => {
      const page = await services.groups.list(ctxOf(req), req.query.cursor, req.query.limit ?? 100, { counts: req.query.counts ?? false });
      return { items: page.items.map(groupView), nextCursor: page.nextCursor };
    },
  );

  r.post(
    '/api/v1/groups',
    {
      schema: {
        tags,
        summary: 'Create a static group or a dynamic group (a fleet query)',
        body: Type.Object(
          {
            id: Type.String({ minLength: 1, maxLength: 64 }),
            kind: Type.Union([Type.Literal('static'), Type.Literal('dynamic')]),
            query: Type.Optional(Type.String({ maxLength: 4096 })),
            description: Type.Optional(Type.String({ maxLength: 1024 })),
          },
          { additionalProperties: false },
        ),
        response: { 201: Type.Ref('Group'), ...ErrorResponses },
      },
    },
    async (req, reply) => reply.code(201).send(groupView(await services.groups.create(ctxOf(req), req.body))),
  );

  r.get('/api/v1/groups/:id', { schema: { tags, summary: 'Get a group', params: IdParams, response: { 200: Type.Ref('Group'), ...ErrorResponses } } }, async (req) =>
    groupView(await services.groups.get(ctxOf(req), req.params.id)),
  );

  r.patch(
    '/api/v1/groups/:id',
    {
      schema: {
        tags,
        summary: 'Change a group’s query or description',
        params: IdParams,
        body: Type.Object({ query: Type.Optional(Type.String({ maxLength: 4096 })), description: Type.Optional(Type.String({ maxLength: 1024 })) }, { additionalProperties: false, minProperties: 1 }),
        response: { 200: Type.Ref('Group'), ...ErrorResponses },
      },
    },
    async (req) => groupView(await services.groups.update(ctxOf(req), req.params.id, req.body)),
  );

  r.delete('/api/v1/groups/:id', { schema: { tags, summary: 'Delete a group (its devices stay)', params: IdParams, response: { 204: Type.Null(), ...ErrorResponses } } }, async (req, reply) => {
    await services.groups.delete(ctxOf(req), req.params.id);
    return reply.code(204).send(null);
  });

  r.get(
    '/api/v1/groups/:id/devices',
    {
      schema: { tags, summary: 'Devices of a group', params: IdParams, querystring: Type.Object(PageQuery, { additionalProperties: false }), response: { 200: pageOf(Type.Ref('Device')), ...ErrorResponses } },
    },
    async (req) => {
      const page = await services.groups.devices(ctxOf(req), req.params.id, req.query.cursor, req.query.limit ?? 100);
      return { items: page.items.map(deviceView), nextCursor: page.nextCursor };
    },
  );

  r.post(
    '/api/v1/groups/:id/devices',
    {
      schema: {
        tags,
        summary: 'Add devices to a static group',
        params: IdParams,
        body: Type.Object({ deviceIds: Type.Array(Type.String({ maxLength: 128 }), { minItems: 1, maxItems: 10000 }) }, { additionalProperties: false }),
        response: { 200: Type.Object({ added: Type.Integer() }), ...ErrorResponses },
      },
    },
    async (req) => ({ added: await services.groups.addDevices(ctxOf(req), req.params.id, req.body.deviceIds) }),
  );

  r.delete(
    '/api/v1/groups/:id/devices/:deviceId',
    { schema: { tags, summary: 'Remove a device from a static group', params: Type.Object({ id: Type.String(), deviceId: Type.String() }), response: { 204: Type.Null(), ...ErrorResponses } } },
    async (req, reply) => {
      await services.groups.removeDevice(ctxOf(req), req.params.id, req.params.deviceId);
      return reply.code(204).send(null);
    },
  );
}
