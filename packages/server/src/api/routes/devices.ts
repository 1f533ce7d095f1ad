import type { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Services } from '../../core/services.js';
import { HangarError } from '../../errors.js';
import { ctxOf } from '../context.js';
import { DevicePatch, ImportResult, NewDevice, PageQuery, pageOf } from '@hangar/protocol/rest';
import { ErrorResponses } from '../schemas.js';
import { deviceView } from '../views.js';

const IdParams = Type.Object({ id: Type.String({ maxLength: 256 }) });

export function deviceRoutes(app: FastifyInstance, services: Services): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get(
    '/api/v1/devices',
    {
      schema: {
        operationId: 'listDevices',
        tags: ['devices'],
        summary: 'List devices, optionally filtered by a fleet query',
        querystring: Type.Object({ q: Type.Optional(Type.String({ maxLength: 4096 })), ...PageQuery }, { additionalProperties: false }),
        response: { 200: pageOf(Type.Ref('Device')), ...ErrorResponses },
      },
    },
    async (req) => {
      const page = await services.devices.list(ctxOf(req), { q: req.query.q, cursor: req.query.cursor, limit: req.query.limit ?? 100 });
      return { items: page.items.map(deviceView), nextCursor: page.nextCursor };
    },
  );

  r.post(
    '/api/v1/devices',
    {
      schema: {
        operationId: 'createDevice',
        tags: ['devices'],
        summary: 'Create a device',
        body: NewDevice,
        response: { 201: Type.Ref('Device'), ...ErrorResponses },
      },
    },
    async (req, reply) => {
      const device = await services.devices.create(ctxOf(req), req.body);
      return reply.code(201).header('location', `/api/v1/devices/${encodeURIComponent(device.id)}`).send(deviceView(device));
    },
  );

  r.get(
    '/api/v1/devices/:id',
    { schema: { operationId: 'getDevice', tags: ['devices'], summary: 'Get a device', params: IdParams, response: { 200: Type.Ref('Device'), ...ErrorResponses } } },
    async (req) => deviceView(await services.devices.get(ctxOf(req), req.params.id)),
  );

  r.patch(
    '/api/v1/devices/:id',
    {
      schema: {
        operationId: 'updateDevice',
        tags: ['devices'],
        summary: 'Update a device (tags and attributes are JSON merge patches: null removes a key)',
        params: IdParams,
        body: DevicePatch,
        response: { 200: Type.Ref('Device'), ...ErrorResponses },
      },
    },
    async (req) => deviceView(await services.devices.update(ctxOf(req), req.params.id, req.body)),
  );

  r.delete(
    '/api/v1/devices/:id',
    { schema: { operationId: 'deleteDevice', tags: ['devices'], summary: 'Delete a device and its data (the audit log keeps its history)', params: IdParams, response: { 204: Type.Null(), ...ErrorResponses } } },
    async (req, reply) => {
      await services.devices.delete(ctxOf(req), req.params.id);
      return reply.code(204).send(null);
    },
  );

  r.post(
    '/api/v1/devices/import',
    {
      schema: {
        operationId: 'importDevices',
        tags: ['devices'],
        summary: 'Bulk import from a streamed CSV (header: id, type, tags.K, attributes.K) or NDJSON body',
        description: 'Rows are committed in batches of 1,000. Re-running an import is safe: existing devices are updated to the row, identical rows are counted as unchanged.',
        response: { 200: ImportResult, ...ErrorResponses },
      },
    },
    async (req) => {
      const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      const format = type === 'text/csv' ? 'csv' : type === 'application/x-ndjson' || type === 'application/jsonl' ? 'ndjson' : undefined;
      if (!format) throw new HangarError('UNSUPPORTED_MEDIA_TYPE', 'send the import as text/csv or application/x-ndjson');
      return services.imports.import(ctxOf(req), req.body as Readable, format);
    },
  );
}
