import type { DomainEvent } from '../../bus/events.js';

/**
 * A domain event as clients see it on the SSE stream and in webhook bodies. `id` orders the
 * events of one node; `data` holds the fields of the event other than its envelope.
 */
export interface StreamEvent {
  id: number;
  type: string;
  tenant: string;
  deviceId?: string;
  /** ISO 8601: when this node saw the event. */
  at: string;
  data: Record<string, unknown>;
}

export function toStreamEvent(id: number, at: number, event: DomainEvent): StreamEvent {
  const { type, tenantId, ...rest } = event;
  const data: Record<string, unknown> = { ...rest };
  const deviceId = typeof data.deviceId === 'string' ? data.deviceId : undefined;
  delete data.deviceId;
  return { id, type, tenant: tenantId, ...(deviceId !== undefined ? { deviceId } : {}), at: new Date(at).toISOString(), data };
}
