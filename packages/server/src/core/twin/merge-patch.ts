/**
 * JSON merge patch (RFC 7396) and the twin's per-property metadata, as pure functions.
 */

export type JsonObject = Record<string, unknown>;

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * RFC 7396 §2 MergePatch: `null` removes a member, an object merges into an object member, any
 * other value (arrays included) replaces it. Returns a new object; `target` is not changed.
 */
export function applyMergePatch(target: JsonObject, patch: JsonObject): JsonObject {
  const result: JsonObject = { ...target };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else if (isJsonObject(value)) result[key] = applyMergePatch(isJsonObject(result[key]) ? result[key] : {}, value);
    else result[key] = value;
  }
  return result;
}

/**
 * The metadata tree after `patch`: every member the patch sets gets `$lastUpdated` = `at`
 * (members nested inside a set object too), removed members lose their metadata, and the
 * root's `$lastUpdated` is the time of the last change to the half. Keys of properties never
 * start with `$` (refused on write), so `$lastUpdated` cannot collide with a property.
 */
export function applyMetadata(metadata: JsonObject, patch: JsonObject, result: JsonObject, at: string): JsonObject {
  const next: JsonObject = { ...metadata, $lastUpdated: at };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete next[key];
    else if (isJsonObject(value)) next[key] = applyMetadata(isJsonObject(metadata[key]) && isJsonObject(result[key]) ? metadata[key] : {}, value, isJsonObject(result[key]) ? result[key] : {}, at);
    else next[key] = { $lastUpdated: at };
  }
  return next;
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => deepEqual(v, b[i]));
  if (isJsonObject(a) && isJsonObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}

/** The desired properties reported does not match yet (nested objects compared member by member). */
export function twinDelta(desired: JsonObject, reported: JsonObject): JsonObject {
  const delta: JsonObject = {};
  for (const [key, want] of Object.entries(desired)) {
    const have = reported[key];
    if (isJsonObject(want) && isJsonObject(have)) {
      const inner = twinDelta(want, have);
      if (Object.keys(inner).length > 0) delta[key] = inner;
    } else if (!deepEqual(want, have)) delta[key] = want;
  }
  return delta;
}

/** The first member name starting with `$`, at any depth, as a JSON pointer; `undefined` when none. */
export function reservedKeyPath(value: JsonObject, prefix = ''): string | undefined {
  for (const [key, member] of Object.entries(value)) {
    if (key.startsWith('$')) return `${prefix}/${key}`;
    if (isJsonObject(member)) {
      const inner = reservedKeyPath(member, `${prefix}/${key}`);
      if (inner !== undefined) return inner;
    }
  }
  return undefined;
}
