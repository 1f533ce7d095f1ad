/** Object and resource definitions (Core §7.1, the OMA DDF schema LWM2M.xsd). */
import type { ResourceType } from './types.js';

export type ResourceOperations = '' | 'R' | 'W' | 'RW' | 'E';

export interface ResourceModel {
  id: number;
  name: string;
  operations: ResourceOperations;
  multiple: boolean;
  mandatory: boolean;
  type: ResourceType;
  units?: string;
  rangeEnumeration?: string;
  description?: string;
}

export interface ObjectModel {
  id: number;
  name: string;
  description?: string;
  /** The object's version (`ObjectVersion`), "1.0" when the DDF gives none. */
  version: string;
  lwm2mVersion?: string;
  multiple: boolean;
  mandatory: boolean;
  urn?: string;
  resources: ResourceModel[];
}

export const RESOURCE_TYPES: readonly ResourceType[] = ['String', 'Integer', 'Unsigned Integer', 'Float', 'Boolean', 'Opaque', 'Time', 'Objlnk', 'Corelnk', 'none'];
