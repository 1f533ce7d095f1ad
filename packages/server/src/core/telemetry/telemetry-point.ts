import type { TelemetryScalar } from '../../bus/events.js';
import { HangarError } from '../../errors.js';

/** One reading: a key's value at an instant (epoch ms). */
export interface TelemetryPoint {
  key: string;
  ts: number;
  value: TelemetryScalar;
}

/** What a payload may hold; each bound is refused with its own clear message. */
export interface TelemetryLimits {
  maxPayloadBytes: number;
  /** Readings per payload, over every message of an array or record of a SenML pack. */
  maxPoints: number;
  /** UTF-8 bytes of one string value. */
  maxStringBytes: number;
  /** How far ahead of the server's clock a timestamp may be (device clocks drift). */
  maxFutureMs: number;
  /** The earliest timestamp accepted: anything earlier is a device without a set clock. */
  minTs: number;
}

export const DEFAULT_TELEMETRY_LIMITS: TelemetryLimits = {
  maxPayloadBytes: 256 * 1024,
  maxPoints: 1000,
  maxStringBytes: 1024,
  maxFutureMs: 60 * 60 * 1000,
  minTs: Date.UTC(2000, 0, 1),
};

export const MAX_KEY_LENGTH = 128;
/**
 * Keys are what fleet queries name as `telemetry.K`: the query lexer reads `[A-Za-z0-9_.:-]`
 * as part of one word, so a key made of anything else could be stored but never queried.
 */
const KEY = /^[A-Za-z0-9_][A-Za-z0-9_.:-]*$/;

export function refuse(detail: string): HangarError {
  return new HangarError('VALIDATION_FAILED', detail);
}

/** Whether checkKey would accept `key` (without building an error message). */
export function isValidKey(key: string): boolean {
  return key.length > 0 && key.length <= MAX_KEY_LENGTH && KEY.test(key);
}

/** Throws VALIDATION_FAILED unless `key` can be stored and queried; `where` names its place in the payload. */
export function checkKey(key: string, where: string): string {
  if (key.length === 0) throw refuse(`${where}: an empty key`);
  if (key.length > MAX_KEY_LENGTH) throw refuse(`${where}: key "${key.slice(0, 40)}…" is ${key.length} characters long; the limit is ${MAX_KEY_LENGTH}`);
  if (!KEY.test(key)) {
    throw refuse(`${where}: key ${JSON.stringify(key)} may only hold A–Z a–z 0–9 _ . : - (and not start with . : -), so that fleet queries can name it as telemetry.<key>`);
  }
  return key;
}

/** A reading's value: a finite number, a bounded string or a boolean; anything else is refused. */
export function checkValue(value: unknown, where: string, limits: TelemetryLimits): TelemetryScalar {
  switch (typeof value) {
    case 'number':
      if (!Number.isFinite(value)) throw refuse(`${where}: ${String(value)} is not a finite number`);
      return value;
    case 'boolean':
      return value;
    case 'string': {
      const bytes = Buffer.byteLength(value, 'utf8');
      if (bytes > limits.maxStringBytes) throw refuse(`${where}: the string is ${bytes} bytes long; the limit is ${limits.maxStringBytes}`);
      return value;
    }
    default:
      if (value === null) throw refuse(`${where}: null is not a value (omit the key instead)`);
      if (Array.isArray(value) || typeof value === 'object') {
        throw refuse(`${where}: nested objects and arrays are not accepted; send scalars under flat keys such as "gps.lat"`);
      }
      throw refuse(`${where}: a value must be a number, a string or a boolean`);
  }
}

/** Throws unless `ts` is an integer epoch-ms time within the accepted window around `now`. */
export function checkTs(ts: number, where: string, now: number, limits: TelemetryLimits): number {
  if (!Number.isFinite(ts)) throw refuse(`${where}: the time is not a finite number`);
  if (ts < limits.minTs) {
    const hint = ts > 0 && ts * 1000 >= limits.minTs && ts * 1000 <= now + limits.maxFutureMs ? ' (it looks like seconds; ts is in milliseconds)' : '';
    throw refuse(`${where}: time ${ts} is before ${new Date(limits.minTs).toISOString()}${hint}`);
  }
  if (ts > now + limits.maxFutureMs) {
    // Past year 275760 a Date cannot be formatted (toISOString throws): say the number instead.
    const shown = ts <= 8.64e15 ? new Date(ts).toISOString() : String(ts);
    throw refuse(`${where}: time ${shown} is more than ${Math.round(limits.maxFutureMs / 60_000)} minutes ahead of the server's clock`);
  }
  return ts;
}

/**
 * Throws VALIDATION_FAILED if the payload gives one key twice at the same time. History keeps one
 * reading per (device, key, ts) — the first — so the second would be acknowledged and then
 * dropped: typically `[{"temp":1},{"temp":2}]`, where both take the one receive time of the
 * payload. Only payloads of several messages or records can repeat a key (JSON objects cannot),
 * so callers run this for those alone and a single object costs nothing. `placeOf(i)` names
 * where point i came from; `hint` says how to send such readings instead.
 */
export function refuseRepeatedReadings(points: readonly TelemetryPoint[], placeOf: (index: number) => string, hint: string): void {
  const seen = new Map<string, number>();
  for (let i = 0; i < points.length; i += 1) {
    const { key, ts } = points[i]!;
    const id = `${ts}\u0000${key}`;
    const first = seen.get(id);
    if (first !== undefined) {
      throw refuse(`${placeOf(i)}: key "${key}" is given again for the same time as in ${placeOf(first)} (${new Date(ts).toISOString()}); only one reading per key and time is kept, so ${hint}`);
    }
    seen.set(id, i);
  }
}

/** The index of the message a point came from, given where each message's points start. */
export function messageOf(starts: readonly number[], point: number): number {
  let i = starts.length - 1;
  while (i > 0 && starts[i]! > point) i -= 1;
  return i;
}

/** Collects points and refuses the payload as soon as it holds more than the limit. */
export class PointSink {
  readonly points: TelemetryPoint[] = [];

  constructor(private readonly limits: TelemetryLimits) {}

  add(key: string, ts: number, value: TelemetryScalar): void {
    if (this.points.length >= this.limits.maxPoints) {
      throw refuse(`the payload holds more than ${this.limits.maxPoints} readings; split it into several messages`);
    }
    this.points.push({ key, ts, value });
  }
}
