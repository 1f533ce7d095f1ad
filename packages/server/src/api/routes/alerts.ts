import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { AlertListQuery, AlertRulePatch, CONDITION_HELP, NewAlertRule, PageQuery, pageOf } from '@hangar/protocol/rest';
import type { Services } from '../../core/services.js';
import { ctxOf } from '../context.js';
import { ErrorResponses } from '../schemas.js';
import { alertRuleView, alertView } from '../views.js';

const IdParams = Type.Object({ id: Type.String({ maxLength: 128 }) });

export function alertRoutes(app: FastifyInstance, services: Services): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const ruleTags = ['alert rules'];
  const alertTags = ['alerts'];

  r.get(
    '/api/v1/alert-rules',
    { schema: { operationId: 'listAlertRules', tags: ruleTags, summary: 'List alert rules', querystring: Type.Object(PageQuery, { additionalProperties: false }), response: { 200: pageOf(Type.Ref('AlertRule')), ...ErrorResponses } } },
    async (req) => {
      const page = await services.alerts.listRules(ctxOf(req), req.query.cursor, req.query.limit ?? 100);
      return { items: page.items.map(alertRuleView), nextCursor: page.nextCursor };
    },
  );

  r.post(
    '/api/v1/alert-rules',
    {
      schema: {
        operationId: 'createAlertRule',
        tags: ruleTags,
        summary: 'Create an alert rule',
        description: CONDITION_HELP,
        body: NewAlertRule,
        response: { 201: Type.Ref('AlertRule'), ...ErrorResponses },
      },
    },
    async (req, reply) => {
      const rule = await services.alerts.createRule(ctxOf(req), req.body);
      return reply.code(201).header('location', `/api/v1/alert-rules/${encodeURIComponent(rule.id)}`).send(alertRuleView(rule));
    },
  );

  r.get('/api/v1/alert-rules/:id', { schema: { operationId: 'getAlertRule', tags: ruleTags, summary: 'Get an alert rule', params: IdParams, response: { 200: Type.Ref('AlertRule'), ...ErrorResponses } } }, async (req) =>
    alertRuleView(await services.alerts.getRule(ctxOf(req), req.params.id)),
  );

  r.patch(
    '/api/v1/alert-rules/:id',
    {
      schema: {
        operationId: 'updateAlertRule',
        tags: ruleTags,
        summary: 'Change an alert rule (disabling it clears its open alerts)',
        params: IdParams,
        body: AlertRulePatch,
        response: { 200: Type.Ref('AlertRule'), ...ErrorResponses },
      },
    },
    async (req) => alertRuleView(await services.alerts.updateRule(ctxOf(req), req.params.id, req.body)),
  );

  r.delete(
    '/api/v1/alert-rules/:id',
    { schema: { operationId: 'deleteAlertRule', tags: ruleTags, summary: 'Delete an alert rule; its open alerts are cleared and kept as history', params: IdParams, response: { 204: Type.Null(), ...ErrorResponses } } },
    async (req, reply) => {
      await services.alerts.deleteRule(ctxOf(req), req.params.id);
      return reply.code(204).send(null);
    },
  );

  r.get(
    '/api/v1/alerts',
    {
      schema: {
        operationId: 'listAlerts',
        tags: alertTags,
        summary: 'List alerts, newest first',
        querystring: AlertListQuery,
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

  r.get('/api/v1/alerts/:id', { schema: { operationId: 'getAlert', tags: alertTags, summary: 'Get an alert', params: IdParams, response: { 200: Type.Ref('Alert'), ...ErrorResponses } } }, async (req) =>
    alertView(await services.alerts.getAlert(ctxOf(req), req.params.id)),
  );

  r.post(
    '/api/v1/alerts/:id/acknowledge',
    { schema: { operationId: 'acknowledgeAlert', tags: alertTags, summary: 'Acknowledge a raised alert', params: IdParams, response: { 200: Type.Ref('Alert'), ...ErrorResponses } } },
    async (req) => alertView(await services.alerts.acknowledge(ctxOf(req), req.params.id)),
  );

  r.post(
    '/api/v1/alerts/:id/clear',
    {
      schema: {
        operationId: 'clearAlert',
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
