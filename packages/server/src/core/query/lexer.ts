/**
 * Tokenizer of the fleet query language, and the error every stage of it throws.
 *
 * Positions are 0-based offsets in UTF-16 code units (JavaScript string indices), so a UI can
 * highlight `text.slice(position, position + length)` directly.
 */

/** A query the language cannot accept. `position`/`length` locate the offending text. */
export class FleetQuerySyntaxError extends Error {
  override readonly name = 'FleetQuerySyntaxError';
  readonly position: number;
  readonly length: number;

  constructor(message: string, position: number, length: number) {
    super(message);
    this.position = position;
    this.length = length;
  }
}

export type Keyword = 'AND' | 'OR' | 'NOT' | 'IN';
export type OperatorText = '=' | '!=' | '<' | '<=' | '>' | '>=' | '~';

interface TokenBase {
  position: number;
  length: number;
  /** The source text of the token, for messages. */
  text: string;
}

export type Token =
  | (TokenBase & { kind: 'word' })
  | (TokenBase & { kind: 'keyword'; keyword: Keyword })
  | (TokenBase & { kind: 'boolean'; value: boolean })
  | (TokenBase & { kind: 'string'; value: string })
  | (TokenBase & { kind: 'number'; value: number })
  | (TokenBase & { kind: 'relativeTime'; ms: number })
  | (TokenBase & { kind: 'operator'; op: OperatorText })
  | (TokenBase & { kind: '(' | ')' | ',' | 'end' });

const KEYWORDS: ReadonlyMap<string, Keyword> = new Map([
  ['AND', 'AND'],
  ['OR', 'OR'],
  ['NOT', 'NOT'],
  ['IN', 'IN'],
]);

const UNIT_MS: Readonly<Record<string, number>> = {
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

const MAX_RELATIVE_MS = 36_500 * 86_400_000;

// A word is a field name or keyword. `.`, `:` and `-` continue a word so that `tags.rack.row`,
// `tags.a:b` and `telemetry.battery-level` are one token; a word cannot start with them, so
// `-15m` and `.5` never lex as words.
const WORD_START = /[A-Za-z_]/;
const WORD_PART = /[A-Za-z0-9_.:-]/;
const DIGIT = /[0-9]/;
const SPACE = /\s/;

/** Splits `text` into tokens, ending with one `end` token. Throws FleetQuerySyntaxError. */
export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    if (SPACE.test(c)) {
      i += 1;
      continue;
    }
    const start = i;
    if (c === '(' || c === ')' || c === ',') {
      tokens.push({ kind: c, position: start, length: 1, text: c });
      i += 1;
    } else if (c === '"') {
      i = readString(text, start, tokens);
    } else if (DIGIT.test(c) || (c === '-' && DIGIT.test(text[i + 1] ?? ''))) {
      i = readNumber(text, start, tokens);
    } else if (WORD_START.test(c)) {
      while (i < text.length && WORD_PART.test(text[i] as string)) i += 1;
      const word = text.slice(start, i);
      const upper = word.toUpperCase();
      const keyword = KEYWORDS.get(upper);
      const base = { position: start, length: i - start, text: word };
      if (keyword !== undefined) tokens.push({ ...base, kind: 'keyword', keyword });
      else if (upper === 'TRUE' || upper === 'FALSE') tokens.push({ ...base, kind: 'boolean', value: upper === 'TRUE' });
      else tokens.push({ ...base, kind: 'word' });
    } else if (c === '=' || c === '~') {
      tokens.push({ kind: 'operator', op: c, position: start, length: 1, text: c });
      i += 1;
    } else if (c === '<' || c === '>') {
      const op: OperatorText = text[i + 1] === '=' ? (c === '<' ? '<=' : '>=') : c;
      tokens.push({ kind: 'operator', op, position: start, length: op.length, text: op });
      i += op.length;
    } else if (c === '!' && text[i + 1] === '=') {
      tokens.push({ kind: 'operator', op: '!=', position: start, length: 2, text: '!=' });
      i += 2;
    } else {
      const hint = c === '!' ? " (did you mean '!=' or NOT?)" : c === "'" ? ' (strings use double quotes)' : '';
      const shown = String.fromCodePoint(text.codePointAt(i) as number);
      throw new FleetQuerySyntaxError(`unexpected character '${shown}' at position ${start}${hint}`, start, shown.length);
    }
  }
  tokens.push({ kind: 'end', position: text.length, length: 0, text: '' });
  return tokens;
}

/** Reads `"…"` starting at `start`; only `\"` and `\\` are escapes. Returns the index after it. */
function readString(text: string, start: number, tokens: Token[]): number {
  let value = '';
  let i = start + 1;
  while (i < text.length) {
    const c = text[i] as string;
    if (c === '"') {
      tokens.push({ kind: 'string', value, position: start, length: i + 1 - start, text: text.slice(start, i + 1) });
      return i + 1;
    }
    if (c === '\\') {
      const next = text[i + 1];
      if (next === '"' || next === '\\') {
        value += next;
        i += 2;
        continue;
      }
      const shown = next === undefined ? '\\' : `\\${next}`;
      throw new FleetQuerySyntaxError(
        `unknown escape '${shown}' at position ${i} (strings allow only \\" and \\\\)`,
        i,
        shown.length,
      );
    }
    value += c;
    i += 1;
  }
  throw new FleetQuerySyntaxError(`unterminated string starting at position ${start}`, start, text.length - start);
}

/**
 * Reads a number (`12`, `-3.5`) or a relative time (`-15m`) starting at `start`. A relative
 * time is a negative whole number with one of the units s, m, h, d glued to it.
 */
function readNumber(text: string, start: number, tokens: Token[]): number {
  let i = start;
  if (text[i] === '-') i += 1;
  while (DIGIT.test(text[i] ?? '')) i += 1;
  let integral = true;
  if (text[i] === '.' && DIGIT.test(text[i + 1] ?? '')) {
    integral = false;
    i += 1;
    while (DIGIT.test(text[i] ?? '')) i += 1;
  }
  let end = i;
  while (end < text.length && WORD_PART.test(text[end] as string)) end += 1;
  const whole = text.slice(start, end);
  if (end === i) {
    tokens.push({ kind: 'number', value: Number(whole), position: start, length: end - start, text: whole });
    return end;
  }
  const unit = text.slice(i, end);
  const unitMs = UNIT_MS[unit];
  if (unitMs === undefined) {
    throw new FleetQuerySyntaxError(
      `invalid number '${whole}' at position ${start} (put text and versions in double quotes: "${whole}")`,
      start,
      end - start,
    );
  }
  if (text[start] !== '-') {
    throw new FleetQuerySyntaxError(
      `relative time '${whole}' at position ${start} needs a leading '-' (e.g. -${whole} means ${whole} ago)`,
      start,
      end - start,
    );
  }
  if (!integral) {
    throw new FleetQuerySyntaxError(
      `invalid relative time '${whole}' at position ${start}: use a whole number of s, m, h or d`,
      start,
      end - start,
    );
  }
  const ms = Number(text.slice(start + 1, i)) * unitMs;
  // Keeps `now - ms` an exact integer that PostgreSQL accepts as a bigint parameter.
  if (ms > MAX_RELATIVE_MS) {
    throw new FleetQuerySyntaxError(
      `relative time '${whole}' at position ${start} reaches back more than 100 years`,
      start,
      end - start,
    );
  }
  tokens.push({ kind: 'relativeTime', ms, position: start, length: end - start, text: whole });
  return end;
}
