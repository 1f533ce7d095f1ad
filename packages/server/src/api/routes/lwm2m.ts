import type { FastifyInstance, FastifyReply } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import {
  Lwm2mBootstrapConfig,
  Lwm2mBootstrapConfigInput,
  Lwm2mDeviceView,
  Lwm2mObjectModelView,
  Lwm2mOperationResult,
  Lwm2mQueuedRequest,
  Lwm2mQueuedResult,
} from '@hangar/protocol/rest';
import { parsePath, Lwm2mCodecError, type Lwm2mPath } from '@hangar/protocol/lwm2m';
import { HangarError } from '../../errors.js';
import type { Lwm2mServices } from '../../core/lwm2m/lwm2m-services.js';
import type { OperationResult } from '../../core/lwm2m/device-management.js';
import type { BootstrapConfig, Lwm2mRegistration, Lwm2mResponse } from '../../core/lwm2m/ports.js';
import { valuesToJson } from '../../core/lwm2m/json-values.js';
import { ctxOf } from '../context.js';
import { ErrorResponses } from '../schemas.js';

/** Content-format names REST callers may ask for (`?format=` or `"format"`). */
const FORMATS: Readonly<Record<string, number>> = { text: 0, opaque: 42, cbor: 60, 'senml-json': 110, 'senml-cbor': 112, tlv: 11542, 'lwm2m-json': 11543 };
const ACTIONS = new Set(['observe', 'discover', 'attributes']);
const MAX_DDF_BYTES = 512 * 1024;

const DeviceParams = Type.Object({ id: Type.String({ maxLength: 256 }) });
const WildParams = Type.Object({ id: Type.String({ maxLength: 256 }), '*': Type.String({ maxLength: 256 }) });
const Answers = { 200: Lwm2mOperationResult, 202: Lwm2mQueuedResult, ...ErrorResponses, 422: Type.Ref('Problem'), 502: Type.Ref('Problem'), 504: Type.Ref('Problem') };
const tags = ['lwm2m'];

/** What the wildcard after `/lwm2m/` names: a path and an action, a composite, or a held request. */
type Target = { kind: 'path'; path: Lwm2mPath; depth: number; action?: string } | { kind: 'composite'; observe: boolean } | { kind: 'request'; requestId: string };

function target(rest: string): Target {
  const segments = rest.split('/').filter((s) => s !== '');
  if (segments[0] === 'requests' && segments.length === 2) return { kind: 'request', requestId: segments[1]! };
  if (segments[0] === 'composite' && segments.length <= 2 && (segments.length === 1 || segments[1] === 'observe')) return { kind: 'composite', observe: segments.length === 2 };
  const action = segments.length > 0 && ACTIONS.has(segments[segments.length - 1]!) ? segments.pop() : undefined;
  if (segments.length === 0 || segments.length > 4) throw new HangarError('NOT_FOUND', `no LwM2M resource "/${rest.slice(0, 64)}": use /{object}/{instance}/{resource}[/observe|/discover|/attributes], /composite or /requests/{id}`);
  let path: Lwm2mPath;
  try {
    path = parsePath(`/${segments.join('/')}`);
  } catch (err) {
    if (err instanceof Lwm2mCodecError) throw new HangarError('VALIDATION_FAILED', `bad LwM2M path: ${err.message}`);
    throw err;
  }
  return { kind: 'path', path, depth: segments.length, ...(action !== undefined ? { action } : {}) };
}

function formatOf(name: unknown): number | undefined {
  if (name === undefined) return undefined;
  const f = typeof name === 'string' ? FORMATS[name] : undefined;
  if (f === undefined) throw new HangarError('VALIDATION_FAILED', `format must be one of ${Object.keys(FORMATS).join(', ')}`);
  return f;
}

function objectBody(body: unknown): Record<string, unknown> {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw new HangarError('VALIDATION_FAILED', 'the body must be a JSON object');
  return body as Record<string, unknown>;
}

