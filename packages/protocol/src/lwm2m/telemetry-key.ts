/**
 * Named telemetry keys for well-known resources, so an LwM2M temperature sensor and an MQTT one
 * land on the same key (`temperature`). Anything else is stored under its raw path only.
 */
import type { ObjectRegistry } from './object-registry.js';
import type { Lwm2mPath } from './types.js';

/** IPSO "Sensor Value" (5700) per object: the quantity it measures. */
const SENSOR_VALUE_KEYS: Record<number, string> = {
  3202: 'analog_input',
  3300: 'generic_sensor',
  3301: 'illuminance',
  3303: 'temperature',
  3304: 'humidity',
  3315: 'pressure',
  3316: 'voltage',
  3317: 'current',
  3318: 'frequency',
  3319: 'depth',
  3320: 'percentage',
  3321: 'altitude',
  3322: 'load',
  3323: 'pressure',
  3324: 'loudness',
  3325: 'concentration',
  3326: 'acidity',
  3327: 'conductivity',
  3328: 'power',
  3329: 'power_factor',
  3330: 'distance',
  3346: 'rate',
};

/** Other single resources with a well-known meaning: objectId → resourceId → key. */
const RESOURCE_KEYS: Record<number, Record<number, string>> = {
  3: { 9: 'battery', 10: 'memory_free' },
  4: { 2: 'rssi', 3: 'link_quality', 8: 'cell_id' },
  6: { 0: 'latitude', 1: 'longitude', 2: 'altitude', 3: 'radius', 6: 'speed' },
  3200: { 5500: 'digital_input' },
  3201: { 5550: 'digital_output' },
  3202: { 5600: 'analog_input' },
  3203: { 5650: 'analog_output' },
  3311: { 5850: 'light_on', 5851: 'dimmer' },
  3313: { 5702: 'acceleration_x', 5703: 'acceleration_y', 5704: 'acceleration_z' },
  3328: { 5805: 'energy' },
};

/**
 * The named key of a value path (`/3303/0/5700` → "temperature", `/3303/1/5700` →
 * "temperature_1"), or undefined when the resource has no well-known name. The registry is
 * consulted so that a model an operator uploaded over a known id does not get a misleading name.
 */
export function telemetryKeyOf(path: Lwm2mPath, registry: ObjectRegistry): string | undefined {
  const { objectId, instanceId, resourceId, resourceInstanceId } = path;
  if (objectId === undefined || instanceId === undefined || resourceId === undefined) return undefined;
  const key = resourceId === 5700 ? SENSOR_VALUE_KEYS[objectId] : RESOURCE_KEYS[objectId]?.[resourceId];
  if (key === undefined) return undefined;
  const model = registry.resource(objectId, resourceId);
  if (model && model.type !== 'Float' && model.type !== 'Integer' && model.type !== 'Unsigned Integer' && model.type !== 'Boolean') return undefined;
  let name = instanceId > 0 ? `${key}_${instanceId}` : key;
  // Instances of a multiple resource get their own key.
  if (resourceInstanceId !== undefined && resourceInstanceId > 0) name += `_${resourceInstanceId}`;
  return name;
}
