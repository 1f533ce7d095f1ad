import type { Logger } from 'pino';
import { formatPath, telemetryKeyOf, valueToJson, type Lwm2mValue, type ObjectRegistry } from '@hangar/protocol/lwm2m';
import type { DeviceIdentity } from '../identity/device-authenticator.js';
import type { TelemetryIngest } from '../telemetry/telemetry-ingest.js';

/** What the mapping needs of the twin service: a device's reported patch (RFC 7396). */
export interface ReportedTwinWriter {
  patchReported(tenantId: string, deviceId: string, patch: unknown): Promise<{ $version: number }>;
}

/** Object 3 (Device) resources that become Hangar's device info (LwM2M 1.1 TS-Core Appendix E.4). */
const DEVICE_INFO: Readonly<Record<number, string>> = { 0: 'manufacturer', 1: 'model', 2: 'serialNumber', 17: 'deviceType', 18: 'hardwareVersion', 19: 'softwareVersion' };
const FIRMWARE_VERSION_RESOURCE = 3;

/**
 * LwM2M values on Hangar's model (docs/lwm2m.md, "Mapping"):
 * - observed and Sent values become telemetry, under the registry's name for well-known IPSO
 *   resources (`temperature` for 3303/0/5700) and under their path (`3303.0.5700`: telemetry keys
 *   cannot hold `/`);
 * - every read, observed or Sent value lands in the reported twin's `lwm2m` section, nested as
 *   object → instance → resource (→ resource instance);
 * - Object 3 fills the reported `deviceInfo`, and its Firmware Version (3/0/3) the reported
 *   `firmwareVersion`, which the OTA service takes as the version the device runs.
 */
export class Lwm2mMapping {
  constructor(
    private readonly deps: { telemetry: TelemetryIngest; twins: ReportedTwinWriter; logger?: Logger | undefined },
  ) {}

  /** Values a Read or the first answer of an Observe returned: the twin only. */
  async readValues(device: DeviceIdentity, values: Lwm2mValue[]): Promise<void> {
    await this.report(device, values);
  }

  /**
   * Values the device pushed (notification, Send): telemetry and twin. Rejects with the
   * telemetry service's refusal (VALIDATION_FAILED, RATE_LIMITED…), in which case nothing was stored.
   */
  async pushedValues(device: DeviceIdentity, values: Lwm2mValue[], registry: ObjectRegistry): Promise<void> {
    const messages = telemetryMessages(values, registry);
    if (messages.length > 0) await this.deps.telemetry.ingest(device, Buffer.from(JSON.stringify(messages)), 'json');
    await this.report(device, values);
  }

  private async report(device: DeviceIdentity, values: Lwm2mValue[]): Promise<void> {
    const patch = reportedPatch(values);
    if (Object.keys(patch).length > 0) await this.deps.twins.patchReported(device.tenantId, device.deviceId, patch);
  }
}

/** The telemetry key of a path: `3303.0.5700` (and `.ri` for a resource instance). */
export function rawTelemetryKey(v: Lwm2mValue): string {
  return formatPath(v.path).slice(1).replaceAll('/', '.');
}

/** One JSON telemetry message per distinct time (`{"ts":ms,"values":{…}}`); untimed values get the receive time. */
export function telemetryMessages(values: Lwm2mValue[], registry: ObjectRegistry): Array<{ ts?: number; values: Record<string, number | boolean | string> }> {
  const byTime = new Map<number | undefined, Record<string, number | boolean | string>>();
  for (const v of values) {
    const scalar = telemetryScalar(v);
    if (scalar === undefined) continue;
    const ts = v.time !== undefined ? Math.round(v.time * 1000) : undefined;
    let group = byTime.get(ts);
    if (!group) byTime.set(ts, (group = {}));
    group[rawTelemetryKey(v)] = scalar;
    const named = telemetryKeyOf(v.path, registry);
    if (named !== undefined) group[named] = scalar;
  }
  return [...byTime].map(([ts, vals]) => (ts === undefined ? { values: vals } : { ts, values: vals }));
}

function telemetryScalar(v: Lwm2mValue): number | boolean | string | undefined {
  switch (typeof v.value) {
    case 'number':
      return Number.isFinite(v.value) ? v.value : undefined;
    case 'bigint':
      return Number(v.value);
    case 'boolean':
    case 'string':
      return v.value;
    default:
      // Opaque, object links: not a reading.
      return undefined;
  }
}

/** The reported-twin patch of some values: `lwm2m` nested by path, plus device info and firmware version from Object 3. */
export function reportedPatch(values: Lwm2mValue[]): Record<string, unknown> {
  const lwm2m: Record<string, unknown> = {};
  const deviceInfo: Record<string, unknown> = {};
  let firmwareVersion: string | undefined;
  for (const v of values) {
    const { objectId, instanceId, resourceId, resourceInstanceId } = v.path;
    if (objectId === undefined || instanceId === undefined || resourceId === undefined) continue;
    // Security (0) holds keys; never copy them anywhere.
    if (objectId === 0) continue;
    const json = valueToJson(v.value);
    const ids = resourceInstanceId === undefined ? [objectId, instanceId, resourceId] : [objectId, instanceId, resourceId, resourceInstanceId];
    let node = lwm2m;
    for (const id of ids.slice(0, -1)) {
      const key = String(id);
      const next = node[key];
      node = (typeof next === 'object' && next !== null ? next : (node[key] = {})) as Record<string, unknown>;
    }
    node[String(ids[ids.length - 1])] = json;
    if (objectId === 3 && instanceId === 0 && resourceInstanceId === undefined) {
      const name = DEVICE_INFO[resourceId];
      if (name !== undefined) deviceInfo[name] = json;
      if (resourceId === FIRMWARE_VERSION_RESOURCE && typeof v.value === 'string' && v.value !== '') firmwareVersion = v.value;
    }
  }
  const patch: Record<string, unknown> = {};
  if (Object.keys(lwm2m).length > 0) patch.lwm2m = lwm2m;
  if (Object.keys(deviceInfo).length > 0) patch.deviceInfo = deviceInfo;
  if (firmwareVersion !== undefined) patch.firmwareVersion = firmwareVersion;
  return patch;
}
