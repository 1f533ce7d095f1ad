import { HangarError } from '../../errors.js';
import { deviceQuery, FleetQuerySyntaxError, parseFleetQuery, type FleetQuery } from '../query/index.js';
import type { DeviceMatchLookup } from './ports.js';

export interface FleetMatcherOptions {
  tenantId: string;
  lookup: DeviceMatchLookup;
  /** How long a device's answer is trusted; tags and telemetry change, so not forever. */
  ttlMs?: number;
  maxEntries?: number;
  now?: () => number;
}

export const DEFAULT_MATCH_TTL_MS = 5_000;

/** Parses a fleet query filter, turning syntax errors into INVALID_QUERY with the position. */
export function parseQueryFilter(text: string): FleetQuery {
  try {
    return parseFleetQuery(text);
  } catch (err) {
    if (err instanceof FleetQuerySyntaxError) throw new HangarError('INVALID_QUERY', err.message, { position: err.position, length: err.length, query: text });
    throw err;
  }
}

/**
 * Answers "does this device match the query?" for a stream of events. The query is parsed once;
 * the database answers membership (DESIGN §7: never evaluated in JavaScript), one query for all
 * devices asked about in the same tick, and each answer is cached for `ttlMs` so a device
 * sending telemetry many times a second costs one lookup per TTL, not one per event.
 */
export class FleetMatcher {
  private readonly cache = new Map<string, { match: boolean; until: number }>();
  private waiting = new Map<string, Array<(match: boolean) => void>>();
  private waitingReject: Array<(err: unknown) => void> = [];
  private scheduled = false;
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(
    private readonly query: FleetQuery,
    private readonly options: FleetMatcherOptions,
  ) {
    this.ttlMs = options.ttlMs ?? DEFAULT_MATCH_TTL_MS;
    this.maxEntries = options.maxEntries ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  /** A boolean when the answer is cached, otherwise a promise of it. */
  matches(deviceId: string): boolean | Promise<boolean> {
    const hit = this.cache.get(deviceId);
    if (hit && hit.until > this.now()) return hit.match;
    return new Promise<boolean>((resolve, reject) => {
      const list = this.waiting.get(deviceId) ?? [];
      list.push(resolve);
      this.waiting.set(deviceId, list);
      this.waitingReject.push(reject);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    const batch = this.waiting;
    const rejects = this.waitingReject;
    this.waiting = new Map();
    this.waitingReject = [];
    this.scheduled = false;
    try {
      const ids = [...batch.keys()];
      const now = this.now();
      // Asked with each lookup's own now: relative times (`lastSeen > -5m`) count back from it.
      const found = await this.options.lookup(this.options.tenantId, deviceQuery(this.query, now), ids);
      if (this.cache.size + ids.length > this.maxEntries) this.evict(now);
      const until = this.now() + this.ttlMs;
      for (const [id, resolvers] of batch) {
        const match = found.has(id);
        this.cache.set(id, { match, until });
        for (const resolve of resolvers) resolve(match);
      }
    } catch (err) {
      for (const reject of rejects) reject(err);
    }
  }

  private evict(now: number): void {
    for (const [id, entry] of this.cache) if (entry.until <= now) this.cache.delete(id);
    // Still full: drop the oldest entries (Map order is insertion order).
    const excess = this.cache.size - Math.floor(this.maxEntries / 2);
    if (excess > 0) {
      let n = 0;
      for (const id of this.cache.keys()) {
        if (n++ >= excess) break;
        this.cache.delete(id);
      }
    }
  }
}
