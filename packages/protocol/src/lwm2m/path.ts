/**
 * LwM2M paths (Core §7.1, §6.4): `/{object}/{instance}/{resource}/{resource instance}`, each
 * id a decimal 0–65535. `/` is the root (Bootstrap-Discover, Send, composite requests).
 */
import { Lwm2mCodecError, type Lwm2mPath } from './types.js';

/** The largest id a 16-bit LwM2M identifier can carry (65535 itself is reserved as "no id" by Core §7.1). */
export const MAX_ID = 65535;

const LEVELS = ['objectId', 'instanceId', 'resourceId', 'resourceInstanceId'] as const;

/** `"/3/0/9"` → `{ objectId: 3, instanceId: 0, resourceId: 9 }`; `"/"` → `{}`. One trailing `/` is allowed (SenML base names end with one). */
export function parsePath(text: string): Lwm2mPath {
  if (typeof text !== 'string' || !text.startsWith('/')) throw new Lwm2mCodecError(`path "${clip(text)}" must start with "/"`);
  if (text === '/') return {};
  const body = text.endsWith('/') ? text.slice(1, -1) : text.slice(1);
  return pathFromSegments(body.split('/'), text);
}

/** The Uri-Path options of a request (`['3', '0', '9']`) as a path; `[]` is the root. */
export function pathFromUriPath(segments: string[]): Lwm2mPath {
  if (segments.length === 0) return {};
  return pathFromSegments(segments, `/${segments.join('/')}`);
}

function pathFromSegments(segments: string[], original: string): Lwm2mPath {
  if (segments.length > LEVELS.length) throw new Lwm2mCodecError(`path "${clip(original)}" has more than 4 levels`);
  const path: Lwm2mPath = {};
  segments.forEach((segment, level) => {
    path[LEVELS[level]!] = parseId(segment, original);
  });
  return path;
}

function parseId(segment: string, original: string): number {
  if (!/^\d{1,5}$/.test(segment)) throw new Lwm2mCodecError(`path "${clip(original)}": "${clip(segment)}" is not an id (0–${MAX_ID})`);
  const id = Number(segment);
  if (id > MAX_ID) throw new Lwm2mCodecError(`path "${clip(original)}": id ${id} is above ${MAX_ID}`);
  return id;
}

/** `{ objectId: 3, instanceId: 0, resourceId: 9 }` → `"/3/0/9"`; `{}` → `"/"`. */
export function formatPath(path: Lwm2mPath): string {
  const ids = pathIds(path);
  return ids.length === 0 ? '/' : `/${ids.join('/')}`;
}

/** The ids of a path from the object down; throws if a level is missing above a given one (`/3//9`). */
export function pathIds(path: Lwm2mPath): number[] {
  const ids: number[] = [];
  for (const level of LEVELS) {
    const id = path[level];
    if (id === undefined) break;
    ids.push(id);
  }
  for (const level of LEVELS.slice(ids.length)) {
    if (path[level] !== undefined) throw new Lwm2mCodecError(`path ${JSON.stringify(path)} has ${level} without the levels above it`);
  }
  for (const id of ids) {
    if (!Number.isInteger(id) || id < 0 || id > MAX_ID) throw new Lwm2mCodecError(`path ${JSON.stringify(path)}: ${id} is not an id (0–${MAX_ID})`);
  }
  return ids;
}

/** How many levels the path has: 0 root, 1 object, 2 instance, 3 resource, 4 resource instance. */
export function pathDepth(path: Lwm2mPath): number {
  return pathIds(path).length;
}

/** Whether `path` is `prefix` or below it (`/3/0/9` is within `/3`, `/3/0` and `/`). */
export function isWithinPath(path: Lwm2mPath, prefix: Lwm2mPath): boolean {
  const inner = pathIds(path);
  const outer = pathIds(prefix);
  return outer.length <= inner.length && outer.every((id, i) => inner[i] === id);
}

/** Same ids at every level. */
export function samePath(a: Lwm2mPath, b: Lwm2mPath): boolean {
  return formatPath(a) === formatPath(b);
}

/** A path from a list of ids (`[3, 0, 9]`). */
export function pathOf(ids: readonly number[]): Lwm2mPath {
  const path: Lwm2mPath = {};
  ids.forEach((id, level) => {
    if (level < LEVELS.length) path[LEVELS[level]!] = id;
  });
  return path;
}

function clip(text: unknown): string {
  const s = String(text);
  return s.length > 60 ? `${s.slice(0, 60)}…` : s;
}
