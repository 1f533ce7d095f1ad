/**
 * OMA DDF files (Object Definition Files, schema LWM2M.xsd; Core §7.1 and the OMNA registry):
 * `<LWM2M><Object ObjectType="MODefinition">…<Resources><Item ID="5700">…</Item></Resources></Object></LWM2M>`.
 * Every refusal names the object and item at fault.
 */
import { RESOURCE_TYPES, type ObjectModel, type ResourceModel, type ResourceOperations } from './object-model.js';
import { Lwm2mCodecError, type ResourceType } from './types.js';
import { childElements, parseXml, textOf, XmlSyntaxError, type XmlElement } from './xml-reader.js';

/** DDF files of the OMNA registry are at most a few hundred KiB; anything past this is refused unread. */
export const MAX_DDF_BYTES = 2 * 1024 * 1024;
const OPERATIONS: Record<string, ResourceOperations> = { '': '', NONE: '', R: 'R', W: 'W', RW: 'RW', WR: 'RW', E: 'E' };
const TYPES = new Map(RESOURCE_TYPES.map((t) => [t.toLowerCase(), t]));

export function parseDdf(xml: string): ObjectModel[] {
  if (typeof xml !== 'string') throw new Lwm2mCodecError('DDF: expected XML text');
  if (xml.length > MAX_DDF_BYTES) throw new Lwm2mCodecError(`DDF: ${xml.length} characters is above the limit of ${MAX_DDF_BYTES}`);
  let root: XmlElement;
  try {
    root = parseXml(xml);
  } catch (error) {
    if (error instanceof XmlSyntaxError) throw new Lwm2mCodecError(`DDF is not well-formed XML: ${error.message}`);
    throw error;
  }
  if (root.name !== 'LWM2M') throw new Lwm2mCodecError(`DDF: the root element is <${root.name}>, expected <LWM2M>`);
  const objects = childElements(root, 'Object');
  if (objects.length === 0) throw new Lwm2mCodecError('DDF: <LWM2M> holds no <Object>');
  const models = objects.map(readObject);
  const seen = new Set<string>();
  for (const model of models) {
    const key = `${model.id}@${model.version}`;
    if (seen.has(key)) throw new Lwm2mCodecError(`DDF: object ${model.id} version ${model.version} is defined twice`);
    seen.add(key);
  }
  return models;
}

function readObject(element: XmlElement, index: number): ObjectModel {
  const where = `DDF <Object> #${index + 1}`;
  const idText = field(element, 'ObjectID', where, true);
  const id = parseId(idText, `${where}: ObjectID`);
  const at = `DDF object ${id}`;
  const name = field(element, 'Name', at, true);
  const version = field(element, 'ObjectVersion', at, false) || '1.0';
  if (!/^\d{1,3}\.\d{1,3}$/.test(version)) throw new Lwm2mCodecError(`${at}: ObjectVersion "${clip(version)}" is not "major.minor"`);
  const lwm2mVersion = field(element, 'LWM2MVersion', at, false);
  const urn = field(element, 'ObjectURN', at, false);
  const description = field(element, 'Description1', at, false);
  const resourcesElement = childElements(element, 'Resources')[0];
  const resources = resourcesElement ? childElements(resourcesElement, 'Item').map((item) => readItem(item, at)) : [];
  const ids = new Set<number>();
  for (const r of resources) {
    if (ids.has(r.id)) throw new Lwm2mCodecError(`${at}: Item ID="${r.id}" is defined twice`);
    ids.add(r.id);
  }
  const model: ObjectModel = {
    id,
    name,
    version,
    multiple: multiplicity(field(element, 'MultipleInstances', at, true), `${at}: MultipleInstances`),
    mandatory: mandatory(field(element, 'Mandatory', at, true), `${at}: Mandatory`),
    resources,
  };
  if (description) model.description = description;
  if (lwm2mVersion) model.lwm2mVersion = lwm2mVersion;
  if (urn) model.urn = urn;
  return model;
}

function readItem(item: XmlElement, objectAt: string): ResourceModel {
  const rawId = item.attributes.ID;
  if (rawId === undefined) throw new Lwm2mCodecError(`${objectAt}: an <Item> (line ${item.line}) has no ID attribute`);
  const at = `${objectAt}, Item ID="${clip(rawId)}"`;
  const id = parseId(rawId, `${at}: ID`);
  const opsText = field(item, 'Operations', at, false).toUpperCase();
  const operations = OPERATIONS[opsText];
  if (operations === undefined) throw new Lwm2mCodecError(`${at}: Operations "${clip(opsText)}" is not one of R, W, RW, E or empty`);
  const typeText = field(item, 'Type', at, false);
  // An empty Type is an executable's; the OMNA registry has a few readable items without one
  // (10482/5), kept as value-less rather than refusing the whole file.
  const type: ResourceType | undefined = typeText === '' ? 'none' : TYPES.get(typeText.toLowerCase());
  if (type === undefined) throw new Lwm2mCodecError(`${at}: Type "${clip(typeText)}" is not a LwM2M type (${RESOURCE_TYPES.join(', ')})`);
  const resource: ResourceModel = {
    id,
    name: field(item, 'Name', at, true),
    operations,
    multiple: multiplicity(field(item, 'MultipleInstances', at, true), `${at}: MultipleInstances`),
    mandatory: mandatory(field(item, 'Mandatory', at, true), `${at}: Mandatory`),
    type,
  };
  const units = field(item, 'Units', at, false);
  const range = field(item, 'RangeEnumeration', at, false);
  const description = field(item, 'Description', at, false);
  if (units) resource.units = units;
  if (range) resource.rangeEnumeration = range;
  if (description) resource.description = description;
  return resource;
}

function field(element: XmlElement, name: string, at: string, required: boolean): string {
  const found = childElements(element, name);
  if (found.length > 1) throw new Lwm2mCodecError(`${at}: <${name}> appears ${found.length} times`);
  const first = found[0];
  if (!first) {
    if (required) throw new Lwm2mCodecError(`${at}: <${name}> is missing`);
    return '';
  }
  if (childElements(first).length > 0) throw new Lwm2mCodecError(`${at}: <${name}> must hold text, not elements`);
  const text = textOf(first).trim();
  if (required && text === '') throw new Lwm2mCodecError(`${at}: <${name}> is empty`);
  return text;
}

function parseId(text: string, at: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) throw new Lwm2mCodecError(`${at} "${clip(text)}" is not an id (0–65535)`);
  return Number(text);
}

function multiplicity(text: string, at: string): boolean {
  if (text === 'Multiple') return true;
  if (text === 'Single') return false;
  throw new Lwm2mCodecError(`${at} "${clip(text)}" is not Single or Multiple`);
}

function mandatory(text: string, at: string): boolean {
  if (text === 'Mandatory') return true;
  if (text === 'Optional') return false;
  throw new Lwm2mCodecError(`${at} "${clip(text)}" is not Mandatory or Optional`);
}

function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