function pathsOf(list: unknown): Lwm2mPath[] {
  if (!Array.isArray(list) || list.length === 0 || list.length > 64) throw new HangarError('VALIDATION_FAILED', 'paths must list 1–64 LwM2M paths');
  return list.map((p, i) => {
    if (typeof p !== 'string') throw new HangarError('VALIDATION_FAILED', `paths/${i} must be a string such as "/3/0/9"`);
    try {
      return parsePath(p);
    } catch (err) {
      if (err instanceof Lwm2mCodecError) throw new HangarError('VALIDATION_FAILED', `paths/${i}: ${err.message}`);
      throw err;
    }
  });
}

/** 200 with the device's answer, 202 when held for a sleeping device; a device error code is 422 (LWM2M_DEVICE_REFUSED). */
function answer(reply: FastifyReply, result: OperationResult): FastifyReply {
  if (result.status === 'queued') return reply.code(202).send(result);
  const r = result.response;
  if (!r.success) throw new HangarError('LWM2M_DEVICE_REFUSED', `the device answered ${r.code}${r.diagnostic ? `: ${r.diagnostic}` : ''}`, { deviceCode: r.code, ...(r.diagnostic !== undefined ? { diagnostic: r.diagnostic } : {}) });
  return reply.code(200).send({
    status: 'completed',
    code: r.code,
    ...(r.values ? { values: valuesToJson(r.values) } : {}),
    ...(r.links ? { links: r.links } : {}),
    ...(r.location !== undefined ? { location: r.location } : {}),
  });
}

/** A device's answer as JSON (values typed for the wire: bigint, Buffer and object links made JSON). */
function responseJson(r: Lwm2mResponse): Record<string, unknown> {
  return {
    code: r.code,
    success: r.success,
    ...(r.values ? { values: valuesToJson(r.values) } : {}),
    ...(r.links ? { links: r.links } : {}),
    ...(r.location !== undefined ? { location: r.location } : {}),
    ...(r.diagnostic !== undefined ? { diagnostic: r.diagnostic } : {}),
  };
}

function registrationView(r: Lwm2mRegistration): Record<string, unknown> {
  return {
    registrationId: r.id,
    endpoint: r.deviceId,
    lifetime: r.lifetimeSec,
    lwm2mVersion: r.lwm2mVersion,
    binding: r.binding,
    queueMode: r.queueMode,
    sms: r.smsNumber,
    rootPath: r.rootPath,
    contentFormats: r.contentFormats,
    address: r.contact.address,
    port: r.contact.port,
    secure: r.contact.secure,
    registeredAt: r.registeredAt,
    updatedAt: r.updatedAt,
    expiresAt: r.expiresAt,
  };
}

function configView(c: BootstrapConfig): Omit<BootstrapConfig, 'tenantId'> {
  const { tenantId: _tenant, ...view } = c;
  return view;
}

/**
 * LwM2M device management, object models and bootstrap configurations (docs/lwm2m.md, "REST").
 * Operations answer 200 with the device's answer, 202 with a request id when a queue-mode device
 * sleeps, 409 LWM2M_NOT_REGISTERED when the device has no registration, 504
 * LWM2M_DEVICE_UNREACHABLE when it did not answer, 422 LWM2M_DEVICE_REFUSED with its code.
 */
