import { randomBytes } from 'node:crypto';
import { HangarError } from '../../errors.js';

/** A subscription of an HTTP endpoint to a tenant's events. */
export interface Webhook {
  id: string;
  tenantId: string;
  url: string;
  /** Type patterns as in core/events/type-filter.ts. */
  eventTypes: string[];
  /** Fleet query: only events of matching devices; null for every device. */
  query: string | null;
  enabled: boolean;
  description: string;
  /** The signing secret, sealed with the master key under `wh:<id>`. */
  sealedSecret: string;
  createdAt: number;
  updatedAt: number;
}

export const DELIVERY_STATUSES = ['pending', 'delivered', 'dead'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/** One try of a delivery, kept on the delivery row (the last few). */
export interface DeliveryAttempt {
  at: number;
  statusCode: number | null;
  error: string | null;
  durationMs: number;
}

export interface WebhookDelivery {
  id: string;
  tenantId: string;
  webhookId: string;
  eventType: string;
  eventId: number | null;
  /** The exact JSON body POSTed (and signed). */
  payload: string;
  status: DeliveryStatus;
  attempts: number;
  /** Due time while pending (a lease while in flight); null once delivered or dead. */
  nextAttemptAt: number | null;
  lastStatusCode: number | null;
  lastError: string | null;
  lastAttemptAt: number | null;
  history: DeliveryAttempt[];
  createdAt: number;
  deliveredAt: number | null;
}

/** The delivery-only event type of `POST /webhooks/{id}/test`; every webhook receives it. */
export const TEST_EVENT_TYPE = 'webhook.test';

export const URL_MAX = 2048;
export const DESCRIPTION_MAX = 1024;
export const SECRET_MIN = 16;
export const SECRET_MAX = 256;

export function checkWebhookUrl(raw: string): string {
  if (raw.length > URL_MAX) throw new HangarError('VALIDATION_FAILED', `url is longer than ${URL_MAX} characters`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new HangarError('VALIDATION_FAILED', `url "${raw.slice(0, 200)}" is not an absolute URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new HangarError('VALIDATION_FAILED', `url scheme "${url.protocol.slice(0, -1).slice(0, 40)}" is not allowed: use http or https`);
  if (url.hostname === '') throw new HangarError('VALIDATION_FAILED', 'url has no host');
  // fetch refuses URLs with credentials; receivers authenticate Hangar by the signature instead.
  if (url.username !== '' || url.password !== '') throw new HangarError('VALIDATION_FAILED', 'url must not carry a user name or password: verify the X-Hangar-Signature header instead');
  return url.toString();
}

export function checkDescription(d: string): string {
  if (d.length > DESCRIPTION_MAX) throw new HangarError('VALIDATION_FAILED', `description is longer than ${DESCRIPTION_MAX} characters`);
  return d;
}

export function checkOrGenerateSecret(given: string | undefined): string {
  if (given === undefined) return `whsec_${randomBytes(32).toString('base64url')}`;
  if (given.length < SECRET_MIN || given.length > SECRET_MAX) throw new HangarError('VALIDATION_FAILED', `secret must be ${SECRET_MIN}–${SECRET_MAX} characters`);
  if (!/^[\x21-\x7e]+$/.test(given)) throw new HangarError('VALIDATION_FAILED', 'secret must be printable ASCII without spaces');
  return given;
}

/** Ids that sort by creation time (keyset pagination newest-first), then random. */
export function sortableId(prefix: string, now: number): string {
  return `${prefix}${now.toString(36).padStart(9, '0')}${randomBytes(8).toString('hex')}`;
}

export function sealContext(webhookId: string): string {
  return `wh:${webhookId}`;
}
