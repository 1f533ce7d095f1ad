import type { TelemetryLimits, TelemetryPoint } from './telemetry-point.js';
import { PointSink, checkKey, checkTs, checkValue, isValidKey, messageOf, refuse, refuseRepeatedReadings } from './telemetry-point.js';

/**
 * Hangar's plain JSON telemetry (DESIGN §5): `{"temp":21.5,"door":"open"}` (stamped with the
 * server's receive time), `{"ts":ms,"values":{…}}`, or an array of either.
 */
export function decodeJsonTelemetry(text: string, now: number, limits: TelemetryLimits): TelemetryPoint[] {
  const doc = parseJson(text);
  const sink = new PointSink(limits);
  if (Array.isArray(doc)) {
    if (doc.length === 0) throw refuse('the payload is an empty array: it holds no readings');
    const starts: number[] = [];
    doc.forEach((message, i) => {
      starts.push(sink.points.length);
      readMessage(message, `[${i}]`, now, limits, sink);
    });
    if (doc.length > 1) refuseRepeatedReadings(sink.points, (p) => `[${messageOf(starts, p)}]`, 'give each reading its own ts: {"ts":…,"values":{…}}');
  } else {
    readMessage(doc, '$', now, limits, sink);
  }
  if (sink.points.length === 0) throw refuse('the payload holds no readings');
  return sink.points;
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw refuse(`the payload is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function readMessage(message: unknown, where: string, now: number, limits: TelemetryLimits, sink: PointSink): void {
  if (message === null || typeof message !== 'object' || Array.isArray(message)) {
    throw refuse(`${where}: a telemetry message must be a JSON object such as {"temp":21.5} or {"ts":1700000000000,"values":{"temp":21.5}}`);
  }
  const obj = message as Record<string, unknown>;
  if ('values' in obj) {
    const extra = Object.keys(obj).filter((k) => k !== 'ts' && k !== 'values');
    if (extra.length > 0) throw refuse(`${where}: a {"ts","values"} message may hold nothing else, but it has "${extra[0]}"`);
    const values = obj.values;
    if (values === null || typeof values !== 'object' || Array.isArray(values)) throw refuse(`${where}.values: must be an object of key → value`);
    let ts = now;
    if ('ts' in obj) {
      if (typeof obj.ts !== 'number' || !Number.isInteger(obj.ts)) throw refuse(`${where}.ts: must be an integer number of milliseconds since 1970-01-01 UTC`);
      ts = checkTs(obj.ts, `${where}.ts`, now, limits);
    }
    readValues(values as Record<string, unknown>, `${where}.values`, ts, limits, sink);
    return;
  }
  if ('ts' in obj) throw refuse(`${where}: "ts" is reserved for timestamped messages: send {"ts":…,"values":{…}}`);
  readValues(obj, where, now, limits, sink);
}

function readValues(values: Record<string, unknown>, where: string, ts: number, limits: TelemetryLimits, sink: PointSink): void {
  const keys = Object.keys(values);
  for (let i = 0; i < keys.length; i += 1) {
    const key = keys[i]!;
    const value = values[key];
    // The common reading — a finite number under a plain key — needs no place name for an error.
    if (typeof value === 'number' && Number.isFinite(value) && isValidKey(key)) {
      sink.add(key, ts, value);
      continue;
    }
    const at = `${where}.${key}`;
    sink.add(checkKey(key, at), ts, checkValue(value, at, limits));
  }
}
