import { isValidDeviceId } from '@hangar/protocol';
import type { EventBus } from '../../bus/event-bus.js';
import type { DomainEvent } from '../../bus/events.js';
import { HangarError } from '../../errors.js';
import type { CallContext } from '../context.js';
import { requireRole } from '../tenancy/principal.js';
import type { EventLog } from './event-log.js';
import { EventSubscription } from './event-subscription.js';
import { FleetMatcher, parseQueryFilter } from './fleet-matcher.js';
import type { DeviceMatchLookup } from './ports.js';
import { parseTypeList } from './type-filter.js';

export interface StreamRequest {
  /** Comma-separated type patterns (`device.connected,alert.*`); absent: every type. */
  types?: string | undefined;
  deviceId?: string | undefined;
  /** Fleet query: only events of devices that match it. */
  query?: string | undefined;
  /** Resume after this event id (the SSE Last-Event-ID). */
  lastEventId?: string | undefined;
  /** The session the caller signed in with (`sessionIdOf`), when it used the session cookie. */
  sessionId?: string | undefined;
}

/** Whose access a stream rides on: ended when that key, user or session is. */
interface StreamCredential {
  tenantId: string;
  principalType: 'api_key' | 'user' | 'system';
  principalId: string;
  sessionId: string | undefined;
}

export interface EventStreamOptions {
  /** Events queued for one client before it is dropped as too slow. */
  maxQueuePerClient?: number;
  /** Estimated bytes of events queued for one client before it is dropped as too slow. */
  maxQueueBytesPerClient?: number;
  matchTtlMs?: number;
}

/**
 * Opens live event subscriptions for API clients: validates the filters (so a bad one is
 * refused before anything streams), replays what a resuming client missed and keeps track of
 * every open subscription so that shutdown can end them all.
 */
export class EventStreamService {
  private readonly open = new Map<EventSubscription, StreamCredential>();
  private closed = false;
  private readonly stopListening: Array<() => void> = [];

  constructor(
    private readonly log: EventLog,
    private readonly deps: { lookup: DeviceMatchLookup; now?: () => number; bus?: EventBus | undefined },
    private readonly options: EventStreamOptions = {},
  ) {
    const bus = deps.bus;
    if (bus) {
      const end = (event: DomainEvent): void => this.endStreamsOf(event);
      this.stopListening.push(bus.subscribe('api_key.revoked', end), bus.subscribe('user.disabled', end), bus.subscribe('session.ended', end));
    }
  }

  subscribe(ctx: CallContext, request: StreamRequest): EventSubscription {
    requireRole(ctx.principal, 'viewer');
    if (this.closed) throw new HangarError('NOT_READY', 'the server is shutting down');
    const tenantId = ctx.principal.tenantId;
    const types = parseTypeList(request.types);
    if (request.deviceId !== undefined && !isValidDeviceId(request.deviceId)) {
      throw new HangarError('VALIDATION_FAILED', `device "${request.deviceId.slice(0, 140)}" is not a valid device id`);
    }
    let matcher: FleetMatcher | undefined;
    if (request.query !== undefined && request.query.trim() !== '') {
      const ast = parseQueryFilter(request.query);
      matcher = new FleetMatcher(ast, { tenantId, lookup: this.deps.lookup, ttlMs: this.options.matchTtlMs, now: this.deps.now });
    }
    let resumeAfter: number | undefined;
    if (request.lastEventId !== undefined && request.lastEventId !== '') {
      if (!/^\d{1,16}$/.test(request.lastEventId)) throw new HangarError('VALIDATION_FAILED', `Last-Event-ID "${request.lastEventId.slice(0, 40)}" is not an event id of this server`);
      resumeAfter = Number(request.lastEventId);
    }

    const sub = new EventSubscription({ tenantId, types, deviceId: request.deviceId, matcher }, this.options.maxQueuePerClient ?? 1000, this.options.maxQueueBytesPerClient);
    // Replay and listen in one synchronous step, so no event falls between the two.
    if (resumeAfter !== undefined) {
      const replay = this.log.since(resumeAfter);
      if (replay.kind === 'reset') sub.reset(replay.oldestId, replay.latestId);
      else for (const e of replay.events) sub.offer(e, true);
    }
    const stop = this.log.listen((e, bytes) => sub.offer(e, false, bytes));
    this.open.set(sub, { tenantId, principalType: ctx.principal.type, principalId: ctx.principal.id, sessionId: request.sessionId });
    sub.onEnded(() => {
      stop();
      this.open.delete(sub);
    });
    return sub;
  }

  get openCount(): number {
    return this.open.size;
  }

  /** Ends every open stream (server shutdown) and refuses new ones. */
  close(): void {
    this.closed = true;
    for (const stop of this.stopListening.splice(0)) stop();
    for (const sub of [...this.open.keys()]) sub.end('shutdown');
  }

  /**
   * A key was revoked, a user disabled, a session ended: the streams opened with it end now,
   * not at their next request (a stream makes none). A session signed in with a revoked key
   * ends with the key.
   */
  private endStreamsOf(event: DomainEvent): void {
    for (const [sub, c] of [...this.open]) {
      if (c.tenantId !== event.tenantId) continue;
      const ended =
        event.type === 'api_key.revoked'
          ? c.principalType === 'api_key' && c.principalId === event.apiKeyId
          : event.type === 'user.disabled'
            ? c.principalType === 'user' && c.principalId === event.userId
            : event.type === 'session.ended' &&
              c.principalType === event.principalType &&
              c.principalId === event.principalId &&
              c.sessionId !== undefined &&
              (event.sessionId === undefined || c.sessionId === event.sessionId);
      if (ended) sub.end('revoked');
    }
  }
}
