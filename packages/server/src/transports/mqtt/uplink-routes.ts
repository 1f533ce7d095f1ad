import type { UserProperties } from 'mqtt-packet';
import type { DeviceIdentity } from '../../core/identity/device-authenticator.js';
import type { TelemetryFormat } from '../../core/telemetry/telemetry-ingest.js';
import { HangarError } from '../../errors.js';

/** What came with an uplink besides its payload (MQTT 5 properties; empty on 3.1.1). */
export interface UplinkMeta {
  qos: 0 | 1;
  contentType?: string;
  userProperties?: UserProperties;
  responseTopic?: string;
  correlationData?: Buffer;
}

/** The core as the routing table reaches it (the gateway provides it; see GatewayCore). */
export interface UplinkCore {
  /** False without an `uplink` hook: twin/reported, command results, OTA status and logs go nowhere. */
  readonly uplinksServed: boolean;
  uplink(identity: DeviceIdentity, subtopic: string, payload: Buffer, meta: UplinkMeta): Promise<void>;
  /** Takes `commands/{cmdId}/result`; without it those uplinks are refused as unserved. */
  readonly commandResults?: CommandResults | undefined;
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

/** The `uplink` option of the gateway, until the core has its own port for each topic. */
const UPLINK_HOOK: UplinkRoute = {
  kind: 'port',
  port: {
    served: (core) => core.uplinksServed,
    handle: (core, identity, subtopic, payload, meta) => core.uplink(identity, subtopic, payload, meta),
  },
};

/** `commands/{cmdId}/result`: `{"status":"succeeded"|"failed","result":…,"error"?:…}` (docs/commands.md). */
const COMMAND_RESULT: UplinkRoute = {
  kind: 'port',
  port: {
    served: (core) => core.commandResults !== undefined,
    async handle(core, identity, subtopic, payload) {
      let body: unknown;
      try {
        body = JSON.parse(payload.toString('utf8'));
      } catch (err) {
        throw new HangarError('INVALID_JSON', `the command result is not valid JSON: ${(err as Error).message}`);
      }
      await core.commandResults!.complete(identity.tenantId, identity.deviceId, subtopic.split('/')[1]!, body);
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
  ['twin/reported', UPLINK_HOOK],
  ['commands/+/result', COMMAND_RESULT],
  ['ota/status', UPLINK_HOOK],
  ['logs', UPLINK_HOOK],
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
