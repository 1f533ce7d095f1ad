/**
 * The create form's own checks, the same the server makes (docs/configurations.md "Limits and
 * refusals"), so that a typo is pointed at before a round trip. The server stays the judge: what
 * it refuses anyway is shown as it says it.
 */

/** Content over this much JSON is refused with 413. */
export const MAX_CONTENT_BYTES = 32 * 1024;
const MAX_LABELS = 32;

export type Checked<T> = { ok: true; value: T } | { ok: false; message: string };

/** Where in the content the first `$` name or `null` value sits, as `a.b.c`. */
function firstBadValue(value: unknown, path: string[]): string | undefined {
  if (value === null) return `${path.join('.')} is null (a merge patch would delete it; leave the property out instead)`;
  if (typeof value !== 'object' || Array.isArray(value)) return undefined;
  for (const [key, child] of Object.entries(value)) {
    if (key.startsWith('$')) return `${[...path, key].join('.')}: property names may not start with $`;
    const bad = firstBadValue(child, [...path, key]);
    if (bad) return bad;
  }
  return undefined;
}

/** The desired properties typed as JSON: a non-empty object, no `$` names, no nulls, ≤ 32 KiB. */
export function readDesired(text: string): Checked<Record<string, unknown>> {
  if (text.trim() === '') return { ok: false, message: 'Desired properties are required: a JSON object such as {"interval": 30}.' };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, message: `Not valid JSON: ${err instanceof Error ? err.message : String(err)}` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, message: `Desired properties must be a JSON object, not ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}.` };
  }
  if (Object.keys(value).length === 0) return { ok: false, message: 'Desired properties must set at least one property.' };
  const bad = firstBadValue(value, []);
  if (bad) return { ok: false, message: `Not allowed: ${bad}.` };
  const size = new TextEncoder().encode(JSON.stringify({ desired: value })).length;
  if (size > MAX_CONTENT_BYTES) return { ok: false, message: `The content is ${size} bytes of JSON; at most ${MAX_CONTENT_BYTES} are allowed.` };
  return { ok: true, value: value as Record<string, unknown> };
}

/** `key=value` lines (blank lines ignored): keys 1–64 characters, values ≤ 256, at most 32. */
export function readLabels(text: string): Checked<Record<string, string>> {
  const labels: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? '').trim();
    if (!line) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) return { ok: false, message: `Labels line ${i + 1}: expected key=value, got "${line}".` };
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    if (key.length < 1 || key.length > 64) return { ok: false, message: `Labels line ${i + 1}: the key must be 1–64 characters.` };
    if (value.length > 256) return { ok: false, message: `Labels line ${i + 1}: the value is longer than 256 characters.` };
    labels[key] = value;
  }
  if (Object.keys(labels).length > MAX_LABELS) return { ok: false, message: `At most ${MAX_LABELS} labels.` };
  return { ok: true, value: labels };
}

export function labelLines(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n');
}

export const MIN_PRIORITY = -1_000_000;
export const MAX_PRIORITY = 1_000_000;

export function readPriority(text: string): Checked<number> {
  const trimmed = text.trim();
  if (trimmed === '') return { ok: true, value: 0 };
  if (!/^-?\d+$/.test(trimmed)) return { ok: false, message: `Priority must be a whole number, not "${trimmed}".` };
  const value = Number(trimmed);
  if (value < MIN_PRIORITY || value > MAX_PRIORITY) return { ok: false, message: `Priority must be between ${MIN_PRIORITY} and ${MAX_PRIORITY}.` };
  return { ok: true, value };
}

/** Higher priority first; ties by the lower id, compared code unit by code unit as the server does. */
export function byPrecedence(a: { priority: number; id: string }, b: { priority: number; id: string }): number {
  if (a.priority !== b.priority) return b.priority - a.priority;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
