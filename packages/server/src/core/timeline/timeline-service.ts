import type { EventBus } from '../../bus/event-bus.js';
import { DOMAIN_EVENT_TYPES } from '../../bus/events.js';
import { HangarError } from '../../errors.js';
import type { Logger } from 'pino';
import type { CallContext } from '../context.js';
import { decodePosition, encodePosition } from '../logs/log-cursor.js';
import type { Page } from '../pagination.js';
import type { Stores } from '../stores.js';
import { parseInstant } from '../telemetry/series-query.js';
import { requireRole } from '../tenancy/principal.js';
import type { TimelineTypes } from './ports.js';
import { LOG_ERROR_TYPE, TIMELINE_FAMILIES, TimelineRecorder, type TimelineRecorderOptions } from './timeline-recorder.js';

export const DEFAULT_TIMELINE_PAGE = 100;
export const MAX_TIMELINE_PAGE = 1_000;

export interface TimelineListRequest {
  from?: string | undefined;
  to?: string | undefined;
  types?: string | undefined;
  limit?: number | undefined;
  cursor?: string | undefined;
  order?: 'asc' | 'desc' | undefined;
}

export interface TimelineEntryView {
  id: string;
  ts: number;
  type: string;
  data: Record<string, unknown>;
}

/** The types a timeline can hold: the recorded families' events, and error log summaries. */
export function timelineTypes(): string[] {
  return [...DOMAIN_EVENT_TYPES.filter((t) => t !== 'device.log' && t !== 'device.deleted' && TIMELINE_FAMILIES.some((f) => t.startsWith(f))), LOG_ERROR_TYPE];
}

/**
 * A device's timeline (docs/logs.md): connects, twin changes, commands, credentials,
 * enrollment, alerts and error logs in one view ordered by time, then by id.
 */
export class TimelineService {
  readonly recorder: TimelineRecorder;

  constructor(
    private readonly stores: Stores,
    bus: EventBus,
    options: { logger: Logger; now: () => number; recorder?: Partial<TimelineRecorderOptions> | undefined },
  ) {
    this.recorder = new TimelineRecorder(stores, bus, options.logger, options.now, options.recorder);
  }

  start(): void {
    this.recorder.start();
  }

  close(): Promise<void> {
    return this.recorder.close();
  }

  async list(ctx: CallContext, deviceId: string, req: TimelineListRequest): Promise<Page<TimelineEntryView>> {
    requireRole(ctx.principal, 'viewer');
    const tenantId = ctx.principal.tenantId;
    const from = req.from === undefined ? undefined : parseInstant(req.from, 'from');
    const to = req.to === undefined ? undefined : parseInstant(req.to, 'to');
    const types = parseTimelineTypes(req.types);
    const limit = req.limit ?? DEFAULT_TIMELINE_PAGE;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_TIMELINE_PAGE) throw new HangarError('VALIDATION_FAILED', `limit must be a whole number from 1 to ${MAX_TIMELINE_PAGE}`);
    const after = decodePosition(req.cursor);
    if (!(await this.stores.devices.get(tenantId, deviceId))) throw new HangarError('DEVICE_NOT_FOUND', `device "${deviceId}" does not exist`);
    const rows = await this.stores.timeline.list({ tenantId, deviceId, from, to, types, order: req.order ?? 'desc', after, limit: limit + 1 });
    const more = rows.length > limit;
    const items = (more ? rows.slice(0, limit) : rows).map((r) => ({ id: String(r.seq), ts: r.ts, type: r.type, data: r.data }));
    const last = items[items.length - 1];
    return { items, nextCursor: more && last ? encodePosition(last.ts, Number(last.id)) : null };
  }
}

/** `types=twin.*,device.connected`: exact types and `family.*` prefixes; absent or `*`: all. */
export function parseTimelineTypes(list: string | undefined): TimelineTypes | undefined {
  const parts = (list ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (parts.length === 0 || parts.includes('*')) return undefined;
  if (parts.length > 50) throw new HangarError('VALIDATION_FAILED', 'at most 50 types');
  const known = timelineTypes();
  const exact: string[] = [];
  const prefixes: string[] = [];
  for (const p of parts) {
    const prefix = p.endsWith('.*') ? p.slice(0, -1) : undefined;
    if (prefix !== undefined ? known.some((t) => t.startsWith(prefix)) : known.includes(p)) (prefix !== undefined ? prefixes : exact).push(prefix ?? p);
    else throw new HangarError('VALIDATION_FAILED', `unknown timeline type "${p.slice(0, 100)}": use one of ${known.join(', ')}, a prefix such as "twin.*", or "*"`, { knownTypes: known });
  }
  return { exact, prefixes };
}
