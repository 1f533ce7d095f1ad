/**
 * Write-Attributes (Core §5.1.2, §6.3.4): notification attributes sent as Uri-Query options,
 * `pmin=10`, `gt=20.5`, and a bare name (`pmax`) to remove one. The server writes them; the
 * client reads them and answers 4.00 when `parseWriteAttributes` refuses.
 */
import { Lwm2mCodecError } from './types.js';

/** Attribute name → value, or null to remove the attribute. */
export type WriteAttributes = Record<string, number | null>;

const INTEGER_ATTRIBUTES = new Set(['pmin', 'pmax', 'epmin', 'epmax', 'hqmax']);
const NUMBER_ATTRIBUTES = new Set(['gt', 'lt', 'st']);
const FLAG_ATTRIBUTES = new Set(['edge', 'con']);

export function parseWriteAttributes(query: string[]): WriteAttributes {
  const attributes: WriteAttributes = {};
  for (const part of query) {
    const eq = part.indexOf('=');
    const name = eq < 0 ? part : part.slice(0, eq);
    const raw = eq < 0 ? undefined : part.slice(eq + 1);
    if (!INTEGER_ATTRIBUTES.has(name) && !NUMBER_ATTRIBUTES.has(name) && !FLAG_ATTRIBUTES.has(name)) {
      throw new Lwm2mCodecError(`attribute "${clip(name)}" is not a writable LwM2M attribute (pmin, pmax, gt, lt, st, epmin, epmax, edge, con, hqmax)`);
    }
    if (name in attributes) throw new Lwm2mCodecError(`attribute "${name}" is given twice`);
    attributes[name] = raw === undefined ? null : attributeValue(name, raw);
  }
  const { gt, lt, st } = attributes;
  // Core §5.1.2: "lt" must stay below "gt", with room for the step either side.
  if (typeof gt === 'number' && typeof lt === 'number' && lt + 2 * (typeof st === 'number' ? st : 0) >= gt) {
    throw new Lwm2mCodecError(`attributes lt=${lt}, gt=${gt}${typeof st === 'number' ? `, st=${st}` : ''}: lt + 2×st must be below gt`);
  }
  return attributes;
}

function attributeValue(name: string, raw: string): number {
  const bad = (what: string): never => {
    throw new Lwm2mCodecError(`attribute ${name}="${clip(raw)}" must be ${what}`);
  };
  if (INTEGER_ATTRIBUTES.has(name)) return /^\d{1,10}$/.test(raw) ? Number(raw) : bad('a non-negative integer');
  if (FLAG_ATTRIBUTES.has(name)) return raw === '0' || raw === '1' ? Number(raw) : bad('0 or 1');
  if (!/^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(raw)) bad('a number');
  const n = Number(raw);
  if (!Number.isFinite(n)) bad('a finite number');
  if (name === 'st' && n < 0) bad('zero or more');
  return n;
}

/** The Uri-Query options for a Write-Attributes request. */
export function formatWriteAttributes(attributes: WriteAttributes): string[] {
  parseWriteAttributes(Object.entries(attributes).map(([name, value]) => (value === null ? name : `${name}=${value}`)));
  return Object.entries(attributes).map(([name, value]) => (value === null ? name : `${name}=${value}`));
}

function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
