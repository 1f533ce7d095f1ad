import { HangarError } from '../../errors.js';
import type { LogLevel } from './ports.js';

/** What one upload may hold (docs/logs.md). */
export interface LogPayloadLimits {
  /** Bytes of one upload (a batch); more is refused whole. */
  maxBatchBytes: number;
  /** Records in one upload; more is refused whole. */
  maxBatchRecords: number;
  /** Bytes of one record's msg; a longer one is cut at a character boundary and marked truncated. */
  maxLineBytes: number;
  /** Bytes of one record's `fields` as JSON; more is refused. */
  maxFieldsBytes: number;
}

export const DEFAULT_LOG_PAYLOAD_LIMITS: LogPayloadLimits = { maxBatchBytes: 256 * 1024, maxBatchRecords: 1000, maxLineBytes: 8 * 1024, maxFieldsBytes: 4 * 1024 };

/** A record as the device sent it, checked; ts filled in with the receive time when absent. */
export interface ParsedLogRecord {
  ts: number;
  level: LogLevel;
  msg: string;
  fields?: string | undefined;
  truncated: boolean;
}

/** How the payload says what it is: JSON, plain text, or unknown (MQTT 3.1.1, no Content-Type). */
export type LogPayloadKind = 'json' | 'text' | 'auto';

/** Level names devices and logging libraries use, mapped to Hangar's four. */
const LEVEL_ALIASES: ReadonlyMap<string, LogLevel> = new Map([
  ['trace', 'debug'],
  ['verbose', 'debug'],
  ['debug', 'debug'],
  ['info', 'info'],
  ['information', 'info'],
  ['notice', 'info'],
  ['warn', 'warn'],
  ['warning', 'warn'],
  ['err', 'error'],
  ['error', 'error'],
  ['crit', 'error'],
  ['critical', 'error'],
  ['fatal', 'error'],
  ['alert', 'error'],
  ['emerg', 'error'],
  ['emergency', 'error'],
  ['panic', 'error'],
]);

/** The level a name stands for, or undefined when it is none Hangar knows. */
export function parseLogLevel(name: string): LogLevel | undefined {
  return LEVEL_ALIASES.get(name.trim().toLowerCase());
}

const RECORD_KEYS = new Set(['ts', 'level', 'msg', 'fields']);
/** 0001-01-01 … 9999-12-31: a ts outside is a unit mistake (µs, ns), not a time. */
const MIN_TS = -62_135_596_800_000;
const MAX_TS = 253_402_300_799_999;
const utf8 = new TextDecoder('utf-8', { fatal: true });
// C0 controls other than tab, line feed and carriage return, and DEL: what binary data has and text has not.
// eslint-disable-next-line no-control-regex
const BINARY = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

/**
 * Reads one upload of log records: UTF-8 text (one record per non-empty line, level info), a
 * JSON record `{"ts","level","msg","fields"?}` or a JSON array of them. Anything wrong refuses
 * the whole upload with a HangarError saying what, so a device never has half a batch stored.
 */
export function parseLogPayload(payload: Buffer, kind: LogPayloadKind, receivedAt: number, limits: LogPayloadLimits = DEFAULT_LOG_PAYLOAD_LIMITS): ParsedLogRecord[] {
  if (payload.length > limits.maxBatchBytes) throw new HangarError('PAYLOAD_TOO_LARGE', `the log upload is ${payload.length} bytes; one upload may hold at most ${limits.maxBatchBytes} bytes: send it in smaller batches`);
  let text: string;
  try {
    text = utf8.decode(payload);
  } catch {
    throw new HangarError('VALIDATION_FAILED', 'the log upload is not valid UTF-8 text; logs are text lines or JSON records, never binary data');
  }
  const binaryAt = text.search(BINARY);
  if (binaryAt >= 0) throw new HangarError('VALIDATION_FAILED', `the log upload holds a control character (code ${text.charCodeAt(binaryAt)}) at character ${binaryAt}: logs are text, not binary data`);
  const trimmed = text.trimStart();
  const looksJson = trimmed.startsWith('{') || trimmed.startsWith('[');
  let records: ParsedLogRecord[];
  if (kind === 'json' || (kind === 'auto' && looksJson)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      if (kind === 'json') throw new HangarError('INVALID_JSON', `the log upload is not valid JSON: ${(err as Error).message}`);
      parsed = undefined;
    }
    records = parsed === undefined ? textRecords(text, receivedAt, limits) : jsonRecords(parsed, receivedAt, limits);
  } else {
    records = textRecords(text, receivedAt, limits);
  }
  if (records.length === 0) throw new HangarError('VALIDATION_FAILED', 'the log upload holds no record: send text lines, a JSON record or a non-empty JSON array of records');
  return records;
}

