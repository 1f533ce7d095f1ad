import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { NewWebhook, PageQuery, WebhookDeliveryQuery, WebhookPatch, pageOf } from '@hangar/protocol/rest';
import type { Services } from '../../core/services.js';
import { HangarError } from '../../errors.js';
import { ctxOf } from '../context.js';
import { ErrorResponses } from '../schemas.js';
import { deliveryView, webhookView } from '../views.js';

const IdParams = Type.Object({ id: Type.String({ maxLength: 128 }) });
const DeliveryParams = Type.Object({ id: Type.String({ maxLength: 128 }), deliveryId: Type.String({ maxLength: 128 }) });
/** The optional body of rotate-secret: absent (generate one) or `{secret}`. A schema cannot say "no body or this object". */
function givenSecret(body: unknown): string | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'object' && !Array.isArray(body)) {
    const extra = Object.keys(body).filter((k) => k !== 'secret');
    if (extra.length > 0) throw new HangarError('VALIDATION_FAILED', `body: unknown field "${extra[0]!.slice(0, 40)}"`);
    const secret = (body as { secret?: unknown }).secret;
    if (secret === undefined || typeof secret === 'string') return secret;
  }
  throw new HangarError('VALIDATION_FAILED', 'body must be absent or {"secret": "<16–256 characters>"}');
}

/** `/api/v1/webhooks`: subscriptions, secrets, delivery history and retries. */
export function webhookRoutes(app: FastifyInstance, services: Services): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['webhooks'];

  r.get('/api/v1/webhooks', { schema: { operationId: 'listWebhooks', tags, summary: 'List webhooks', querystring: Type.Object(PageQuery, { additionalProperties: false }), response: { 200: pageOf(Type.Ref('Webhook')), ...ErrorResponses } } }, async (req) => {
    const page = await services.webhooks.list(ctxOf(req), req.query.cursor, req.query.limit ?? 100);
    return { items: page.items.map((w) => webhookView(w)), nextCursor: page.nextCursor };
  });

  r.post(
    '/api/v1/webhooks',
    {
      schema: {
        operationId: 'createWebhook',
        tags,
        summary: 'Create a webhook; the signing secret is in this answer only',
        body: NewWebhook,
        response: { 201: Type.Ref('Webhook'), ...ErrorResponses },
      },
    },
    async (req, reply) => {
      const { webhook, secret } = await services.webhooks.create(ctxOf(req), req.body);
      return reply.code(201).header('location', `/api/v1/webhooks/${webhook.id}`).send(webhookView(webhook, secret));
    },
  );

  r.get('/api/v1/webhooks/:id', { schema: { operationId: 'getWebhook', tags, summary: 'Get a webhook', params: IdParams, response: { 200: Type.Ref('Webhook'), ...ErrorResponses } } }, async (req) =>
    webhookView(await services.webhooks.get(ctxOf(req), req.params.id)),
  );

  r.patch(
    '/api/v1/webhooks/:id',
    {
      schema: {
        operationId: 'updateWebhook',
        tags,
        summary: 'Change a webhook',
        params: IdParams,
        body: WebhookPatch,
        response: { 200: Type.Ref('Webhook'), ...ErrorResponses },
      },
    },
    async (req) => webhookView(await services.webhooks.update(ctxOf(req), req.params.id, req.body)),
  );

  r.delete('/api/v1/webhooks/:id', { schema: { operationId: 'deleteWebhook', tags, summary: 'Delete a webhook and its delivery history', params: IdParams, response: { 204: Type.Null(), ...ErrorResponses } } }, async (req, reply) => {
    await services.webhooks.delete(ctxOf(req), req.params.id);
    return reply.code(204).send(null);
  });

  r.post(
    '/api/v1/webhooks/:id/rotate-secret',
    {
      schema: {
        operationId: 'rotateWebhookSecret',
        tags,
        summary: 'Replace the signing secret (every delivery sent from now on uses the new one); the secret is in this answer only',
        params: IdParams,
        description: 'Optional body `{"secret": "…"}` (16–256 characters) to set a secret instead of generating one.',
        response: { 200: Type.Ref('Webhook'), ...ErrorResponses },
      },
    },
    async (req) => {
      const { webhook, secret } = await services.webhooks.rotateSecret(ctxOf(req), req.params.id, givenSecret(req.body));
      return webhookView(webhook, secret);
    },
  );

  r.post('/api/v1/webhooks/:id/test', { schema: { operationId: 'testWebhook', tags, summary: 'Queue a `webhook.test` ping', params: IdParams, response: { 202: Type.Ref('WebhookDelivery'), ...ErrorResponses } } }, async (req, reply) =>
    reply.code(202).send(deliveryView(await services.webhooks.test(ctxOf(req), req.params.id))),
  );

  r.get(
    '/api/v1/webhooks/:id/deliveries',
    {
      schema: {
        operationId: 'listWebhookDeliveries',
        tags,
        summary: 'Delivery history, newest first',
        params: IdParams,
        querystring: WebhookDeliveryQuery,
        response: { 200: pageOf(Type.Ref('WebhookDelivery')), ...ErrorResponses },
      },
    },
    async (req) => {
      const page = await services.webhooks.deliveries(ctxOf(req), req.params.id, { status: req.query.status, cursor: req.query.cursor, limit: req.query.limit ?? 100 });
      return { items: page.items.map((d) => deliveryView(d)), nextCursor: page.nextCursor };
    },
  );

  r.get(
    '/api/v1/webhooks/:id/deliveries/:deliveryId',
    { schema: { operationId: 'getWebhookDelivery', tags, summary: 'One delivery with its attempts and body', params: DeliveryParams, response: { 200: Type.Ref('WebhookDelivery'), ...ErrorResponses } } },
    async (req) => deliveryView(await services.webhooks.delivery(ctxOf(req), req.params.id, req.params.deliveryId), true),
  );

  r.post(
    '/api/v1/webhooks/:id/deliveries/:deliveryId/retry',
    { schema: { operationId: 'retryWebhookDelivery', tags, summary: 'Queue a dead (or delivered) delivery again with a fresh attempt budget', params: DeliveryParams, response: { 202: Type.Ref('WebhookDelivery'), ...ErrorResponses } } },
    async (req, reply) => reply.code(202).send(deliveryView(await services.webhooks.retry(ctxOf(req), req.params.id, req.params.deliveryId))),
  );
}
