import type { IConnectPacket } from 'mqtt-packet';
import type { DeviceIdentity } from '../../core/identity/device-authenticator.js';
import type { ConnectionState } from './connection-state.js';
import { routePublish } from './topic-acl.js';
import { uplinkMeta } from './uplink-routes.js';

/** The will goes where the same PUBLISH would have gone; nobody acknowledges it. */
export function publishWill(conn: ConnectionState, identity: DeviceIdentity, will: NonNullable<IConnectPacket['will']>): void {
  const route = routePublish(identity.deviceId, will.topic, 'device', will.properties?.contentType);
  const payload = typeof will.payload === 'string' ? Buffer.from(will.payload) : will.payload;
  let work: Promise<unknown>;
  if (route.kind === 'telemetry') work = conn.gw.telemetry.ingest(identity, payload, route.format);
  else if (route.kind === 'uplink' && route.port.served(conn.gw)) work = route.port.handle(conn.gw, identity, route.subtopic, payload, uplinkMeta(0, will.properties));
  else return;
  conn.gw.count('wills_published');
  work.catch((err: unknown) => conn.gw.logger.debug({ err: err instanceof Error ? err.message : err, deviceId: identity.deviceId }, 'mqtt will refused'));
}
