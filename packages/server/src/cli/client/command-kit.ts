/**
 * The option plumbing the admin commands share: repeatable-option collectors, the `--json`
 * or human answer of a command, the confirmation before a destructive step, and the
 * "shown once" warning after a secret. The wording of every line stays with the command that
 * passes it in; this module only decides where it goes.
 */
import { createInterface } from 'node:readline';
import { InvalidArgumentError } from 'commander';
import type { ApiClient, Page } from './api-client.js';
import { collectAll } from './api-client.js';
import {
  CliError,
  isTty,
  printFields,
  printJson,
  printTable,
  type CliIo,
  type ClientCommandOptions,
  type Column,
} from './output.js';

// ---------------------------------------------------------------------------------------------
// Repeatable options

function splitPair(value: string): [string, string] {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError('expected KEY=VALUE');
  return [value.slice(0, eq), value.slice(eq + 1)];
}

/** `--tag key=value`, repeatable: the last value of a key wins. */
export function collectTag(value: string, previous: Record<string, string>): Record<string, string> {
  const [key, tagValue] = splitPair(value);
  return { ...previous, [key]: tagValue };
}

/** `--attr n=42` is the number 42, `--attr n='"42"'` the string "42", `--attr n=abc` the string abc. */
export function collectAttr(value: string, previous: Record<string, unknown>): Record<string, unknown> {
  const [key, raw] = splitPair(value);
  let parsed: unknown = raw;
  try {
    parsed = JSON.parse(raw);
  } catch {
    // Not JSON: the text itself.
  }
  return { ...previous, [key]: parsed };
}

export function collectString(value: string, previous: string[]): string[] {
  return [...previous, value];
}

// ---------------------------------------------------------------------------------------------
// Answers

/** One object: the API's JSON with `--json`, else its `key: value` block. */
export function printRecord<T>(value: T, options: ClientCommandOptions, io: CliIo, fields: (value: T) => Array<[string, string]>): void {
  if (options.json) printJson(value, io.stdout);
  else printFields(fields(value), io.stdout);
}

/** Every item of a list walked to its end: one JSON page with `--json`, else a table (or `empty` on stderr). */
export function printAll<T>(
  items: readonly T[],
  options: ClientCommandOptions,
  io: CliIo,
  table: { columns: readonly Column<T>[]; empty: string },
): void {
  if (options.json) printJson({ items, nextCursor: null }, io.stdout);
  else if (items.length === 0) io.stderr.write(`${table.empty}\n`);
  else printTable(items, table.columns, io.stdout);
}

/** A step without an object to show: `json` with `--json`, else the line `text`. */
export function printDone(options: ClientCommandOptions, io: CliIo, json: unknown, text: string): void {
  if (options.json) printJson(json, io.stdout);
  else io.stdout.write(`${text}\n`);
}

/** Every item of a list resource of the API (`GET path` with `?cursor=`), all pages. */
export function listAll<T>(client: ApiClient, path: string): Promise<T[]> {
  return collectAll((cursor) => client.request<Page<T>>('GET', path, { query: { cursor } }));
}

/** Said after a secret the API answers only once; `what` names it, e.g. "this token". */
export function warnShownOnce(io: CliIo, what: string, hint = ''): void {
  io.stderr.write(`\nStore ${what} now: it will not be shown again${hint}.\n`);
}

// ---------------------------------------------------------------------------------------------
// Confirmation

/** Asks a yes/no question on the terminal; end of input (Ctrl-D) counts as no. */
export async function confirm(io: CliIo, question: string): Promise<boolean> {
  const rl = createInterface({ input: io.stdin, terminal: false });
  io.stderr.write(question);
  try {
    const answer = await new Promise<string>((resolve) => {
      rl.once('line', resolve);
      rl.once('close', () => resolve(''));
    });
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

export interface Confirmation {
  /** `--yes` was given: nothing is asked. */
  yes: boolean | undefined;
  /** The step, as a verb and its past participle: `['delete', 'deleted']`. */
  action: readonly [string, string];
  /** What it is done to: `device "cam-1"`. */
  target: string;
  /** What else it does, shown in brackets in the question. */
  consequence?: string;
}

/**
 * Goes on only with `--yes` or a yes on the terminal ("Delete device "x"? [y/N] "); without a
 * terminal it refuses, and a no aborts.
 */
export async function confirmOrStop(io: CliIo, confirmation: Confirmation): Promise<void> {
  if (confirmation.yes) return;
  const { action: [verb, done], target, consequence } = confirmation;
  if (!isTty(io.stdin) || !isTty(io.stderr)) {
    throw new CliError(`refusing to ${verb} ${target} without confirmation: pass --yes`);
  }
  const question = `${verb.charAt(0).toUpperCase()}${verb.slice(1)} ${target}${consequence ? ` (${consequence})` : ''}? [y/N] `;
  if (!(await confirm(io, question))) throw new CliError(`aborted: ${target} was not ${done}`);
}
