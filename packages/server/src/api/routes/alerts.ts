import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type, type TSchema } from 'typebox';
import type { Services } from '../../core/services.js';
import type { AlertRuleView } from '../../core/alerts/alert-service.js';
import type { Alert } from '../../core/alerts/ports.js';
import { ctxOf } from '../context.js';
import { ErrorResponses, IsoTime, PageQuery, pageOf } from '../schemas.js';

const Nullable = (t: TSchema): TSchema => Type.Union([t, Type.Null()]);
const Severity = Type.Union([Type.Literal('critical'), Type.Literal('major'), Type.Literal('minor'), Type.Literal('warning'), Type.Literal('info')]);
const AlertStateSchema = Type.Union([Type.Literal('raised'), Type.Literal('acknowledged'), Type.Literal('cleared')]);
const IdParams = Type.Object({ id: Type.String({ maxLength: 128 }) });

const CONDITION_HELP =
  'Fleet query over one device, optionally held: `telemetry.temp > 80 for 5m`, `telemetry.temp > 80 AND tags.site = "berlin"`, ' +
  '`status = "suspended"`; or presence: `offline for 10m`. Durations: whole s, m, h or d, 1s to 7d.';

export const AlertRuleSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    description: Type.String(),
    severity: Severity,
    enabled: Type.Boolean(),
    target: Nullable(Type.String({ description: 'fleet query selecting the devices watched; null: all' })),
    condition: Type.String({ description: CONDITION_HELP }),
    kind: Type.Union([Type.Literal('telemetry'), Type.Literal('presence'), Type.Literal('device')]),
    forSeconds: Nullable(Type.Number({ description: 'the condition’s duration (`for …`, or `offline for …`)' })),
    createdAt: IsoTime,
    updatedAt: IsoTime,
  },
  { $id: 'AlertRule' },
);

export const AlertSchema = Type.Object(
  {
    id: Type.String(),
    ruleId: Type.String(),
    ruleName: Type.String(),
    deviceId: Type.String(),
    severity: Severity,
    state: AlertStateSchema,
    message: Type.String(),
    details: Type.Record(Type.String(), Type.Unknown(), { description: 'the condition and the values that triggered the alert' }),
    count: Type.Integer({ description: 'triggers while open: 1 when raised, +1 per new device data that still met the condition' }),
    raisedAt: IsoTime,
    lastTriggeredAt: IsoTime,
    lastEvaluatedAt: IsoTime,
    acknowledgedAt: Nullable(IsoTime),
    acknowledgedBy: Nullable(Type.String()),
    clearedAt: Nullable(IsoTime),
    clearedBy: Nullable(Type.String({ description: '"system" when the condition stopped holding' })),
    clearedReason: Nullable(
      Type.Union(['operator', 'condition', 'rule_deleted', 'rule_disabled', 'device_deleted', 'device_decommissioned'].map((s) => Type.Literal(s))),
    ),
  },
  { $id: 'Alert' },
);

const iso = (ms: number): string => new Date(ms).toISOString();
const isoOrNull = (ms: number | null): string | null => (ms === null ? null : iso(ms));

export function alertRuleView(r: AlertRuleView): Record<string, unknown> {
  return {
    id: r.id,
    name: r.name,
    description: r.description,
    severity: r.severity,
    enabled: r.enabled,
    target: r.target,
    condition: r.condition,
    kind: r.kind,
    forSeconds: r.forSeconds,
    createdAt: iso(r.createdAt),
    updatedAt: iso(r.updatedAt),
  };
}

export function alertView(a: Alert): Record<string, unknown> {
  return {
    id: a.id,
    ruleId: a.ruleId,
    ruleName: a.ruleName,
    deviceId: a.deviceId,
    severity: a.severity,
    state: a.state,
    message: a.message,
    details: a.details,
    count: a.count,
    raisedAt: iso(a.raisedAt),
    lastTriggeredAt: iso(a.lastTriggeredAt),
    lastEvaluatedAt: iso(a.lastEvaluatedAt),
    acknowledgedAt: isoOrNull(a.acknowledgedAt),
    acknowledgedBy: a.acknowledgedBy,
    clearedAt: isoOrNull(a.clearedAt),
    clearedBy: a.clearedBy,
    clearedReason: a.clearedReason,
  };
}

