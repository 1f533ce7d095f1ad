import { DOMAIN_EVENT_TYPES } from '../../bus/events.js';
import { HangarError } from '../../errors.js';

/**
 * Event type filters of streams and webhooks: exact names (`device.connected`), a prefix
 * (`alert.*`, which matches `alert.raised` …) or `*` for every type. A pattern that can match
 * no event is refused, so a typo does not become a silent subscription to nothing.
 */
export interface TypeFilter {
  readonly patterns: readonly string[];
  matches(type: string): boolean;
}

export const MAX_TYPE_PATTERNS = 50;

/**
 * Types a filter matches only when it names them: `*` and prefixes leave them out. Device log
 * uploads arrive at log rates and carry their records; a catch-all webhook or stream would be
 * flooded by them (docs/logs.md).
 */
export const EXPLICIT_ONLY: ReadonlySet<string> = new Set(['device.log']);

export function parseTypeFilter(patterns: readonly string[], known: readonly string[] = DOMAIN_EVENT_TYPES): TypeFilter {
  if (patterns.length > MAX_TYPE_PATTERNS) throw new HangarError('VALIDATION_FAILED', `at most ${MAX_TYPE_PATTERNS} event type patterns`);
  const exact = new Set<string>();
  const prefixes: string[] = [];
  let all = false;
  for (const raw of patterns) {
    const p = raw.trim();
    if (p === '*') {
      all = true;
    } else if (p.endsWith('.*')) {
      const prefix = p.slice(0, -1); // keep the dot: `device.*` must not match `devices.x`
      if (!known.some((t) => t.startsWith(prefix))) throw unknownType(p, known);
      prefixes.push(prefix);
    } else {
      if (!known.includes(p)) throw unknownType(p, known);
      exact.add(p);
    }
  }
  const normalised = [...new Set(patterns.map((p) => p.trim()))];
  return {
    patterns: normalised,
    matches: (type) => exact.has(type) || (!EXPLICIT_ONLY.has(type) && (all || prefixes.some((prefix) => type.startsWith(prefix)))),
  };
}

/** `types=a,b.*` of a query string; empty or absent means every type. */
export function parseTypeList(list: string | undefined): TypeFilter {
  const parts = (list ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
  return parseTypeFilter(parts.length === 0 ? ['*'] : parts);
}

function unknownType(pattern: string, known: readonly string[]): HangarError {
  return new HangarError('VALIDATION_FAILED', `unknown event type "${pattern.slice(0, 100)}": use one of ${known.join(', ')}, a prefix such as "alert.*", or "*"`, { knownTypes: known });
}
