import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type, type TSchema } from 'typebox';
import type { Services } from '../../core/services.js';
import type { Webhook as WebhookRecord, WebhookDelivery as DeliveryRecord } from '../../core/webhooks/webhook.js';
import { HangarError } from '../../errors.js';
import { ctxOf } from '../context.js';
import { ErrorResponses, IsoTime, PageQuery, pageOf } from '../schemas.js';

const Nullable = (t: TSchema): TSchema => Type.Union([t, Type.Null()]);
const IdParams = Type.Object({ id: Type.String({ maxLength: 128 }) });
const DeliveryParams = Type.Object({ id: Type.String({ maxLength: 128 }), deliveryId: Type.String({ maxLength: 128 }) });
const EventTypes = Type.Array(Type.String({ minLength: 1, maxLength: 128 }), { minItems: 1, maxItems: 50, description: 'event types, prefixes (`alert.*`) or `*`' });
const Status = Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('dead')]);

const Webhook = Type.Object(
  {
    id: Type.String(),
    url: Type.String(),
    eventTypes: Type.Array(Type.String()),
    query: Nullable(Type.String()),
    enabled: Type.Boolean(),
    description: Type.String(),
    createdAt: IsoTime,
    updatedAt: IsoTime,
    secret: Type.Optional(Type.String({ description: 'only in the answers that create the webhook or rotate its secret' })),
  },
  { $id: 'Webhook' },
);

const Attempt = Type.Object({ at: IsoTime, statusCode: Nullable(Type.Integer()), error: Nullable(Type.String()), durationMs: Type.Integer() });

const Delivery = Type.Object(
  {
    id: Type.String(),
    webhookId: Type.String(),
    eventType: Type.String(),
    eventId: Nullable(Type.Integer()),
    status: Status,
    attempts: Type.Integer(),
    nextAttemptAt: Nullable(IsoTime),
    lastStatusCode: Nullable(Type.Integer()),
    lastError: Nullable(Type.String()),
    lastAttemptAt: Nullable(IsoTime),
    createdAt: IsoTime,
    deliveredAt: Nullable(IsoTime),
    history: Type.Optional(Type.Array(Attempt)),
    payload: Type.Optional(Type.Unknown({ description: 'the JSON body sent; in the single-delivery answer' })),
  },
  { $id: 'WebhookDelivery' },
);

const iso = (ms: number): string => new Date(ms).toISOString();
const isoOrNull = (ms: number | null): string | null => (ms === null ? null : iso(ms));

function webhookView(w: WebhookRecord, secret?: string): Record<string, unknown> {
  return {
    id: w.id,
    url: w.url,
    eventTypes: w.eventTypes,
    query: w.query,
    enabled: w.enabled,
    description: w.description,
    createdAt: iso(w.createdAt),
    updatedAt: iso(w.updatedAt),
    ...(secret !== undefined ? { secret } : {}),
  };
}