function textRecords(text: string, receivedAt: number, limits: LogPayloadLimits): ParsedLogRecord[] {
  const records: ParsedLogRecord[] = [];
  for (const raw of text.split(/\r?\n/)) {
    if (raw.trim() === '') continue;
    if (records.length === limits.maxBatchRecords) throw tooMany(limits);
    const [msg, truncated] = cut(raw, limits.maxLineBytes);
    records.push({ ts: receivedAt, level: 'info', msg, truncated });
  }
  return records;
}

function jsonRecords(parsed: unknown, receivedAt: number, limits: LogPayloadLimits): ParsedLogRecord[] {
  if (!Array.isArray(parsed)) return [jsonRecord(parsed, receivedAt, limits, 'the record')];
  if (parsed.length > limits.maxBatchRecords) throw tooMany(limits);
  return parsed.map((item, i) => jsonRecord(item, receivedAt, limits, `record ${i}`));
}

function jsonRecord(item: unknown, receivedAt: number, limits: LogPayloadLimits, where: string): ParsedLogRecord {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) throw invalid(`${where} must be a JSON object {"ts","level","msg","fields"}, not ${describe(item)}`);
  const record = item as Record<string, unknown>;
  for (const key of Object.keys(record)) if (!RECORD_KEYS.has(key)) throw invalid(`${where} has an unknown member "${key.slice(0, 64)}": a record has ts, level, msg and fields`);
  if (typeof record.msg !== 'string') throw invalid(`${where} needs "msg", a string (found ${describe(record.msg)})`);
  let level: LogLevel = 'info';
  if (record.level !== undefined) {
    const known = typeof record.level === 'string' ? parseLogLevel(record.level) : undefined;
    if (!known) throw invalid(`${where} has level ${JSON.stringify(record.level).slice(0, 64)}: use debug, info, warn or error (or trace, warning, err, fatal, critical …)`);
    level = known;
  }
  const ts = record.ts === undefined ? receivedAt : parseTs(record.ts, where);
  let fields: string | undefined;
  if (record.fields !== undefined) {
    if (typeof record.fields !== 'object' || record.fields === null || Array.isArray(record.fields)) throw invalid(`${where} has "fields" that is ${describe(record.fields)}; fields is a JSON object`);
    fields = JSON.stringify(record.fields);
    const size = Buffer.byteLength(fields);
    if (size > limits.maxFieldsBytes) throw new HangarError('PAYLOAD_TOO_LARGE', `${where} has fields of ${size} bytes; at most ${limits.maxFieldsBytes} bytes of fields per record`);
  }
  const [msg, truncated] = cut(record.msg, limits.maxLineBytes);
  return { ts, level, msg, fields, truncated };
}

function parseTs(value: unknown, where: string): number {
  let ts: number;
  if (typeof value === 'number') ts = Math.trunc(value);
  else if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(value)) ts = Date.parse(value);
  else throw invalid(`${where} has ts ${JSON.stringify(value).slice(0, 64)}: give epoch milliseconds or an ISO 8601 time such as 2026-01-02T03:04:05Z`);
  if (!Number.isFinite(ts) || ts < MIN_TS || ts > MAX_TS) throw invalid(`${where} has ts ${JSON.stringify(value).slice(0, 64)}, which is not a time (epoch milliseconds, or ISO 8601)`);
  return ts;
}

/** `text` cut to at most `maxBytes` of UTF-8 without splitting a character. */
function cut(text: string, maxBytes: number): [string, boolean] {
  if (text.length * 3 <= maxBytes || Buffer.byteLength(text) <= maxBytes) return [text, false];
  const bytes = Buffer.from(text, 'utf8');
  let end = maxBytes;
  // Back off continuation bytes (10xxxxxx) so the cut falls between characters.
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end -= 1;
  return [bytes.subarray(0, end).toString('utf8'), true];
}

function tooMany(limits: LogPayloadLimits): HangarError {
  return new HangarError('PAYLOAD_TOO_LARGE', `the log upload holds more than ${limits.maxBatchRecords} records; send at most ${limits.maxBatchRecords} per upload`);
}

function invalid(detail: string): HangarError {
  return new HangarError('VALIDATION_FAILED', `log upload refused: ${detail}`);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return value === undefined ? 'nothing' : `a ${typeof value}`;
}
