import { HangarError } from '../errors.js';

/** Opaque keyset cursors: the id of the last item of the previous page, base64url-wrapped. */
export function encodeCursor(lastId: string): string {
  return Buffer.from(JSON.stringify({ after: lastId })).toString('base64url');
}

export function decodeCursor(cursor: string | undefined): string | undefined {
  if (cursor === undefined || cursor === '') return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (parsed && typeof parsed === 'object' && typeof (parsed as { after?: unknown }).after === 'string') {
      return (parsed as { after: string }).after;
    }
  } catch {
    // fall through to the error below
  }
  throw new HangarError('INVALID_CURSOR', `cursor "${cursor.slice(0, 40)}" is not one this API issued`);
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** Turns a fetch of `limit + 1` rows into a page and the cursor of the next one. */
export function toPage<T>(rows: T[], limit: number, idOf: (item: T) => string): Page<T> {
  const more = rows.length > limit;
  const items = more ? rows.slice(0, limit) : rows;
  return { items, nextCursor: more ? encodeCursor(idOf(items[items.length - 1]!)) : null };
}
