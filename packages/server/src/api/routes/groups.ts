import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Services } from '../../core/services.js';
import { ctxOf } from '../context.js';
import { GroupDevicesAdd, GroupDevicesAdded, GroupPatch, NewGroup, PageQuery, pageOf } from '@hangar/protocol/rest';
import { ErrorResponses } from '../schemas.js';
import { deviceView, groupView } from '../views.js';

const IdParams = Type.Object({ id: Type.String({ maxLength: 256 }) });

export function groupRoutes(app: FastifyInstance, services: Services): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['groups'];

  r.get(
    '/api/v1/groups',
    {
      schema: {
        operationId: 'listGroups',
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
        operationId: 'createGroup',
        tags,
        summary: 'Create a static group or a dynamic group (a fleet query)',
        body: NewGroup,
        response: { 201: Type.Ref('Group'), ...ErrorResponses },
      },
    },
    async (req, reply) => reply.code(201).send(groupView(await services.groups.create(ctxOf(req), req.body))),
  );

  r.get('/api/v1/groups/:id', { schema: { operationId: 'getGroup', tags, summary: 'Get a group', params: IdParams, response: { 200: Type.Ref('Group'), ...ErrorResponses } } }, async (req) =>
    groupView(await services.groups.get(ctxOf(req), req.params.id)),
  );

  r.patch(
    '/api/v1/groups/:id',
    {
      schema: {
        operationId: 'updateGroup',
        tags,
        summary: 'Change a group’s query or description',
        params: IdParams,
        body: GroupPatch,
        response: { 200: Type.Ref('Group'), ...ErrorResponses },
      },
    },
    async (req) => groupView(await services.groups.update(ctxOf(req), req.params.id, req.body)),
  );

  r.delete('/api/v1/groups/:id', { schema: { operationId: 'deleteGroup', tags, summary: 'Delete a group (its devices stay)', params: IdParams, response: { 204: Type.Null(), ...ErrorResponses } } }, async (req, reply) => {
    await services.groups.delete(ctxOf(req), req.params.id);
    return reply.code(204).send(null);
  });

  r.get(
    '/api/v1/groups/:id/devices',
    {
      schema: { operationId: 'listGroupDevices', tags, summary: 'Devices of a group', params: IdParams, querystring: Type.Object(PageQuery, { additionalProperties: false }), response: { 200: pageOf(Type.Ref('Device')), ...ErrorResponses } },
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
        operationId: 'addGroupDevices',
        tags,
        summary: 'Add devices to a static group',
        params: IdParams,
        body: GroupDevicesAdd,
        response: { 200: GroupDevicesAdded, ...ErrorResponses },
      },
    },
    async (req) => ({ added: await services.groups.addDevices(ctxOf(req), req.params.id, req.body.deviceIds) }),
  );

  r.delete(
    '/api/v1/groups/:id/devices/:deviceId',
    { schema: { operationId: 'removeGroupDevice', tags, summary: 'Remove a device from a static group', params: Type.Object({ id: Type.String(), deviceId: Type.String() }), response: { 204: Type.Null(), ...ErrorResponses } } },
    async (req, reply) => {
      await services.groups.removeDevice(ctxOf(req), req.params.id, req.params.deviceId);
      return reply.code(204).send(null);
    },
  );
}
