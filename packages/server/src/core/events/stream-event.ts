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

/**
 * Roughly how much memory an event holds, for the byte budgets of the event log and of each
 * stream's queue. Counted from key and string lengths one level into `data` (telemetry `values`
 * is where the size is); never by serialising — telemetry arrives at tens of thousands of events
 * a second.
 */
export function estimateEventBytes(event: StreamEvent): number {
  let bytes = 256; // the envelope: object, id, ISO time, tenant and device strings
  const data = event.data;
  for (const key in data) bytes += key.length + valueBytes(data[key], true);
  return bytes;
}

function valueBytes(value: unknown, descend: boolean): number {
  if (typeof value === 'string') return 16 + value.length;
  if (typeof value !== 'object' || value === null) return 16;
  if (!descend) return 256; // events carry nothing deeper than `data.values`
  let bytes = 64;
  const record = value as Record<string, unknown>;
  for (const key in record) bytes += 16 + key.length + valueBytes(record[key], false);
  return bytes;
}
