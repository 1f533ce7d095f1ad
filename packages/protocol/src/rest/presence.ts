import { Type, type Static } from 'typebox';
import { IsoTime, Nullable } from './common.js';

/** How a device reached Hangar. */
export const DeviceProtocol = Type.Union([Type.Literal('mqtt'), Type.Literal('http'), Type.Literal('coap'), Type.Literal('lwm2m')]);
export type DeviceProtocol = Static<typeof DeviceProtocol>;

export const ConnectionKind = Type.Union([Type.Literal('session'), Type.Literal('activity')], {
  description: 'session: a connection the transport holds (MQTT); activity: HTTP/CoAP requests within the activity window',
});
export type ConnectionKind = Static<typeof ConnectionKind>;

/** The answer to `GET /api/v1/devices/{id}/presence`. */
export const DevicePresence = Type.Object({
  online: Type.Boolean(),
  lastSeen: Nullable(IsoTime),
  protocol: Nullable(DeviceProtocol),
  remoteAddress: Nullable(Type.String()),
  connectedAt: Nullable(IsoTime),
  disconnectedAt: Nullable(IsoTime),
  disconnectReason: Nullable(Type.String()),
  sessionId: Type.Optional(Type.String({ description: 'the current session; absent while offline' })),
  kind: Type.Optional(ConnectionKind),
});
export type DevicePresence = Static<typeof DevicePresence>;

/** An item of `GET /api/v1/devices/{id}/connections` (newest first). */
export const DeviceConnection = Type.Object({
  sessionId: Type.String(),
  kind: ConnectionKind,
  protocol: DeviceProtocol,
  remoteAddress: Nullable(Type.String()),
  connectedAt: IsoTime,
  disconnectedAt: Nullable(IsoTime),
  reason: Nullable(Type.String()),
  node: Type.String({ description: 'the server node that held the connection' }),
});
export type DeviceConnection = Static<typeof DeviceConnection>;
