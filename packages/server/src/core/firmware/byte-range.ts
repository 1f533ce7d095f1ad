/**
 * HTTP range requests over an immutable artifact (RFC 9110 §14): the pure decisions, shared by
 * the operator download (`GET /api/v1/firmware/{id}/image`) and the device downloads, so both
 * resume a cut download (curl `-C -`) the same way. No HTTP types: callers pass header values.
 */

/** What a `Range` header asks of a representation of `size` bytes. */
export type RangeRequest =
  /** No (usable) range: send the whole representation with 200. */
  | { kind: 'none' }
  /** One satisfiable range, `start..end` inclusive: send it with 206 and `Content-Range`. */
  | { kind: 'range'; start: number; end: number }
  /** A syntactically valid range no byte of which exists: answer 416 with `Content-Range: bytes *\/size`. */
  | { kind: 'unsatisfiable' };

const BYTE_RANGE = /^(\d*)-(\d*)$/;

/**
 * Parses `Range` against a representation of `size` bytes. RFC 9110 §14.2: a recipient may
 * ignore a Range it does not understand (another unit, bad syntax), so those answer `none`; a
 * range starting past the end is `unsatisfiable` (§14.1.1: first-pos ≥ length). A suffix
 * range (`-500`) is the last 500 bytes; an end past the last byte is clamped to it. Several
 * ranges (`0-1,5-6`) would need a multipart/byteranges answer: those are served whole (`none`),
 * which §14.2 allows; download clients resume with a single range.
 */
export function parseRange(header: string | undefined, size: number): RangeRequest {
  if (header === undefined) return { kind: 'none' };
  const eq = header.indexOf('=');
  if (eq < 0 || header.slice(0, eq).trim().toLowerCase() !== 'bytes') return { kind: 'none' };
  const specs = header.slice(eq + 1).split(',');
  if (specs.length !== 1) return { kind: 'none' };
  const match = BYTE_RANGE.exec(specs[0]!.trim());
  if (!match) return { kind: 'none' };
  const [, first, last] = match as unknown as [string, string, string];
  if (first === '' && last === '') return { kind: 'none' };
  // Digits past 2^53 are still numbers, only larger than any artifact: compared as such.
  if (first === '') {
    // Suffix range: the last N bytes (§14.1.1); "-0" selects nothing.
    const n = Number(last);
    if (n === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'range', start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? Infinity : Number(last);
  if (end < start) return { kind: 'none' }; // invalid byte-range-spec: ignored (§14.1.1)
  if (start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'range', start, end: Math.min(end, size - 1) };
}

/**
 * Whether a `Range` still applies given `If-Range` (RFC 9110 §13.1.5): only when the
 * validator matches the current one — here a strong ETag, compared strongly; a date never
 * matches because artifacts carry no Last-Modified. A mismatch means "send it whole".
 */
export function ifRangeAllows(ifRange: string | undefined, etag: string): boolean {
  if (ifRange === undefined) return true;
  const v = ifRange.trim();
  return !v.startsWith('W/') && v === etag;
}

/** `Content-Range` of a 206: `bytes start-end/size`. */
export function contentRange(start: number, end: number, size: number): string {
  return `bytes ${start}-${end}/${size}`;
}

/** The range to serve for these request headers, after If-Range. */
export function rangeFor(headers: { range?: string | undefined; ifRange?: string | undefined }, size: number, etag: string): RangeRequest {
  if (headers.range === undefined || !ifRangeAllows(headers.ifRange, etag)) return { kind: 'none' };
  return parseRange(headers.range, size);
}
