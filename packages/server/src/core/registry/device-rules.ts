import { isValidDeviceId } from '@hangar/protocol';
import { HangarError } from '../../errors.js';
import { ATTRIBUTES_MAX_BYTES, TAG_KEY_PATTERN, TAG_VALUE_MAX, TYPE_PATTERN } from './device.js';

/** The registry's rules for device fields, shared by single writes and bulk import. */
export function checkDeviceId(id: unknown): string {
  if (typeof id !== 'string' || !isValidDeviceId(id)) {
    throw new HangarError('VALIDATION_FAILED', `device id ${JSON.stringify(id)} is invalid: use 1–128 characters of A–Z a–z 0–9 . _ : -`);
  }
  return id;
}

export function checkType(type: unknown): string {
  if (typeof type !== 'string' || !TYPE_PATTERN.test(type)) {
    throw new HangarError('VALIDATION_FAILED', `device type ${JSON.stringify(type)} is invalid: use 1–64 characters of A–Z a–z 0–9 . _ : -`);
  }
  return type;
}

/** Tags patch: string values set, null removes (JSON merge patch, RFC 7396). */
export function checkTags(tags: unknown, allowNull: boolean): Record<string, string | null> {
  if (tags === null || typeof tags !== 'object' || Array.isArray(tags)) throw new HangarError('VALIDATION_FAILED', 'tags must be an object of string values');
  const out: Record<string, string | null> = {};
  const entries = Object.entries(tags as Record<string, unknown>);
  if (entries.length > 64) throw new HangarError('VALIDATION_FAILED', 'a device has at most 64 tags');
  for (const [key, value] of entries) {
    if (!TAG_KEY_PATTERN.test(key)) throw new HangarError('VALIDATION_FAILED', `tag key ${JSON.stringify(key)} is invalid: use 1–64 characters of A–Z a–z 0–9 . _ : -`);
    if (value === null && allowNull) {
      out[key] = null;
      continue;
    }
    if (typeof value !== 'string') throw new HangarError('VALIDATION_FAILED', `tag "${key}" must be a string${allowNull ? ' (or null to remove it)' : ''}`);
    if (value.length > TAG_VALUE_MAX) throw new HangarError('VALIDATION_FAILED', `tag "${key}" is longer than ${TAG_VALUE_MAX} characters`);
    out[key] = value;
  }
  return out;
}

export function checkAttributes(attributes: unknown): Record<string, unknown> {
  if (attributes === null || typeof attributes !== 'object' || Array.isArray(attributes)) throw new HangarError('VALIDATION_FAILED', 'attributes must be an object');
  if (JSON.stringify(attributes).length > ATTRIBUTES_MAX_BYTES) throw new HangarError('VALIDATION_FAILED', `attributes are larger than ${ATTRIBUTES_MAX_BYTES} bytes`);
  return attributes as Record<string, unknown>;
}

/** RFC 7396 JSON merge patch of one level of keys (null removes). */
export function mergeFlat<T>(base: Record<string, T>, patch: Record<string, T | null>): Record<string, T> {
  const out: Record<string, T> = { ...base };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = v;
  }
  return out;
}

/** Full RFC 7396 merge patch, for attributes whose values nest. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const base: Record<string, unknown> = target !== null && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete base[k];
    else base[k] = mergePatch(base[k], v);
  }
  return base;
}

export function sameJson(a: unknown, b: unknown): boolean {
  return stableStringify(a) === stableStringify(b);
}

function stableStringify(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(stableStringify).join(',')}]`;
  const keys = Object.keys(v as object).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${stableStringify((v as Record<string, unknown>)[k])}`).join(',')}}`;
}