function deliveryView(d: DeliveryRecord, full = false): Record<string, unknown> {
  return {
    id: d.id,
    webhookId: d.webhookId,
    eventType: d.eventType,
    eventId: d.eventId,
    status: d.status,
    attempts: d.attempts,
    nextAttemptAt: isoOrNull(d.nextAttemptAt),
    lastStatusCode: d.lastStatusCode,
    lastError: d.lastError,
    lastAttemptAt: isoOrNull(d.lastAttemptAt),
    createdAt: iso(d.createdAt),
    deliveredAt: isoOrNull(d.deliveredAt),
    ...(full ? { history: d.history.map((a) => ({ ...a, at: iso(a.at) })), payload: JSON.parse(d.payload) as unknown } : {}),
  };
}

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
  app.addSchema(Webhook);
  app.addSchema(Delivery);
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['webhooks'];

  r.get('/api/v1/webhooks', { schema: { tags, summary: 'List webhooks', querystring: Type.Object(PageQuery, { additionalProperties: false }), response: { 200: pageOf(Type.Ref('Webhook')), ...ErrorResponses } } }, async (req) => {
    const page = await services.webhooks.list(ctxOf(req), req.query.cursor, req.query.limit ?? 100);
    return { items: page.items.map((w) => webhookView(w)), nextCursor: page.nextCursor };
  });

  r.post(
    '/api/v1/webhooks',
    {
      schema: {
        tags,
        summary: 'Create a webhook; the signing secret is in this answer only',
        body: Type.Object(
          {
            url: Type.String({ minLength: 1, maxLength: 2048 }),
            eventTypes: EventTypes,
            query: Type.Optional(Nullable(Type.String({ maxLength: 4096 }))),
            enabled: Type.Optional(Type.Boolean()),
            description: Type.Optional(Type.String({ maxLength: 1024 })),
            secret: Type.Optional(Type.String({ minLength: 16, maxLength: 256, description: 'generated when absent' })),
          },
          { additionalProperties: false },
        ),
        response: { 201: Type.Ref('Webhook'), ...ErrorResponses },
      },
    },
    async (req, reply) => {
      const { webhook, secret } = await services.webhooks.create(ctxOf(req), req.body as { url: string; eventTypes: string[]; query?: string | null; enabled?: boolean; description?: string; secret?: string });
      return reply.code(201).header('location', `/api/v1/webhooks/${webhook.id}`).send(webhookView(webhook, secret));
    },
  );

  r.get('/api/v1/webhooks/:id', { schema: { tags, summary: 'Get a webhook', params: IdParams, response: { 200: Type.Ref('Webhook'), ...ErrorResponses } } }, async (req) =>
    webhookView(await services.webhooks.get(ctxOf(req), req.params.id)),
  );

  r.patch(
    '/api/v1/webhooks/:id',
    {
      schema: {
        tags,
        summary: 'Change a webhook',
        params: IdParams,
        body: Type.Object(
          {
            url: Type.Optional(Type.String({ minLength: 1, maxLength: 2048 })),
            eventTypes: Type.Optional(EventTypes),
            query: Type.Optional(Nullable(Type.String({ maxLength: 4096 }))),
            enabled: Type.Optional(Type.Boolean()),
            description: Type.Optional(Type.String({ maxLength: 1024 })),
          },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: Type.Ref('Webhook'), ...ErrorResponses },
      },
    },
    async (req) => webhookView(await services.webhooks.update(ctxOf(req), req.params.id, req.body as { url?: string; eventTypes?: string[]; query?: string | null; enabled?: boolean; description?: string })),
  );

  r.delete('/api/v1/webhooks/:id', { schema: { tags, summary: 'Delete a webhook and its delivery history', params: IdParams, response: { 204: Type.Null(), ...ErrorResponses } } }, async (req, reply) => {
    await services.webhooks.delete(ctxOf(req), req.params.id);
    return reply.code(204).send(null);
  });

  r.post(
    '/api/v1/webhooks/:id/rotate-secret',
    {
      schema: {
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

  r.post('/api/v1/webhooks/:id/test', { schema: { tags, summary: 'Queue a `webhook.test` ping', params: IdParams, response: { 202: Type.Ref('WebhookDelivery'), ...ErrorResponses } } }, async (req, reply) =>
    reply.code(202).send(deliveryView(await services.webhooks.test(ctxOf(req), req.params.id))),
  );

  r.get(
    '/api/v1/webhooks/:id/deliveries',
    {
      schema: {
        tags,
        summary: 'Delivery history, newest first',
        params: IdParams,
        querystring: Type.Object({ ...PageQuery, status: Type.Optional(Status) }, { additionalProperties: false }),
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
    { schema: { tags, summary: 'One delivery with its attempts and body', params: DeliveryParams, response: { 200: Type.Ref('WebhookDelivery'), ...ErrorResponses } } },
    async (req) => deliveryView(await services.webhooks.delivery(ctxOf(req), req.params.id, req.params.deliveryId), true),
  );

  r.post(
    '/api/v1/webhooks/:id/deliveries/:deliveryId/retry',
    { schema: { tags, summary: 'Queue a dead (or delivered) delivery again with a fresh attempt budget', params: DeliveryParams, response: { 202: Type.Ref('WebhookDelivery'), ...ErrorResponses } } },
    async (req, reply) => reply.code(202).send(deliveryView(await services.webhooks.retry(ctxOf(req), req.params.id, req.params.deliveryId))),
  );
}
