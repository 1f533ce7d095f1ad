/**
 * What the admin CLI prints, and the plumbing every client command shares: the global
 * `--url/--token/--json` options, the streams it writes to, and the rule that a failure is
 * one line on stderr plus a non-zero `process.exitCode` (never a stack trace, never
 * `process.exit` — the caller owns the process).
 *
 * Human output: borderless aligned tables for lists, `key: value` blocks for one object.
 * Machine output (`--json`): the API's JSON, one document on stdout.
 */
import type { Readable, Writable } from 'node:stream';
import { Option, type Command } from 'commander';
import Table from 'cli-table3';
import { ApiClient, ApiError, HangarUnreachableError } from './api-client.js';

// ---------------------------------------------------------------------------------------------
// Streams

/** Where a command reads and writes; the process's streams unless a test passes its own. */
export interface CliIo {
  stdout: Writable;
  stderr: Writable;
  stdin: Readable;
  /** Replaceable for tests; the global `fetch` otherwise. */
  fetch?: typeof fetch;
}

export function resolveIo(io: Partial<CliIo> = {}): CliIo {
  return {
    stdout: io.stdout ?? process.stdout,
    stderr: io.stderr ?? process.stderr,
    stdin: io.stdin ?? process.stdin,
    ...(io.fetch ? { fetch: io.fetch } : {}),
  };
}

export function isTty(stream: Readable | Writable): boolean {
  return (stream as { isTTY?: boolean }).isTTY === true;
}

function useColour(stream: Writable): boolean {
  return isTty(stream) && process.env['NO_COLOR'] === undefined;
}

// ---------------------------------------------------------------------------------------------
// Global client options

export interface ClientCommandOptions {
  url: string;
  token?: string;
  json?: boolean;
}

export const DEFAULT_URL = 'http://localhost:8080';

/** Adds `--url`, `--token` and `--json` (with their env vars) to a command that calls the API. */
export function addClientOptions(command: Command): Command {
  return command
    .addOption(new Option('--url <url>', 'Hangar base URL').env('HANGAR_URL').default(DEFAULT_URL))
    .addOption(new Option('--token <token>', 'API key').env('HANGAR_TOKEN'))
    .option('--json', 'print the API JSON (one document) instead of a table');
}

/** The API client for a command's options; a missing token or a bad URL is a usage error. */
export function clientFor(options: ClientCommandOptions, io: CliIo): ApiClient {
  if (!options.token) throw new CliError('no API token: pass --token or set HANGAR_TOKEN');
  try {
    return new ApiClient({
      baseUrl: options.url,
      token: options.token,
      ...(io.fetch ? { fetch: io.fetch } : {}),
    });
  } catch (err) {
    throw new CliError(err instanceof Error ? err.message : String(err));
  }
}

// ---------------------------------------------------------------------------------------------
// Errors

/** A failure the CLI itself detected (bad input, refused confirmation); its message is the line. */
export class CliError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliError';
  }
}

/** What a command knows about its call, so an API error can be told in its terms. */
export interface ErrorContext {
  /** The object the command addressed: a 404 about it reads `device "x" not found (404)`. */
  subject?: { kind: string; id: string; notFoundCode: string };
  /** The fleet query sent: a 400 with `position` is shown with a caret under the query. */
  query?: string;
}

/** The one line (without `error: ` and newline) that describes `err`. */
export function describeError(err: unknown, context: ErrorContext = {}): string {
  if (err instanceof ApiError) {
    const subject = context.subject;
    if (
      err.status === 404 &&
      subject &&
      (err.code === undefined || err.code === 'NOT_FOUND' || err.code === subject.notFoundCode)
    ) {
      return `${subject.kind} "${subject.id}" not found (404)`;
    }
    let text = err.detail ?? err.title;
    const fields = err.errors
      .map((e) => (e.path ? `${e.path}: ${e.message}` : e.message))
      .filter((line) => !text.includes(line));
    if (fields.length > 0) text += `: ${fields.join('; ')}`;
    return `${oneLine(text)} (${err.status})`;
  }
  if (err instanceof HangarUnreachableError || err instanceof CliError) return oneLine(err.message);
  if (err instanceof Error) return oneLine(err.message || err.name);
  return oneLine(String(err));
}

/**
 * Prints the error line (`error: …`); for a fleet-query error with a position, the query on
 * one line and a caret under the offending characters follow.
 */
