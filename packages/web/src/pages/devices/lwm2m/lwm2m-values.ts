/**
 * Pure helpers of the device page's LwM2M panel: where its current values come from (the
 * reported twin's `lwm2m` section, operation answers, telemetry events) and how a typed input
 * becomes the JSON value the REST API takes (docs/lwm2m.md, "REST").
 */

export interface ShownValue {
  value: unknown;
  /** Epoch ms of the newest source: a reading's time, an answer's arrival. */
  at: number;
}

/** `/3303/0/5700` → `3303.0.5700`, the telemetry key Hangar files an LwM2M value under. */
const PATH_KEY = /^\d+(\.\d+){2,3}$/;

/** The LwM2M path of a telemetry key (`3303.0.5700` → `/3303/0/5700`), or null for a named key. */
export function pathOfTelemetryKey(key: string): string | null {
  return PATH_KEY.test(key) ? `/${key.split('.').join('/')}` : null;
}

/**
 * The reported twin's `lwm2m` section (object → instance → resource → resource instance, as
 * docs/lwm2m.md's mapping nests it) as one value per resource path. A multiple resource keeps
 * its instances together under the resource's path.
 */
export function valuesFromReported(lwm2m: unknown, at: number): Map<string, ShownValue> {
  const out = new Map<string, ShownValue>();
  if (!isRecord(lwm2m)) return out;
  for (const [o, instances] of Object.entries(lwm2m)) {
    if (!isRecord(instances)) continue;
    for (const [i, resources] of Object.entries(instances)) {
      if (!isRecord(resources)) continue;
      for (const [r, value] of Object.entries(resources)) if (/^\d+$/.test(r)) out.set(`/${o}/${i}/${r}`, { value, at });
    }
  }
  return out;
}

/**
 * Values an answer or a notification carried, by resource path: a resource-instance value
 * (`/3/0/7/1`) joins its resource's instances.
 */
export function mergeValues(into: Map<string, ShownValue>, values: Array<{ path: string; value: unknown }>, at: number): Map<string, ShownValue> {
  const next = new Map(into);
  for (const v of values) {
    const segments = v.path.split('/').filter((s) => s !== '');
    if (segments.length === 3) next.set(v.path, { value: v.value, at });
    else if (segments.length === 4) {
      const resourcePath = `/${segments.slice(0, 3).join('/')}`;
      const prev = next.get(resourcePath)?.value;
      next.set(resourcePath, { value: { ...(isRecord(prev) ? prev : {}), [segments[3]!]: v.value }, at });
    }
  }
  return next;
}

/** A value for a table cell: text as it is, the rest as compact JSON. */
export function displayValue(value: unknown): string {
  if (value === undefined) return '';
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}

/** Resource types (OMA DDF) whose values are numbers on the wire. */
const NUMERIC = new Set(['Integer', 'Unsigned Integer', 'Float']);
const NUMBER_TEXT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/**
 * What a write form sends for a resource of `type`. Text that reads as the type becomes that
 * type (a number, a boolean); anything else goes as typed, so the server — which knows the
 * registry's rules (unsigned, integer, base64, "o:i") — answers with the reason it refuses it.
 */
export function inputToValue(type: string, text: string): unknown {
  const t = text.trim();
  if (NUMERIC.has(type)) {
    if (!NUMBER_TEXT.test(t)) return text;
    // Integers past 2^53 go as text: the server takes a bigint as a decimal string.
    if (type !== 'Float' && /^[+-]?\d+$/.test(t) && !Number.isSafeInteger(Number(t))) return t;
    return Number(t);
  }
  if (type === 'Boolean') return t === 'true' ? true : t === 'false' ? false : text;
  // Time: seconds since the epoch, or an ISO 8601 time the server converts.
  if (type === 'Time') return /^\d+$/.test(t) ? Number(t) : t;
  return text;
}

/** The text a write form starts from: the current value, if it has one. */
export function valueToInput(value: unknown): string {
  if (value === undefined || value === null) return '';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** The observations the panel knows of, one path each (a composite shows as its paths joined). */
export function observedPathSet(observations: string[][]): Set<string> {
  return new Set(observations.map((paths) => paths.join(',')));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