export function alertRoutes(app: FastifyInstance, services: Services): void {
  app.addSchema(AlertRuleSchema);
  app.addSchema(AlertSchema);
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const ruleTags = ['alert rules'];
  const alertTags = ['alerts'];

  const ruleFields = {
    name: Type.String({ minLength: 1, maxLength: 128 }),
    description: Type.String({ maxLength: 1024 }),
    severity: Severity,
    enabled: Type.Boolean(),
    target: Type.Union([Type.String({ maxLength: 4096 }), Type.Null()]),
    condition: Type.String({ minLength: 1, maxLength: 4096, description: CONDITION_HELP }),
  };

  r.get(
    '/api/v1/alert-rules',
    { schema: { tags: ruleTags, summary: 'List alert rules', querystring: Type.Object(PageQuery, { additionalProperties: false }), response: { 200: pageOf(Type.Ref('AlertRule')), ...ErrorResponses } } },
    async (req) => {
      const page = await services.alerts.listRules(ctxOf(req), req.query.cursor, req.query.limit ?? 100);
      return { items: page.items.map(alertRuleView), nextCursor: page.nextCursor };
    },
  );

  r.post(
    '/api/v1/alert-rules',
    {
      schema: {
        tags: ruleTags,
        summary: 'Create an alert rule',
        description: CONDITION_HELP,
        body: Type.Object(
          { name: ruleFields.name, description: Type.Optional(ruleFields.description), severity: ruleFields.severity, enabled: Type.Optional(ruleFields.enabled), target: Type.Optional(ruleFields.target), condition: ruleFields.condition },
          { additionalProperties: false },
        ),
        response: { 201: Type.Ref('AlertRule'), ...ErrorResponses },
      },
    },
    async (req, reply) => {
      const rule = await services.alerts.createRule(ctxOf(req), req.body);
      return reply.code(201).header('location', `/api/v1/alert-rules/${encodeURIComponent(rule.id)}`).send(alertRuleView(rule));
    },
  );

  r.get('/api/v1/alert-rules/:id', { schema: { tags: ruleTags, summary: 'Get an alert rule', params: IdParams, response: { 200: Type.Ref('AlertRule'), ...ErrorResponses } } }, async (req) =>
    alertRuleView(await services.alerts.getRule(ctxOf(req), req.params.id)),
  );

  r.patch(
    '/api/v1/alert-rules/:id',
    {
      schema: {
        tags: ruleTags,
        summary: 'Change an alert rule (disabling it clears its open alerts)',
        params: IdParams,
        body: Type.Object(
          {
            name: Type.Optional(ruleFields.name),
            description: Type.Optional(ruleFields.description),
            severity: Type.Optional(ruleFields.severity),
            enabled: Type.Optional(ruleFields.enabled),
            target: Type.Optional(ruleFields.target),
            condition: Type.Optional(ruleFields.condition),
          },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: Type.Ref('AlertRule'), ...ErrorResponses },
      },
    },
    async (req) => alertRuleView(await services.alerts.updateRule(ctxOf(req), req.params.id, req.body)),
  );

  r.delete(
    '/api/v1/alert-rules/:id',
    { schema: { tags: ruleTags, summary: 'Delete an alert rule; its open alerts are cleared and kept as history', params: IdParams, response: { 204: Type.Null(), ...ErrorResponses } } },
    async (req, reply) => {
      await services.alerts.deleteRule(ctxOf(req), req.params.id);
      return reply.code(204).send(null);
    },
  );

  r.get(
    '/api/v1/alerts',
    {
      schema: {
        tags: alertTags,
        summary: 'List alerts, newest first',
        querystring: Type.Object(
          {
            state: Type.Optional(AlertStateSchema),
            severity: Type.Optional(Severity),
            device: Type.Optional(Type.String({ maxLength: 128 })),
            ruleId: Type.Optional(Type.String({ maxLength: 128 })),
            ...PageQuery,
          },
          { additionalProperties: false },
        ),
        response: { 200: pageOf(Type.Ref('Alert')), ...ErrorResponses },
      },
    },
    async (req) => {
      const q = req.query;
      const page = await services.alerts.listAlerts(ctxOf(req), {
        state: q.state,
        severity: q.severity,
        deviceId: q.device,
        ruleId: q.ruleId,
        cursor: q.cursor,
        limit: q.limit ?? 100,
      });
      return { items: page.items.map(alertView), nextCursor: page.nextCursor };
    },
  );

  r.get('/api/v1/alerts/:id', { schema: { tags: alertTags, summary: 'Get an alert', params: IdParams, response: { 200: Type.Ref('Alert'), ...ErrorResponses } } }, async (req) =>
    alertView(await services.alerts.getAlert(ctxOf(req), req.params.id)),
  );

  r.post(
    '/api/v1/alerts/:id/acknowledge',
    { schema: { tags: alertTags, summary: 'Acknowledge a raised alert', params: IdParams, response: { 200: Type.Ref('Alert'), ...ErrorResponses } } },
    async (req) => alertView(await services.alerts.acknowledge(ctxOf(req), req.params.id)),
  );

  r.post(
    '/api/v1/alerts/:id/clear',
    {
      schema: {
        tags: alertTags,
        summary: 'Clear a raised or acknowledged alert',
        description: 'If the condition still holds, the next evaluation raises a new alert.',
        params: IdParams,
        response: { 200: Type.Ref('Alert'), ...ErrorResponses },
      },
    },
    async (req) => alertView(await services.alerts.clear(ctxOf(req), req.params.id)),
  );
}