export function printError(err: unknown, stderr: Writable, context: ErrorContext = {}): void {
  stderr.write(`error: ${describeError(err, context)}\n`);
  if (err instanceof ApiError && err.position !== undefined && context.query !== undefined) {
    stderr.write(renderQueryCaret(context.query, err.position, err.length));
  }
}

/** Two lines: the query (whitespace flattened so offsets still line up) and `^~~` under it. */
export function renderQueryCaret(query: string, position: number, length = 1): string {
  // Each whitespace character becomes one space, so the server's offsets stay valid.
  const flat = sanitize(query.replace(/\s/g, ' '));
  const at = Math.max(0, Math.min(Math.trunc(position), flat.length));
  const span = Math.max(1, Math.min(Math.trunc(length), flat.length - at));
  return `  ${flat}\n  ${' '.repeat(at)}^${'~'.repeat(span - 1)}\n`;
}

/**
 * Runs a command body: any failure becomes one line on stderr and exit code 1. Commander's own
 * usage errors never get here (commander reports them itself with code 1).
 */
export async function runAction(
  io: CliIo,
  body: () => Promise<void>,
  context: ErrorContext | (() => ErrorContext) = {},
): Promise<void> {
  try {
    await body();
  } catch (err) {
    printError(err, io.stderr, typeof context === 'function' ? context() : context);
    process.exitCode = 1;
  }
}

// ---------------------------------------------------------------------------------------------
// Printing

export function printJson(value: unknown, stdout: Writable): void {
  stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export interface Column<T> {
  header: string;
  value: (row: T) => string;
}

const BORDERLESS = {
  top: '',
  'top-mid': '',
  'top-left': '',
  'top-right': '',
  bottom: '',
  'bottom-mid': '',
  'bottom-left': '',
  'bottom-right': '',
  left: '',
  'left-mid': '',
  mid: '',
  'mid-mid': '',
  right: '',
  'right-mid': '',
  middle: '   ',
};

/** An aligned, borderless table (kubectl style); the header is bold only on a colour TTY. */
export function renderTable<T>(rows: readonly T[], columns: readonly Column<T>[], colour = false): string {
  const table = new Table({
    // Bold by hand: cli-table3's styling goes through a colour library that switches itself
    // off by environment (CI, NO_COLOR), while the caller has already decided about colour.
    head: columns.map((c) => (colour ? `\u001b[1m${c.header}\u001b[22m` : c.header)),
    chars: BORDERLESS,
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0, compact: true },
  });
  for (const row of rows) table.push(columns.map((c) => sanitize(c.value(row))));
  return `${table
    .toString()
    .split('\n')
    .map((line) => line.trimEnd())
    .join('\n')}\n`;
}

export function printTable<T>(rows: readonly T[], columns: readonly Column<T>[], stdout: Writable): void {
  stdout.write(renderTable(rows, columns, useColour(stdout)));
}

/** `key: value` lines with the values aligned. */
export function renderFields(fields: ReadonlyArray<readonly [string, string]>): string {
  const width = Math.max(0, ...fields.map(([key]) => key.length + 1));
  return fields.map(([key, value]) => `${`${key}:`.padEnd(width)}  ${sanitize(value)}\n`).join('');
}

export function printFields(fields: ReadonlyArray<readonly [string, string]>, stdout: Writable): void {
  stdout.write(renderFields(fields));
}

// ---------------------------------------------------------------------------------------------
// Value formatting for human output

export function formatValue(value: unknown): string {
  if (value === null || value === undefined || value === '') return '-';
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  return JSON.stringify(value);
}

/** ISO times without the milliseconds: `2025-01-02T03:04:05Z`. */
export function formatTime(value: string | null | undefined): string {
  if (!value) return '-';
  return value.replace(/\.\d+Z$/, 'Z');
}

/** `k=v,k2=v2`, keys sorted. */
export function formatTags(tags: Record<string, string> | null | undefined): string {
  const entries = Object.entries(tags ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return entries.length === 0 ? '-' : entries.map(([k, v]) => `${k}=${v}`).join(',');
}

export function formatList(values: readonly string[] | null | undefined): string {
  return values && values.length > 0 ? values.join(', ') : '-';
}

/**
 * Server data goes to a terminal: control characters (escape sequences, newlines) are shown
 * as `?` so a device attribute cannot move the cursor or break a table row.
 */
export function sanitize(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}

function oneLine(text: string): string {
  return sanitize(text.replace(/\s+/g, ' ').trim());
}
