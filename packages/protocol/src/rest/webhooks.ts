import { Type, type Static } from 'typebox';
import { IsoTime, Nullable, PageQuery } from './common.js';

const EventTypes = Type.Array(Type.String({ minLength: 1, maxLength: 128 }), { minItems: 1, maxItems: 50, description: 'event types, prefixes (`alert.*`) or `*`' });

/** `GET /api/v1/webhooks/{id}`; `secret` only in the answers to create and rotate-secret. */
export const Webhook = Type.Object(
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
export type Webhook = Static<typeof Webhook>;

export const NewWebhook = Type.Object(
  {
    url: Type.String({ minLength: 1, maxLength: 2048 }),
    eventTypes: EventTypes,
    query: Type.Optional(Nullable(Type.String({ maxLength: 4096 }))),
    enabled: Type.Optional(Type.Boolean()),
    description: Type.Optional(Type.String({ maxLength: 1024 })),
    secret: Type.Optional(Type.String({ minLength: 16, maxLength: 256, description: 'generated when absent' })),
  },
  { additionalProperties: false },
);
export type NewWebhook = Static<typeof NewWebhook>;

export const WebhookPatch = Type.Object(
  {
    url: Type.Optional(Type.String({ minLength: 1, maxLength: 2048 })),
    eventTypes: Type.Optional(EventTypes),
    query: Type.Optional(Nullable(Type.String({ maxLength: 4096 }))),
    enabled: Type.Optional(Type.Boolean()),
    description: Type.Optional(Type.String({ maxLength: 1024 })),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type WebhookPatch = Static<typeof WebhookPatch>;

export const WebhookDeliveryStatus = Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('dead')]);
export type WebhookDeliveryStatus = Static<typeof WebhookDeliveryStatus>;

export const WebhookDeliveryAttempt = Type.Object({ at: IsoTime, statusCode: Nullable(Type.Integer()), error: Nullable(Type.String()), durationMs: Type.Integer() });
export type WebhookDeliveryAttempt = Static<typeof WebhookDeliveryAttempt>;

/** An item of `GET /api/v1/webhooks/{id}/deliveries` (newest first); `history` and `payload` only in the single-delivery answer. */
export const WebhookDelivery = Type.Object(
  {
    id: Type.String(),
    webhookId: Type.String(),
    eventType: Type.String(),
    eventId: Nullable(Type.Integer()),
    status: WebhookDeliveryStatus,
    attempts: Type.Integer(),
    nextAttemptAt: Nullable(IsoTime),
    lastStatusCode: Nullable(Type.Integer()),
    lastError: Nullable(Type.String()),
    lastAttemptAt: Nullable(IsoTime),
    createdAt: IsoTime,
    deliveredAt: Nullable(IsoTime),
    history: Type.Optional(Type.Array(WebhookDeliveryAttempt)),
    payload: Type.Optional(Type.Unknown({ description: 'the JSON body sent; in the single-delivery answer' })),
  },
  { $id: 'WebhookDelivery' },
);
export type WebhookDelivery = Static<typeof WebhookDelivery>;

export const WebhookDeliveryQuery = Type.Object({ ...PageQuery, status: Type.Optional(WebhookDeliveryStatus) }, { additionalProperties: false });
