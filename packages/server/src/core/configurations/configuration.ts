import { HangarError } from '../../errors.js';
import { FleetQuerySyntaxError, parseFleetQuery, type FleetQuery } from '../query/index.js';
import { isJsonObject, reservedKeyPath, type JsonObject } from '../twin/merge-patch.js';

/**
 * A configuration (Azure IoT Hub automatic device management): desired twin content that is
 * written to every device its fleet query targets, with a priority that settles which
 * configuration wins a property two of them set.
 */
export interface Configuration {
  id: string;
  tenantId: string;
  name: string;
  /** Fleet query text (DESIGN §7); empty targets every device. */
  target: string;
  /** Immutable once created: a change is a new configuration. */
  content: { desired: JsonObject };
  /** Higher wins; equal priorities are settled by id (lower id wins). */
  priority: number;
  labels: Record<string, string>;
  createdAt: number;
  updatedAt: number;
}

/** As stored: a deleted configuration stays until the reconciler has undone its writes. */
export interface StoredConfiguration extends Configuration {
  deletedAt: number | null;
}

/** One property a configuration sets: its path from the root of desired and its value. */
export interface Leaf {
  path: readonly string[];
  value: unknown;
}

export const NAME_MAX = 128;
export const LABELS_MAX = 32;
export const LABEL_KEY_MAX = 64;
export const LABEL_VALUE_MAX = 256;
export const PRIORITY_MIN = -1_000_000;
export const PRIORITY_MAX = 1_000_000;
/** The whole content's JSON, in bytes: no bigger than a twin's desired may be (32 KiB). */
export const CONTENT_MAX_BYTES = 32 * 1024;

export function checkName(name: string): string {
  const trimmed = name.trim();
  if (trimmed.length === 0 || trimmed.length > NAME_MAX) throw new HangarError('VALIDATION_FAILED', `a configuration's name must be 1 to ${NAME_MAX} characters`);
  return trimmed;
}

/** The parsed target; an unparsable one is refused with the parser's own message. */
export function checkTarget(target: string): FleetQuery {
  try {
    return parseFleetQuery(target);
  } catch (err) {
    if (err instanceof FleetQuerySyntaxError) throw new HangarError('VALIDATION_FAILED', `target is not a valid fleet query: ${err.message}`);
    throw err;
  }
}

export function checkPriority(priority: number): number {
  if (!Number.isInteger(priority) || priority < PRIORITY_MIN || priority > PRIORITY_MAX) {
    throw new HangarError('VALIDATION_FAILED', `priority must be an integer from ${PRIORITY_MIN} to ${PRIORITY_MAX}, not ${priority}`);
  }
  return priority;
}

export function checkLabels(labels: unknown): Record<string, string> {
  if (!isJsonObject(labels)) throw new HangarError('VALIDATION_FAILED', 'labels must be an object of strings');
  const entries = Object.entries(labels);
  if (entries.length > LABELS_MAX) throw new HangarError('VALIDATION_FAILED', `a configuration has at most ${LABELS_MAX} labels`);
  for (const [k, v] of entries) {
    if (k.length === 0 || k.length > LABEL_KEY_MAX) throw new HangarError('VALIDATION_FAILED', `label key "${k.slice(0, 80)}" must be 1 to ${LABEL_KEY_MAX} characters`);
    if (typeof v !== 'string' || v.length > LABEL_VALUE_MAX) throw new HangarError('VALIDATION_FAILED', `label "${k}" must be a string of at most ${LABEL_VALUE_MAX} characters`);
  }
  return labels as Record<string, string>;
}

/**
 * `{"desired": {…}}`: a non-empty object of desired properties. `null` is refused (in a merge
 * patch it deletes, and a configuration sets values), so is a `$` name (the twin's own fields).
 */
export function checkContent(content: unknown): { desired: JsonObject } {
  if (!isJsonObject(content)) throw new HangarError('VALIDATION_FAILED', 'content must be an object {"desired": {…}}');
  const extra = Object.keys(content).filter((k) => k !== 'desired');
  if (extra.length > 0) throw new HangarError('VALIDATION_FAILED', `content may only hold "desired"; remove ${extra.map((k) => `"${k.slice(0, 40)}"`).join(', ')}`);
  const desired = content.desired;
  if (!isJsonObject(desired)) {
    throw new HangarError('VALIDATION_FAILED', `content.desired must be a JSON object of desired twin properties, not ${Array.isArray(desired) ? 'an array' : desired === null ? 'null' : typeof desired}`);
  }
  if (Object.keys(desired).length === 0) throw new HangarError('VALIDATION_FAILED', 'content.desired must set at least one property');
  const reserved = reservedKeyPath(desired);
  if (reserved !== undefined) throw new HangarError('VALIDATION_FAILED', `content.desired property ${reserved} starts with "$": those names are reserved for the twin's own fields`);
  const nullAt = nullPath(desired, '');
  if (nullAt !== undefined) throw new HangarError('VALIDATION_FAILED', `content.desired${nullAt} is null: a configuration sets values, it cannot delete a property`);
  const size = Buffer.byteLength(JSON.stringify(content));
  if (size > CONTENT_MAX_BYTES) throw new HangarError('PAYLOAD_TOO_LARGE', `content is ${size} bytes of JSON; a configuration's content may hold at most ${CONTENT_MAX_BYTES} bytes`);
  return { desired };
}

function nullPath(value: JsonObject, prefix: string): string | undefined {
  for (const [key, member] of Object.entries(value)) {
    if (member === null) return `${prefix}/${key}`;
    if (isJsonObject(member)) {
      const inner = nullPath(member, `${prefix}/${key}`);
      if (inner !== undefined) return inner;
    }
  }
  return undefined;
}

/**
 * The properties a content sets, one per leaf: nested objects are walked, anything else (an
 * array, a scalar, an empty object) is a value set as a whole. Conflicts and removal work on
 * these paths, so two configurations may share a parent object and set different members.
 */
export function leavesOf(desired: JsonObject, prefix: readonly string[] = []): Leaf[] {
  const out: Leaf[] = [];
  for (const [key, value] of Object.entries(desired)) {
    const path = [...prefix, key];
    if (isJsonObject(value) && Object.keys(value).length > 0) out.push(...leavesOf(value, path));
    else out.push({ path, value });
  }
  return out;
}

/** Higher priority first, then lower id: the order in which configurations claim properties. */
export function byPrecedence(a: Pick<Configuration, 'priority' | 'id'>, b: Pick<Configuration, 'priority' | 'id'>): number {
  if (a.priority !== b.priority) return b.priority - a.priority;
  // Code-unit order, not localeCompare: the same on every node and independent of the database's collation.
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
