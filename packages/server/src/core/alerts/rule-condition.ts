/**
 * The condition of an alert rule: a fleet query over one device (core/query), optionally held
 * for a duration, or the presence form `offline for 10m`.
 *
 *     condition := query ('for' duration)?  |  'offline' 'for' duration
 *     duration  := whole number followed by s, m, h or d (1s … 7d)
 *
 * The `for` clause is not part of the fleet query language, so it is cut off the end here and
 * the rest goes to the fleet query parser unchanged: positions in its errors stay positions in
 * the whole condition text.
 */
import type { Field, FleetQuery } from '../query/index.js';
import { FleetQuerySyntaxError, parseFleetQuery } from '../query/index.js';

export type ConditionKind = 'telemetry' | 'presence' | 'device';

export const MIN_DURATION_MS = 1_000;
export const MAX_DURATION_MS = 7 * 86_400_000;

const UNIT_MS: Readonly<Record<string, number>> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export interface RuleCondition {
  text: string;
  kind: ConditionKind;
  /** What must be true of a device, as a fleet query tree (compiled to SQL per evaluation). */
  when: FleetQuery;
  /**
   * How long `when` must hold without a break before an alert is raised; null raises at once.
   * A presence rule has none: its duration is inside `when` (`lastSeen <= -10m`), measured
   * from the device's own last-seen time.
   */
  holdMs: number | null;
  /** `offline for …`: how long the device must have been gone. */
  offlineMs: number | null;
  /** Telemetry keys the condition reads: a reading of one of them re-evaluates the rule. */
  telemetryKeys: string[];
  /** Whether the condition reads `online` or `lastSeen`: connects and disconnects re-evaluate it. */
  readsPresence: boolean;
  /** Every field the condition reads, in order of appearance: what an alert's details show. */
  fields: Field[];
}

/** Parses a fleet query for a rule's target; an empty text watches every device. */
export function parseRuleTarget(text: string | null): FleetQuery | null {
  if (text === null || text.trim() === '') return null;
  const query = parseFleetQuery(text);
  return query.kind === 'all' ? null : query;
}

/** Parses and checks a rule condition. Throws FleetQuerySyntaxError with the fault's position. */
export function parseRuleCondition(text: string): RuleCondition {
  const clause = findForClause(text);
  const queryText = clause === null ? text : text.slice(0, clause.position);
  const firstWord = /^\s*([A-Za-z_][A-Za-z0-9_.:-]*)/.exec(queryText);
  if (firstWord?.[1]?.toLowerCase() === 'offline') {
    const position = queryText.indexOf(firstWord[1]);
    const rest = queryText.slice(position + firstWord[1].length);
    if (rest.trim() !== '') {
      const at = position + firstWord[1].length + (rest.length - rest.trimStart().length);
      throw new FleetQuerySyntaxError(
        `'offline for <duration>' stands alone, found more at position ${at}; choose the devices it watches with the rule's target`,
        at,
        rest.trim().length,
      );
    }
    if (clause === null) {
      throw new FleetQuerySyntaxError(`a presence condition needs a duration at position ${position}: write 'offline for 10m'`, position, firstWord[1].length);
    }
    const offlineMs = clause.ms;
    return {
      text,
      kind: 'presence',
      when: {
        kind: 'and',
        operands: [
          { kind: 'not', operand: { kind: 'compare', field: { kind: 'online' }, op: '=', value: { kind: 'boolean', value: true } } },
          { kind: 'compare', field: { kind: 'lastSeen' }, op: '<=', value: { kind: 'relativeTime', ms: offlineMs } },
        ],
      },
      holdMs: null,
      offlineMs,
      telemetryKeys: [],
      readsPresence: true,
      fields: [{ kind: 'online' }, { kind: 'lastSeen' }],
    };
  }
  const when = parseFleetQuery(queryText);
  if (when.kind === 'all') {
    const at = clause?.position ?? 0;
    throw new FleetQuerySyntaxError(
      clause === null ? 'the condition is empty: write a fleet query such as telemetry.temp > 80' : `the condition before 'for' at position ${at} is empty`,
      at,
      clause === null ? text.length : 3,
    );
  }
  const fields = fieldsOf(when);
  const telemetryKeys = [...new Set(fields.flatMap((f) => (f.kind === 'telemetry' ? [f.key] : [])))];
  return {
    text,
    kind: telemetryKeys.length > 0 ? 'telemetry' : 'device',
    when,
    holdMs: clause?.ms ?? null,
    offlineMs: null,
    telemetryKeys,
    readsPresence: fields.some((f) => f.kind === 'online' || f.kind === 'lastSeen'),
    fields,
  };
}

/** `for 5m` → 300000; the same grammar and limits as the condition's clause. */
export function parseDuration(text: string, position: number): number {
  const match = /^([0-9]+)([smhd])$/.exec(text);
  if (match === null) {
    throw new FleetQuerySyntaxError(
      `invalid duration '${text}' at position ${position}: use a whole number of s, m, h or d, like 5m`,
      position,
      Math.max(text.length, 1),
    );
  }
  const ms = Number(match[1]) * (UNIT_MS[match[2] as string] as number);
  if (ms < MIN_DURATION_MS || ms > MAX_DURATION_MS) {
    throw new FleetQuerySyntaxError(`duration '${text}' at position ${position} is out of range: use 1s to 7d`, position, text.length);
  }
  return ms;
}

/** Renders a duration the way conditions write it: the largest whole unit. */
export function formatDuration(ms: number): string {
  for (const unit of ['d', 'h', 'm'] as const) {
    const size = UNIT_MS[unit] as number;
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${Math.round(ms / 1000)}s`;
}

/**
 * The trailing `for <duration>` of a condition: the last word `for` outside string literals.
 * Anything after its duration is an error (the clause must end the condition).
 */
function findForClause(text: string): { position: number; ms: number } | null {
  let found = -1;
  let inString = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i] as string;
    if (inString) {
      if (c === '\\') i += 1;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') {
      inString = true;
      continue;
    }
    if ((c === 'f' || c === 'F') && text.slice(i, i + 3).toLowerCase() === 'for') {
      const before = i === 0 ? ' ' : (text[i - 1] as string);
      const after = text[i + 3] ?? ' ';
      if (/[\s)"]/.test(before) && /\s/.test(after)) found = i;
    }
  }
  if (found < 0) return null;
  const rest = text.slice(found + 3);
  const lead = rest.length - rest.trimStart().length;
  const words = rest.trim().split(/\s+/);
  const durationAt = found + 3 + lead;
  const durationText = words[0] ?? '';
  if (durationText === '') {
    throw new FleetQuerySyntaxError(`expected a duration after 'for' at position ${found}, like 'for 5m'`, found, 3);
  }
  const ms = parseDuration(durationText, durationAt);
  if (words.length > 1) {
    const extra = durationAt + durationText.length + (text.slice(durationAt + durationText.length).length - text.slice(durationAt + durationText.length).trimStart().length);
    throw new FleetQuerySyntaxError(`'for ${durationText}' must end the condition, found more at position ${extra}`, extra, text.length - extra);
  }
  return { position: found, ms };
}

function fieldsOf(query: FleetQuery): Field[] {
  switch (query.kind) {
    case 'all':
      return [];
    case 'and':
    case 'or':
      return query.operands.flatMap(fieldsOf);
    case 'not':
      return fieldsOf(query.operand);
    case 'compare':
    case 'in':
    case 'glob':
      return [query.field];
  }
}
