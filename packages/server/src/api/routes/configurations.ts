import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { CONFIGURATION_HELP, Configuration, ConfigurationDevice, ConfigurationDevicesQuery, ConfigurationPatch, NewConfiguration, PageQuery, pageOf } from '@hangar/protocol/rest';
import type { ConfigurationDevice as DeviceRecord, ConfigurationView } from '../../core/configurations/configuration-service.js';
import type { Services } from '../../core/services.js';
import { ctxOf } from '../context.js';
import { ErrorResponses } from '../schemas.js';

const IdParams = Type.Object({ id: Type.String({ maxLength: 128 }) });

function configurationView(c: ConfigurationView): Configuration {
  return {
    id: c.id,
    name: c.name,
    target: c.target,
    content: c.content,
    priority: c.priority,
    labels: c.labels,
    metrics: c.metrics,
    createdAt: new Date(c.createdAt).toISOString(),
    updatedAt: new Date(c.updatedAt).toISOString(),
  };
}

function deviceView(d: DeviceRecord): ConfigurationDevice {
  return { deviceId: d.deviceId, status: d.status, conflicting: d.conflicting, updatedAt: new Date(d.updatedAt).toISOString() };
}

/** Configurations (docs/configurations.md): CRUD, metrics and the devices behind them. */
export function configurationRoutes(app: FastifyInstance, services: Services): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['configurations'];

  r.get(
    '/api/v1/configurations',
    { schema: { operationId: 'listConfigurations', tags, summary: 'List configurations with their metrics', querystring: Type.Object(PageQuery, { additionalProperties: false }), response: { 200: pageOf(Configuration), ...ErrorResponses } } },
    async (req) => {
      const page = await services.configurations.list(ctxOf(req), req.query.cursor, req.query.limit ?? 100);
      return { items: page.items.map(configurationView), nextCursor: page.nextCursor };
    },
  );

  r.post(
    '/api/v1/configurations',
    { schema: { operationId: 'createConfiguration', tags, summary: 'Create a configuration; operator role', description: CONFIGURATION_HELP, body: NewConfiguration, response: { 201: Configuration, ...ErrorResponses } } },
    async (req, reply) => {
      const c = await services.configurations.create(ctxOf(req), req.body);
      return reply.code(201).header('location', `/api/v1/configurations/${encodeURIComponent(c.id)}`).send(configurationView(c));
    },
  );

  r.get('/api/v1/configurations/:id', { schema: { operationId: 'getConfiguration', tags, summary: 'Get a configuration with its metrics', params: IdParams, response: { 200: Configuration, ...ErrorResponses } } }, async (req) =>
    configurationView(await services.configurations.get(ctxOf(req), req.params.id)),
  );

  r.patch(
    '/api/v1/configurations/:id',
    {
      schema: {
        operationId: 'updateConfiguration',
        tags,
        summary: 'Change a configuration’s target, priority or labels (content is immutable); operator role',
        params: IdParams,
        body: ConfigurationPatch,
        response: { 200: Configuration, ...ErrorResponses },
      },
    },
    async (req) => configurationView(await services.configurations.update(ctxOf(req), req.params.id, req.body)),
  );

  r.delete(
    '/api/v1/configurations/:id',
    { schema: { operationId: 'deleteConfiguration', tags, summary: 'Delete a configuration; the properties it set are removed from desired (see the docs)', params: IdParams, response: { 204: Type.Null(), ...ErrorResponses } } },
    async (req, reply) => {
      await services.configurations.delete(ctxOf(req), req.params.id);
      return reply.code(204).send(null);
    },
  );

  r.get(
    '/api/v1/configurations/:id/devices',
    { schema: { operationId: 'listConfigurationDevices', tags, summary: 'The devices a configuration targets, by id; `status` narrows to applied, pending or conflicting', params: IdParams, querystring: ConfigurationDevicesQuery, response: { 200: pageOf(ConfigurationDevice), ...ErrorResponses } } },
    async (req) => {
      const page = await services.configurations.devices(ctxOf(req), req.params.id, { status: req.query.status, cursor: req.query.cursor, limit: req.query.limit ?? 100 });
      return { items: page.items.map(deviceView), nextCursor: page.nextCursor };
    },
  );
}
