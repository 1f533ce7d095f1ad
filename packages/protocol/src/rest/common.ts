import { Type, type Static, type TArray, type TNull, type TObject, type TSchema, type TString, type TUnion } from 'typebox';
import { DEVICE_ID_PATTERN_SOURCE } from '../device-id.js';

/** `T | null` on the wire. */
export function Nullable<T extends TSchema>(type: T): TUnion<[T, TNull]> {
  return Type.Union([type, Type.Null()]);
}

/** Times are ISO 8601 UTC strings on the wire. */
export const IsoTime = Type.String({ format: 'date-time' });

export const Role = Type.Union([Type.Literal('viewer'), Type.Literal('operator'), Type.Literal('admin')]);
export type Role = Static<typeof Role>;

export const DeviceId = Type.String({ pattern: DEVICE_ID_PATTERN_SOURCE, description: '1–128 characters of A–Z a–z 0–9 . _ : -' });
export const Tags = Type.Record(Type.String(), Type.String(), { description: 'string labels, indexed for fleet queries' });

export const ValidationIssue = Type.Object({ path: Type.String(), message: Type.String() });
export type ValidationIssue = Static<typeof ValidationIssue>;

/** RFC 9457 problem details: every error answer of the API. */
export const Problem = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    code: Type.String({ description: 'the error catalog code, e.g. DEVICE_NOT_FOUND' }),
    instance: Type.Optional(Type.String()),
    position: Type.Optional(Type.Integer({ description: 'fleet-query errors: 0-based offset of the offending characters' })),
    length: Type.Optional(Type.Integer({ description: 'fleet-query errors: how many characters' })),
    field: Type.Optional(Type.String({ description: 'which request field position/length point into (an alert rule’s condition or target)' })),
    errors: Type.Optional(Type.Array(ValidationIssue)),
  },
  { $id: 'Problem', additionalProperties: true },
);
export type Problem = Static<typeof Problem>;

/** A page of a list: follow `nextCursor` (null on the last page). */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export function pageOf<T extends TSchema>(item: T): TObject<{ items: TArray<T>; nextCursor: TUnion<[TString, TNull]> }> {
  return Type.Object({ items: Type.Array(item), nextCursor: Nullable(Type.String()) });
}

/** A list answered in one page (`nextCursor` is always null). */
export function allOf<T extends TSchema>(item: T): TObject<{ items: TArray<T>; nextCursor: TNull }> {
  return Type.Object({ items: Type.Array(item), nextCursor: Type.Null() });
}

/** Query fields of paged lists. */
export const PageQuery = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
  cursor: Type.Optional(Type.String({ maxLength: 512 })),
};
