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

/**
 * `at` is the ISO form of the time the node saw the event (see IsoClock). `data` is built by
 * copying the event's own fields other than the envelope, in their order (clients see that
 * order in JSON), without a rest spread and `delete`: this runs once per telemetry batch and
 * device.
 */
export function toStreamEvent(id: number, at: string, event: DomainEvent): StreamEvent {
  const data: Record<string, unknown> = {};
  let deviceId: string | undefined;
  const fields = event as unknown as Record<string, unknown>;
  for (const key in fields) {
    if (!Object.hasOwn(fields, key) || key === 'type' || key === 'tenantId') continue;
    const value = fields[key];
    if (key !== 'deviceId') data[key] = value;
    else if (typeof value === 'string') deviceId = value;
  }
  return deviceId === undefined ? { id, type: event.type, tenant: event.tenantId, at, data } : { id, type: event.type, tenant: event.tenantId, deviceId, at, data };
}

/**
 * `new Date(ms).toISOString()` for the stream's `at`, remembered for the last millisecond:
 * a telemetry batch publishes hundreds of events within one.
 */
export class IsoClock {
  private lastMs = Number.NaN;
  private lastIso = '';

  iso(ms: number): string {
    if (ms !== this.lastMs) {
      this.lastIso = new Date(ms).toISOString();
      this.lastMs = ms;
    }
    return this.lastIso;
  }
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
