import type { Readable } from 'node:stream';
import { parse, type CsvError } from 'csv-parse';

/** One input row of a bulk import, already split into fields but not yet checked. */
export interface ImportRow {
  line: number;
  fields?: { id?: unknown; type?: unknown; tags?: unknown; attributes?: unknown };
  /** Set when the row could not even be read; the row is reported and skipped. */
  error?: string;
  /** A fault after which nothing more can be read (e.g. an unclosed quote). */
  fatal?: boolean;
}

export type ImportFormat = 'csv' | 'ndjson';

const MAX_LINE_BYTES = 64 * 1024;

/**
 * Reads NDJSON line by line from a stream, holding at most one line (capped) in memory.
 * Blank lines are skipped; each other line must be one JSON object.
 */
export async function* ndjsonRows(input: Readable): AsyncGenerator<ImportRow> {
  let buffered = '';
  let line = 0;
  let oversized = false;
  const decoder = new TextDecoder('utf-8', { fatal: false });
  const emit = function* (text: string): Generator<ImportRow> {
    line += 1;
    if (oversized) {
      oversized = false;
      yield { line, error: `line is longer than ${MAX_LINE_BYTES} bytes` };
      return;
    }
    const trimmed = text.trim();
    if (trimmed === '') return;
    let value: unknown;
    try {
      value = JSON.parse(trimmed);
    } catch (err) {
      yield { line, error: `invalid JSON: ${(err as Error).message}` };
      return;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      yield { line, error: 'each line must be a JSON object' };
      return;
    }
    const { id, type, tags, attributes, ...rest } = value as Record<string, unknown>;
    const unknown = Object.keys(rest);
    if (unknown.length > 0) {
      yield { line, error: `unknown field ${JSON.stringify(unknown[0])} (allowed: id, type, tags, attributes)` };
      return;
    }
    yield { line, fields: { id, type, tags, attributes } };
  };
  for await (const chunk of input) {
    buffered += typeof chunk === 'string' ? chunk : decoder.decode(chunk as Uint8Array, { stream: true });
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const text = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      yield* emit(text);
    }
    if (buffered.length > MAX_LINE_BYTES) {
      // Drop the rest of an oversized line rather than holding it: it is reported, not stored.
      oversized = true;
      buffered = '';
    }
  }
  buffered += decoder.decode();
  if (buffered.length > 0 || oversized) yield* emit(buffered);
}

/**
 * Reads CSV with a header row: `id` (required), `type`, `tags.K` and `attributes.K` columns.
 * A record with the wrong column count is reported and skipped; broken quoting that cannot
 * be resynchronised ends the import at that line (rows before it are kept).
 */
export async function* csvRows(input: Readable): AsyncGenerator<ImportRow> {
  const skipped: ImportRow[] = [];
  const parser = parse({
    bom: true,
    skip_empty_lines: true,
    relax_column_count: false,
    skip_records_with_error: true,
    max_record_size: MAX_LINE_BYTES,
    info: true,
    on_skip: (err: CsvError | undefined) => {
      if (err) skipped.push({ line: Number((err as CsvError & { lines?: number }).lines ?? 0), error: describeCsvError(err) });
      return undefined;
    },
  });
  input.on('error', (err) => parser.destroy(err));
  input.pipe(parser);
  let header: string[] | undefined;
  let columns: Array<(fields: Required<ImportRow>['fields'], value: string) => void> = [];
  try {
    for await (const item of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      while (skipped.length > 0) yield skipped.shift()!;
      const { record, info } = item;
      if (!header) {
        header = record.map((h) => h.trim());
        const problem = checkHeader(header);
        if (problem) {
          yield { line: info.lines, error: problem, fatal: true };
          return;
        }
        columns = header.map(columnSetter);
        continue;
      }
      const fields: Required<ImportRow>['fields'] = { tags: {}, attributes: {} };
      record.forEach((value, i) => columns[i]!(fields, value));
      yield { line: info.lines, fields };
    }
  } catch (err) {
    while (skipped.length > 0) yield skipped.shift()!;
    const e = err as CsvError & { lines?: number };
    if (typeof e.code === 'string' && e.code.startsWith('CSV_')) {
      yield { line: Number(e.lines ?? 0), error: describeCsvError(e), fatal: true };
      return;
    }
    throw err;
  }
  while (skipped.length > 0) yield skipped.shift()!;
}

function describeCsvError(err: CsvError): string {
  switch (err.code) {
    case 'CSV_RECORD_INCONSISTENT_FIELDS_LENGTH':
    case 'CSV_RECORD_INCONSISTENT_COLUMNS':
      return 'wrong number of columns for the header';
    case 'CSV_QUOTE_NOT_CLOSED':
      return 'a quoted field is never closed; the import stops here';
    case 'CSV_INVALID_CLOSING_QUOTE':
      return 'invalid quoting: a closing quote is followed by other characters';
    case 'CSV_MAX_RECORD_SIZE':
      return `record is longer than ${MAX_LINE_BYTES} bytes`;
    default:
      return `unreadable CSV: ${err.message}`;
  }
}

function checkHeader(header: string[]): string | undefined {
  if (!header.includes('id')) return 'the header row has no "id" column';
  const seen = new Set<string>();
  for (const h of header) {
    if (seen.has(h)) return `the header names column "${h}" twice`;
    seen.add(h);
    if (h !== 'id' && h !== 'type' && !/^tags\.[A-Za-z0-9_.:-]{1,64}$/.test(h) && !/^attributes\.[A-Za-z0-9_.:-]{1,64}$/.test(h)) {
      return `unknown column "${h}" (allowed: id, type, tags.KEY, attributes.KEY)`;
    }
  }
  return undefined;
}

function columnSetter(name: string): (fields: Required<ImportRow>['fields'], value: string) => void {
  if (name === 'id') return (f, v) => (f.id = v.trim());
  if (name === 'type') return (f, v) => (f.type = v.trim() === '' ? undefined : v.trim());
  if (name.startsWith('tags.')) {
    const key = name.slice(5);
    // An empty cell means "no such tag on this row", not an empty tag.
    return (f, v) => {
      if (v !== '') (f.tags as Record<string, string>)[key] = v;
    };
  }
  const key = name.slice('attributes.'.length);
  return (f, v) => {
    if (v !== '') (f.attributes as Record<string, unknown>)[key] = parseCell(v);
  };
}

/** Attribute cells hold JSON when they parse as JSON (numbers, booleans, objects), else text. */
function parseCell(v: string): unknown {
  try {
    return JSON.parse(v) as unknown;
  } catch {
    return v;
  }
}
