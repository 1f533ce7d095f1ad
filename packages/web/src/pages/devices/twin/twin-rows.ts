/**
 * A twin as the rows the twin panel shows: one per leaf property (nested objects flattened to
 * dotted paths), with the desired and the reported value side by side, when each last changed
 * (from `$metadata`), and whether the device has caught up with desired (from `delta`).
 */
import type { DeviceTwin } from '../../../api.ts';

type JsonObject = Record<string, unknown>;

export type TwinRowState =
  /** Desired has it and reported does not match yet (it is in `delta`). */
  | 'pending'
  /** Desired has it and reported matches. */
  | 'in-sync'
  /** Only reported has it: the device says so, nobody asked for it. */
  | 'reported-only';

export interface TwinRow {
  path: string[];
  /** Absent when that half has no such property. */
  desired?: { value: unknown; lastUpdated: string | undefined };
  reported?: { value: unknown; lastUpdated: string | undefined };
  state: TwinRowState;
}

export interface TwinHalfSummary {
  version: number;
  lastUpdated: string | undefined;
  properties: JsonObject;
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A half without its `$version` and `$metadata`: the properties alone. */
export function halfOf(half: DeviceTwin['desired']): TwinHalfSummary {
  const properties: JsonObject = {};
  for (const [key, value] of Object.entries(half)) if (!key.startsWith('$')) properties[key] = value;
  const root = half.$metadata['$lastUpdated'];
  return { version: half.$version, lastUpdated: typeof root === 'string' ? root : undefined, properties };
}

/** `$lastUpdated` of the property at `path`, or of its nearest ancestor that has one. */
function lastUpdatedAt(metadata: unknown, path: string[]): string | undefined {
  let found: string | undefined;
  let node = metadata;
  for (const key of path) {
    if (!isObject(node)) break;
    node = node[key];
    if (isObject(node) && typeof node['$lastUpdated'] === 'string') found = node['$lastUpdated'];
  }
  return found;
}

/** Whether `delta` holds the property at `path` (or a leaf above it, which covers it). */
export function inDelta(delta: JsonObject, path: string[]): boolean {
  let node: unknown = delta;
  for (const key of path) {
    if (!isObject(node)) return true;
    if (!Object.hasOwn(node, key)) return false;
    node = node[key];
  }
  return true;
}

/**
 * The rows of a twin. Objects on both sides (or on one side, the other lacking the property)
 * are walked into; where one side has an object and the other a plain value, the row stops
 * there and shows both as JSON. Rows come sorted by path.
 */
export function twinRows(twin: DeviceTwin): TwinRow[] {
  const desired = halfOf(twin.desired).properties;
  const reported = halfOf(twin.reported).properties;
  const rows: TwinRow[] = [];
  const walk = (d: unknown, r: unknown, path: string[]): void => {
    const dWalks = d === undefined || (isObject(d) && Object.keys(d).length > 0);
    const rWalks = r === undefined || (isObject(r) && Object.keys(r).length > 0);
    if (path.length === 0 || (dWalks && rWalks)) {
      const keys = new Set([...Object.keys(isObject(d) ? d : {}), ...Object.keys(isObject(r) ? r : {})]);
      for (const key of [...keys].sort()) walk(isObject(d) ? d[key] : undefined, isObject(r) ? r[key] : undefined, [...path, key]);
      return;
    }
    const row: TwinRow = {
      path,
      state: d === undefined ? 'reported-only' : inDelta(twin.delta, path) ? 'pending' : 'in-sync',
    };
    if (d !== undefined) row.desired = { value: d, lastUpdated: lastUpdatedAt(twin.desired.$metadata, path) };
    if (r !== undefined) row.reported = { value: r, lastUpdated: lastUpdatedAt(twin.reported.$metadata, path) };
    rows.push(row);
  };
  walk(desired, reported, []);
  return rows;
}

/** How many desired leaf properties the device has not matched yet. */
export function pendingCount(rows: readonly TwinRow[]): number {
  return rows.filter((row) => row.state === 'pending').length;
}

/** What the patch box holds, read: a JSON value, or why it is not one. */
export type PatchText = { ok: true; value: unknown } | { ok: false; message: string };

export function readPatch(text: string): PatchText {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (err) {
    return { ok: false, message: `not valid JSON: ${err instanceof Error ? err.message : String(err)}` };
  }
}