export function lwm2mRoutes(app: FastifyInstance, lwm2m: Lwm2mServices): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const m = lwm2m.management;

  r.get(
    '/api/v1/devices/:id/lwm2m',
    { schema: { operationId: 'getDeviceLwm2m', tags, summary: 'The device’s LwM2M registration and object tree (names from the registry); viewer role', params: DeviceParams, response: { 200: Lwm2mDeviceView, ...ErrorResponses } } },
    async (req) => {
      const view = await m.describe(ctxOf(req), req.params.id);
      return { registered: view.registration !== undefined, registration: view.registration ? registrationView(view.registration) : null, objects: view.objects, observations: view.observations, pending: view.pending };
    },
  );

  r.get(
    '/api/v1/devices/:id/lwm2m/*',
    {
      schema: {
        operationId: 'readDeviceLwm2m',
        tags,
        summary: 'Read (…/{object}[/{instance}[/{resource}]]), Discover (…/discover), Read-Composite (…/composite?paths=/3/0/9,/3303/0), or a held request (…/requests/{id}); viewer role',
        params: WildParams,
        querystring: Type.Object({ format: Type.Optional(Type.String({ maxLength: 16 })), paths: Type.Optional(Type.String({ maxLength: 4096 })) }, { additionalProperties: false }),
        response: { ...Answers, 200: Type.Union([Lwm2mOperationResult, Lwm2mQueuedRequest]) },
      },
    },
    async (req, reply) => {
      const ctx = ctxOf(req);
      const t = target(req.params['*']);
      const format = formatOf(req.query.format);
      if (t.kind === 'request') {
        const { response, ...view } = m.requestStatus(ctx, req.params.id, t.requestId);
        return reply.send(response ? { ...view, response: responseJson(response) } : view);
      }
      if (t.kind === 'composite') {
        if (t.observe) throw new HangarError('METHOD_NOT_ALLOWED', 'start a composite observation with POST …/composite/observe');
        return answer(reply, await m.perform(ctx, req.params.id, { op: 'read-composite', paths: pathsOf((req.query.paths ?? '').split(',').filter((p) => p !== '')), ...(format !== undefined ? { format } : {}) }));
      }
      if (t.action === 'discover') return answer(reply, await m.perform(ctx, req.params.id, { op: 'discover', path: t.path }));
      if (t.action !== undefined) throw new HangarError('METHOD_NOT_ALLOWED', `GET does not go with …/${t.action}`);
      return answer(reply, await m.perform(ctx, req.params.id, { op: 'read', path: t.path, ...(format !== undefined ? { format } : {}) }));
    },
  );

  r.put(
    '/api/v1/devices/:id/lwm2m/*',
    {
      schema: {
        operationId: 'writeDeviceLwm2m',
        tags,
        summary: 'Write-Replace on an instance ({"values": {...}}) or a resource ({"value": v}); Write-Attributes on …/attributes ({"pmin": 10, "gt": null}); operator role',
        params: WildParams,
        body: Type.Unknown(),
        response: Answers,
      },
    },
    async (req, reply) => {
      const ctx = ctxOf(req);
      const t = target(req.params['*']);
      if (t.kind !== 'path') throw new HangarError('METHOD_NOT_ALLOWED', 'PUT goes to an instance, a resource or …/attributes');
      const body = objectBody(req.body);
      if (t.action === 'attributes') return answer(reply, await m.perform(ctx, req.params.id, { op: 'write-attributes', path: t.path, attributes: attributesOf(body) }));
      if (t.action !== undefined || t.depth < 2) throw new HangarError('METHOD_NOT_ALLOWED', 'Write-Replace goes to an instance or a resource');
      return answer(reply, await m.write(ctx, req.params.id, t.path, 'replace', t.depth >= 3 ? body.value : body.values, formatOf(body.format)));
    },
  );

  r.post(
    '/api/v1/devices/:id/lwm2m/*',
    {
      schema: {
        operationId: 'postDeviceLwm2m',
        tags,
        summary: 'On an object: Create ({"instanceId"?: n, "values": {...}}); on an instance: Write-Partial-Update; on a resource: Execute ({"args"?: "…"}); …/observe or …/composite/observe ({"paths": […]}): start observing; operator role',
        params: WildParams,
        body: Type.Unknown(),
        response: Answers,
      },
    },
    async (req, reply) => {
      const ctx = ctxOf(req);
      const t = target(req.params['*']);
      const body = objectBody(req.body);
      if (t.kind === 'request') throw new HangarError('METHOD_NOT_ALLOWED', 'held requests are read with GET');
      if (t.kind === 'composite') {
        if (!t.observe) return answer(reply, await m.perform(ctx, req.params.id, { op: 'read-composite', paths: pathsOf(body.paths) }));
        return answer(reply, { status: 'completed', response: await m.observe(ctx, req.params.id, { op: 'observe-composite', paths: pathsOf(body.paths) }) });
      }
      if (t.action === 'observe') return answer(reply, { status: 'completed', response: await m.observe(ctx, req.params.id, { op: 'observe', path: t.path }) });
      if (t.action !== undefined) throw new HangarError('METHOD_NOT_ALLOWED', `POST does not go with …/${t.action}`);
      if (t.depth === 1) {
        const instanceId = body.instanceId;
        if (instanceId !== undefined && (typeof instanceId !== 'number' || !Number.isInteger(instanceId) || instanceId < 0 || instanceId > 65534)) throw new HangarError('VALIDATION_FAILED', 'instanceId must be 0–65534');
        return answer(reply, await m.create(ctx, req.params.id, t.path.objectId!, instanceId as number | undefined, body.values));
      }
      if (t.depth === 2) return answer(reply, await m.write(ctx, req.params.id, t.path, 'partial', body.values, formatOf(body.format)));
      if (t.depth === 3) {
        if (body.args !== undefined && (typeof body.args !== 'string' || body.args.length > 1024)) throw new HangarError('VALIDATION_FAILED', 'args must be a string of at most 1024 characters');
        return answer(reply, await m.perform(ctx, req.params.id, { op: 'execute', path: t.path, ...(typeof body.args === 'string' && body.args !== '' ? { args: body.args } : {}) }));
      }
      throw new HangarError('METHOD_NOT_ALLOWED', 'POST does not go to a resource instance');
    },
  );

  r.delete(
    '/api/v1/devices/:id/lwm2m/*',
    {
      schema: {
        operationId: 'deleteDeviceLwm2m',
        tags,
        summary: 'Delete an object instance, or cancel an observation (…/observe; …/composite/observe?paths=…); operator role',
        params: WildParams,
        querystring: Type.Object({ paths: Type.Optional(Type.String({ maxLength: 4096 })) }, { additionalProperties: false }),
        response: { ...Answers, 204: Type.Null() },
      },
    },
    async (req, reply) => {
      const ctx = ctxOf(req);
      const t = target(req.params['*']);
      if (t.kind === 'request') throw new HangarError('METHOD_NOT_ALLOWED', 'held requests cannot be withdrawn');
      const cancel = async (paths: Lwm2mPath[]): Promise<FastifyReply> => {
        if (!(await m.cancelObservation(ctx, req.params.id, paths))) throw new HangarError('NOT_FOUND', 'no such observation');
        return reply.code(204).send(null);
      };
      if (t.kind === 'composite') return cancel(pathsOf((req.query.paths ?? '').split(',').filter((p) => p !== '')));
      if (t.action === 'observe') return cancel([t.path]);
      if (t.action !== undefined || t.depth !== 2) throw new HangarError('METHOD_NOT_ALLOWED', 'Delete goes to an object instance');
      return answer(reply, await m.perform(ctx, req.params.id, { op: 'delete', path: t.path }));
    },
  );

  // --- object models ---
  r.get(
    '/api/v1/lwm2m/objects',
    { schema: { operationId: 'listLwm2mObjects', tags, summary: 'The tenant’s object registry: built-in OMA/IPSO models and uploaded DDF files; viewer role', response: { 200: Type.Object({ items: Type.Array(Lwm2mObjectModelView) }), ...ErrorResponses } } },
    async (req) => ({
      items: (await lwm2m.models.list(ctxOf(req))).map(({ model, source }) => ({
        id: model.id,
        name: model.name,
        version: model.version,
        multiple: model.multiple,
        mandatory: model.mandatory,
        source,
        ...(model.description !== undefined ? { description: model.description } : {}),
        resources: model.resources.map((res) => ({ id: res.id, name: res.name, operations: res.operations, type: res.type, multiple: res.multiple, mandatory: res.mandatory, ...(res.units ? { units: res.units } : {}) })),
      })),
    }),
  );

  void app.register(async (scope) => {
    scope.addContentTypeParser(['application/xml', 'text/xml'], { parseAs: 'string', bodyLimit: MAX_DDF_BYTES }, (_req, body, done) => done(null, body));
    scope.withTypeProvider<TypeBoxTypeProvider>().post(
      '/api/v1/lwm2m/objects',
      {
        bodyLimit: MAX_DDF_BYTES,
        schema: {
          operationId: 'uploadLwm2mObject',
          tags,
          summary: 'Upload an OMA DDF XML file (application/xml); its objects join the tenant’s registry; operator role',
          consumes: ['application/xml', 'text/xml'],
          response: { 201: Type.Object({ items: Type.Array(Type.Object({ id: Type.Integer(), name: Type.String(), version: Type.String() })) }), ...ErrorResponses },
        },
      },
      async (req, reply) => {
        if (typeof req.body !== 'string') throw new HangarError('UNSUPPORTED_MEDIA_TYPE', 'send the DDF file as application/xml');
        const models = await lwm2m.models.upload(ctxOf(req), req.body);
        return reply.code(201).send({ items: models.map((mo) => ({ id: mo.id, name: mo.name, version: mo.version })) });
      },
    );
  });

  r.delete(
    '/api/v1/lwm2m/objects/:objectId/:version',
    { schema: { operationId: 'deleteLwm2mObject', tags, summary: 'Remove an uploaded object model; operator role', params: Type.Object({ objectId: Type.Integer({ minimum: 0, maximum: 65535 }), version: Type.String({ maxLength: 16 }) }), response: { 204: Type.Null(), ...ErrorResponses } } },
    async (req, reply) => {
      await lwm2m.models.remove(ctxOf(req), req.params.objectId, req.params.version);
      return reply.code(204).send(null);
    },
  );

  // --- bootstrap configurations ---
  const ConfigParams = Type.Object({ configId: Type.String({ maxLength: 64 }) });
  r.get('/api/v1/lwm2m/bootstrap-configs', { schema: { operationId: 'listLwm2mBootstrapConfigs', tags, summary: 'Bootstrap configurations; viewer role', response: { 200: Type.Object({ items: Type.Array(Lwm2mBootstrapConfig) }), ...ErrorResponses } } }, async (req) => ({
    items: (await lwm2m.bootstrap.list(ctxOf(req))).map(configView),
  }));
  r.post(
    '/api/v1/lwm2m/bootstrap-configs',
    { schema: { operationId: 'createLwm2mBootstrapConfig', tags, summary: 'A bootstrap configuration for one device or one enrollment group; operator role', body: Lwm2mBootstrapConfigInput, response: { 201: Lwm2mBootstrapConfig, ...ErrorResponses } } },
    async (req, reply) => reply.code(201).send(configView(await lwm2m.bootstrap.create(ctxOf(req), req.body))),
  );
  r.get('/api/v1/lwm2m/bootstrap-configs/:configId', { schema: { operationId: 'getLwm2mBootstrapConfig', tags, params: ConfigParams, response: { 200: Lwm2mBootstrapConfig, ...ErrorResponses } } }, async (req) => configView(await lwm2m.bootstrap.get(ctxOf(req), req.params.configId)));
  r.put(
    '/api/v1/lwm2m/bootstrap-configs/:configId',
    { schema: { operationId: 'replaceLwm2mBootstrapConfig', tags, summary: 'Replace the servers of a configuration (its device or group stays); operator role', params: ConfigParams, body: Type.Omit(Lwm2mBootstrapConfigInput, ['deviceId', 'enrollmentGroupId']), response: { 200: Lwm2mBootstrapConfig, ...ErrorResponses } } },
    async (req) => configView(await lwm2m.bootstrap.replace(ctxOf(req), req.params.configId, req.body)),
  );
  r.delete('/api/v1/lwm2m/bootstrap-configs/:configId', { schema: { operationId: 'deleteLwm2mBootstrapConfig', tags, params: ConfigParams, response: { 204: Type.Null(), ...ErrorResponses } } }, async (req, reply) => {
    await lwm2m.bootstrap.remove(ctxOf(req), req.params.configId);
    return reply.code(204).send(null);
  });
}

function attributesOf(body: Record<string, unknown>): Record<string, number | null> {
  const allowed = new Set(['pmin', 'pmax', 'gt', 'lt', 'st', 'epmin', 'epmax', 'edge', 'con', 'hqmax']);
  const out: Record<string, number | null> = {};
  for (const [k, v] of Object.entries(body)) {
    if (!allowed.has(k)) throw new HangarError('VALIDATION_FAILED', `attribute "${k.slice(0, 16)}" is not one of ${[...allowed].join(', ')}`);
    if (v !== null && (typeof v !== 'number' || !Number.isFinite(v) || v < 0 && !['gt', 'lt'].includes(k))) throw new HangarError('VALIDATION_FAILED', `attribute ${k} must be a number (or null to remove it)`);
    out[k] = v as number | null;
  }
  if (Object.keys(out).length === 0) throw new HangarError('VALIDATION_FAILED', 'give at least one attribute');
  return out;
}
