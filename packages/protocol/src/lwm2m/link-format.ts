/**
 * CoRE link format (RFC 6690 §2) as LwM2M uses it: registration payloads (Core §6.2.1),
 * Discover answers (Core §6.3.3) and attribute sets (Core §5.1.2). A hand-written reader
 * because the grammar is small and every malformed input must become a `Lwm2mCodecError`.
 */
import { LIMITS } from './limits.js';
import { Lwm2mCodecError, type LinkAttributes, type LinkEntry } from './types.js';

/** Attributes whose value is a number when it looks like one (Core §5.1.2 notification attributes, `ct`, `dim`, `ssid`…). Others are kept as strings. */
const NUMERIC_ATTRIBUTES = new Set(['pmin', 'pmax', 'gt', 'lt', 'st', 'epmin', 'epmax', 'edge', 'con', 'hqmax', 'dim', 'ssid', 'ct', 'sz', 'obs']);
/** RFC 6690 §3 asks for these as quoted strings whatever they hold. */
const QUOTED_ATTRIBUTES = new Set(['rt', 'if', 'title', 'anchor', 'rel', 'rev', 'hreflang', 'media', 'type', 'uri']);
const NUMBER = /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/;
const PTOKEN = /^[!#$%&'()*+\-.:<=>?@[\]^_`{|}~0-9A-Za-z/]+$/;
const PARAM_NAME = /^[A-Za-z0-9!#$&+\-.^_`|~]+$/;

/** Parses `</1/0>,</3/0>;ver=1.1,</>;rt="oma.lwm2m";ct=110`; whitespace around separators is tolerated. */
export function parseLinkFormat(text: string): LinkEntry[] {
  if (text.length > LIMITS.maxPayloadBytes) throw new Lwm2mCodecError(`link format of ${text.length} characters is above the limit of ${LIMITS.maxPayloadBytes}`);
  const entries: LinkEntry[] = [];
  let pos = skipSpace(text, 0);
  if (pos === text.length) return entries;
  for (;;) {
    if (text[pos] !== '<') throw new Lwm2mCodecError(`link format: expected "<" at offset ${pos}`);
    const close = text.indexOf('>', pos + 1);
    if (close < 0) throw new Lwm2mCodecError(`link format: "<" at offset ${pos} is never closed by ">"`);
    const target = text.slice(pos + 1, close);
    if (target.length === 0) throw new Lwm2mCodecError(`link format: empty link target "<>" at offset ${pos}`);
    if (/[\s<,"]/.test(target)) throw new Lwm2mCodecError(`link format: bad character in link target <${clip(target)}>`);
    const attributes: LinkAttributes = {};
    pos = skipSpace(text, close + 1);
    while (text[pos] === ';') {
      pos = skipSpace(text, pos + 1);
      pos = readParam(text, pos, attributes, target);
      pos = skipSpace(text, pos);
    }
    entries.push({ target, attributes });
    if (entries.length > LIMITS.maxRecords) throw new Lwm2mCodecError(`link format: more than ${LIMITS.maxRecords} links`);
    if (pos === text.length) return entries;
    if (text[pos] !== ',') throw new Lwm2mCodecError(`link format: expected "," or ";" after <${clip(target)}> at offset ${pos}`);
    pos = skipSpace(text, pos + 1);
  }
}

function readParam(text: string, start: number, attributes: LinkAttributes, target: string): number {
  let pos = start;
  while (pos < text.length && !'=;,'.includes(text[pos]!) && !/\s/.test(text[pos]!)) pos += 1;
  const name = text.slice(start, pos);
  if (!PARAM_NAME.test(name)) throw new Lwm2mCodecError(`link format: bad attribute name "${clip(name)}" on <${clip(target)}> at offset ${start}`);
  pos = skipSpace(text, pos);
  if (text[pos] !== '=') {
    if (!(name in attributes)) attributes[name] = true;
    return pos;
  }
  pos = skipSpace(text, pos + 1);
  let raw: string;
  let quoted = false;
  if (text[pos] === '"') {
    quoted = true;
    let value = '';
    pos += 1;
    for (;;) {
      if (pos >= text.length) throw new Lwm2mCodecError(`link format: unterminated quoted value of "${name}" on <${clip(target)}>`);
      const c = text[pos]!;
      if (c === '\\' && pos + 1 < text.length) {
        value += text[pos + 1];
        pos += 2;
      } else if (c === '"') {
        pos += 1;
        break;
      } else {
        value += c;
        pos += 1;
      }
    }
    raw = value;
  } else {
    const valueStart = pos;
    while (pos < text.length && !';,'.includes(text[pos]!) && !/\s/.test(text[pos]!)) pos += 1;
    raw = text.slice(valueStart, pos);
    if (raw.length === 0) throw new Lwm2mCodecError(`link format: attribute "${name}" on <${clip(target)}> has "=" but no value`);
    if (!PTOKEN.test(raw)) throw new Lwm2mCodecError(`link format: bad value "${clip(raw)}" of "${name}" on <${clip(target)}>`);
  }
  // RFC 6690 lets a parameter repeat; the first one wins, as most LwM2M stacks read it.
  if (!(name in attributes)) attributes[name] = !quoted && NUMERIC_ATTRIBUTES.has(name) && NUMBER.test(raw) ? Number(raw) : raw;
  return pos;
}

function skipSpace(text: string, pos: number): number {
  let p = pos;
  while (p < text.length && /\s/.test(text[p]!)) p += 1;
  return p;
}

/** Writes entries as `<target>;name=value,…`; strings are quoted where RFC 6690 asks or their characters need it. */
export function formatLinkFormat(entries: LinkEntry[]): string {
  return entries
    .map((entry) => {
      let link = `<${entry.target}>`;
      for (const [name, value] of Object.entries(entry.attributes)) {
        if (value === true) link += `;${name}`;
        else if (typeof value === 'number') link += `;${name}=${value}`;
        else if (!QUOTED_ATTRIBUTES.has(name) && PTOKEN.test(value)) link += `;${name}=${value}`;
        else link += `;${name}="${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
      }
      return link;
    })
    .join(',');
}

export interface RegisteredObject {
  objectId: number;
  /** The `ver` attribute of the object link (Core §6.2.1.1); absent means the object's 1.0. */
  version?: string;
  instances: number[];
}

export interface RegistrationLinks {
  /** The alternate path of the LwM2M objects (`</lwm2m>;rt="oma.lwm2m"`), `/` when none was given. */
  rootPath: string;
  objects: RegisteredObject[];
  /** The content formats the client says it supports (`ct` of the `rt="oma.lwm2m"` link, Core §6.2.1.1). */
  contentFormats?: number[];
}

/**
 * Reads the payload of a Register or Update (Core §6.2.1.1): `</>;rt="oma.lwm2m";ct=110,</1/0>,</3>;ver=1.1,</3/0>`,
 * possibly under an alternate root path (`</lwm2m>;rt="oma.lwm2m",</lwm2m/1/0>`).
 */
export function parseRegistrationLinks(text: string): RegistrationLinks {
  const entries = parseLinkFormat(text);
  let rootPath = '/';
  let contentFormats: number[] | undefined;
  for (const entry of entries) {
    if (entry.attributes.rt === 'oma.lwm2m') {
      rootPath = normaliseRoot(entry.target);
      const ct = entry.attributes.ct;
      if (ct !== undefined) contentFormats = parseContentFormats(ct, entry.target);
    }
  }
  // Some clients put `ct` on a bare `</>` link without `rt`.
  const bareRoot = entries.find((e) => e.attributes.rt === undefined && e.attributes.ct !== undefined && normaliseRoot(e.target) === rootPath);
  if (!contentFormats && bareRoot) contentFormats = parseContentFormats(bareRoot.attributes.ct!, bareRoot.target);
  const objects = new Map<number, RegisteredObject>();
  for (const entry of entries) {
    if (entry.attributes.rt === 'oma.lwm2m') continue;
    const ids = objectIdsUnder(entry.target, rootPath);
    const [objectId, instanceId] = ids;
    if (objectId === undefined) continue;
    let object = objects.get(objectId);
    if (!object) {
      object = { objectId, instances: [] };
      objects.set(objectId, object);
    }
    const ver = entry.attributes.ver;
    if (ver !== undefined && ver !== true && object.version === undefined) object.version = String(ver);
    if (instanceId !== undefined && !object.instances.includes(instanceId)) object.instances.push(instanceId);
  }
  const list = [...objects.values()].sort((a, b) => a.objectId - b.objectId);
  for (const object of list) object.instances.sort((a, b) => a - b);
  return contentFormats ? { rootPath, objects: list, contentFormats } : { rootPath, objects: list };
}

function normaliseRoot(target: string): string {
  if (!target.startsWith('/')) throw new Lwm2mCodecError(`registration: root path <${clip(target)}> must start with "/"`);
  const trimmed = target.replace(/\/+$/, '');
  return trimmed === '' ? '/' : trimmed;
}

function objectIdsUnder(target: string, rootPath: string): number[] {
  const prefix = rootPath === '/' ? '' : rootPath;
  if (!target.startsWith(`${prefix}/`)) throw new Lwm2mCodecError(`registration: link <${clip(target)}> is not under the root path ${rootPath}`);
  const rest = target.slice(prefix.length + 1).replace(/\/$/, '');
  if (rest === '') return [];
  const segments = rest.split('/');
  if (segments.length > 2) throw new Lwm2mCodecError(`registration: link <${clip(target)}> names more than an object instance`);
  return segments.map((segment) => {
    if (!/^\d{1,5}$/.test(segment) || Number(segment) > 65535) throw new Lwm2mCodecError(`registration: link <${clip(target)}>: "${clip(segment)}" is not an object or instance id`);
    return Number(segment);
  });
}

function parseContentFormats(ct: string | number | true, target: string): number[] {
  if (typeof ct === 'number') return [ct];
  const parts = ct === true ? [] : ct.trim().split(/\s+/);
  if (parts.length === 0 || parts.some((p) => !/^\d{1,5}$/.test(p))) throw new Lwm2mCodecError(`registration: ct of <${clip(target)}> is not a list of content formats`);
  return parts.map(Number);
}

function clip(text: string): string {
  return text.length > 60 ? `${text.slice(0, 60)}…` : text;
}
