import type { UserProperties } from 'mqtt-packet';
import type { DeviceIdentity } from '../../core/identity/device-authenticator.js';
import type { TelemetryFormat } from '../../core/telemetry/telemetry-ingest.js';
import type { TwinService } from '../../core/twin/twin-service.js';
import { HangarError } from '../../errors.js';
import type { LogIngest } from '../../core/logs/device-log-service.js';
import type { OtaDevicePort } from '../../core/ota/ota-device-port.js';

/** What came with an uplink besides its payload (MQTT 5 properties; empty on 3.1.1). */
export interface UplinkMeta {
  qos: 0 | 1;
  contentType?: string;
  userProperties?: UserProperties;
  responseTopic?: string;
  correlationData?: Buffer;
}

/** The core services behind uplink topics, as the composition root hands them to the gateway. */
export interface UplinkServices {
  twin?: Pick<TwinService, 'patchReported'> | undefined;
  /** Device log uploads (`devices/{id}/logs`). */
  logs?: LogIngest | undefined;
  /** Command results (`commands/{cmdId}/result`). */
  commandResults?: CommandResults | undefined;
  /** OTA status reports (`ota/status`). */
  ota?: Pick<OtaDevicePort, 'reportStatus'> | undefined;
}

/** The core as the routing table reaches it (the gateway provides it; see GatewayCore). */
export interface UplinkCore {
  readonly services: UplinkServices;
}

/** The core's side of a command result (core/commands/command-service.ts `complete`). */
export interface CommandResults {
  complete(tenantId: string, deviceId: string, commandId: string, body: unknown): Promise<unknown>;
}

/** A core port behind one uplink topic. */
export interface UplinkPort {
  /** False when this server has nothing behind the topic: the uplink is refused as unserved, never acknowledged. */
  served(core: UplinkCore): boolean;
  /** Resolves once handled (durably: QoS 1 is acknowledged then); rejects with a HangarError to refuse. */
  handle(core: UplinkCore, identity: DeviceIdentity, subtopic: string, payload: Buffer, meta: UplinkMeta): Promise<void>;
}

/**
 * Where an uplink goes. Telemetry has its own path (the fast reader, the rate-limit hold, the
 * ingest's callback); everything else is a port.
 */
export type UplinkRoute = { readonly kind: 'telemetry'; formatFor(contentType: string | undefined): TelemetryFormat } | { readonly kind: 'port'; readonly port: UplinkPort };

const SENML_CBOR = 'application/senml+cbor';

/** A JSON uplink body; anything else is refused before the core sees it. */
function jsonPayload(payload: Buffer, what: string): unknown {
  try {
    return JSON.parse(payload.toString('utf8')) as unknown;
  } catch (err) {
    throw new HangarError('VALIDATION_FAILED', `${what} is not valid JSON: ${(err as Error).message}`);
  }
}

/** `twin/reported`: a JSON merge patch of the device's reported state (docs/twins.md). */
const TWIN_REPORTED: UplinkRoute = {
  kind: 'port',
  port: {
    served: (core) => core.services.twin !== undefined,
    async handle(core, identity, _subtopic, payload) {
      await core.services.twin!.patchReported(identity.tenantId, identity.deviceId, jsonPayload(payload, 'the reported twin patch'));
    },
  },
};

/** Log uploads go to the log service; the Content-Type (MQTT 5) says text or JSON, else the payload does. */
const LOGS_PORT: UplinkRoute = {
  kind: 'port',
  port: {
    served: (core) => core.services.logs !== undefined,
    handle: async (core, identity, _subtopic, payload, meta) => {
      const type = meta.contentType?.split(';')[0]!.trim().toLowerCase();
      await core.services.logs!.ingest(identity, payload, type === 'application/json' ? 'json' : type === 'text/plain' ? 'text' : 'auto');
    },
  },
};

/** `commands/{cmdId}/result`: `{"status":"succeeded"|"failed","result":…,"error"?:…}` (docs/commands.md). */
const COMMAND_RESULT: UplinkRoute = {
  kind: 'port',
  port: {
    served: (core) => core.services.commandResults !== undefined,
    async handle(core, identity, subtopic, payload) {
      let body: unknown;
      try {
        body = JSON.parse(payload.toString('utf8'));
      } catch (err) {
        throw new HangarError('INVALID_JSON', `the command result is not valid JSON: ${(err as Error).message}`);
      }
      await core.services.commandResults!.complete(identity.tenantId, identity.deviceId, subtopic.split('/')[1]!, body);
    },
  },
};

/** `ota/status`: an OtaStatusReport (protocol/ota.ts); a refused report is answered with its reason and changes nothing. */
const OTA_STATUS: UplinkRoute = {
  kind: 'port',
  port: {
    served: (core) => core.services.ota !== undefined,
    async handle(core, identity, _subtopic, payload) {
      let body: unknown;
      try {
        body = JSON.parse(payload.toString('utf8'));
      } catch (err) {
        throw new HangarError('INVALID_JSON', `the OTA status report is not valid JSON: ${(err as Error).message}`);
      }
      await core.services.ota!.reportStatus(identity.tenantId, identity.deviceId, body);
    },
  },
};

/**
 * THE routing table of device uplinks (DESIGN §5): the topic after `devices/{id}/` → where it
 * goes. A `+` level matches one non-empty level. A new uplink (a twin, command, OTA or log
 * handler of the core) is one entry here; a topic not listed is refused as forbidden.
 */
export const UPLINK_ROUTES: ReadonlyArray<readonly [suffix: string, route: UplinkRoute]> = [
  ['telemetry', { kind: 'telemetry', formatFor: () => 'json' }],
  ['telemetry/senml', { kind: 'telemetry', formatFor: (contentType) => (contentType === SENML_CBOR ? 'senml+cbor' : 'senml+json') }],
  ['twin/reported', TWIN_REPORTED],
  ['commands/+/result', COMMAND_RESULT],
  ['ota/status', OTA_STATUS],
  ['logs', LOGS_PORT],
];

const exact = new Map<string, UplinkRoute>(UPLINK_ROUTES.filter(([suffix]) => !suffix.split('/').includes('+')));
const patterns = UPLINK_ROUTES.filter(([suffix]) => suffix.split('/').includes('+')).map(([suffix, route]) => [suffix.split('/'), route] as const);

/** The route of `suffix` (the topic after `devices/{id}/`), or undefined when devices may not publish there. */
export function findUplinkRoute(suffix: string): UplinkRoute | undefined {
  const route = exact.get(suffix);
  if (route !== undefined || patterns.length === 0) return route;
  const levels = suffix.split('/');
  for (const [pattern, candidate] of patterns) {
    if (pattern.length !== levels.length) continue;
    let match = true;
    for (let i = 0; i < pattern.length && match; i += 1) match = pattern[i] === '+' ? levels[i] !== '' : pattern[i] === levels[i];
    if (match) return candidate;
  }
  return undefined;
}

/** The uplink's MQTT 5 properties that the core may use (one object, only what is set). */
export function uplinkMeta(qos: 0 | 1, p: { contentType?: string; userProperties?: UserProperties; responseTopic?: string; correlationData?: Buffer } | undefined): UplinkMeta {
  const meta: UplinkMeta = { qos };
  if (p?.contentType !== undefined) meta.contentType = p.contentType;
  if (p?.userProperties !== undefined) meta.userProperties = p.userProperties;
  if (p?.responseTopic !== undefined) meta.responseTopic = p.responseTopic;
  if (p?.correlationData !== undefined) meta.correlationData = p.correlationData;
  return meta;
}
