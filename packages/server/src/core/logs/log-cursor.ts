import { HangarError } from '../../errors.js';
import { decodeCursor, encodeCursor } from '../pagination.js';

/** A keyset position (ts, seq) as the opaque cursor the API hands out. */
export function encodePosition(ts: number, seq: number): string {
  return encodeCursor(`${ts}:${seq}`);
}

export function decodePosition(cursor: string | undefined): { ts: number; seq: number } | undefined {
  const text = decodeCursor(cursor);
  if (text === undefined) return undefined;
  const m = /^(-?\d{1,16}):(\d{1,16})$/.exec(text);
  if (!m) throw new HangarError('INVALID_CURSOR', `cursor "${cursor!.slice(0, 40)}" is not one this API issued`);
  return { ts: Number(m[1]), seq: Number(m[2]) };
}
