import { Type, type Static } from 'typebox';

/**
 * `{ $lastUpdated, <property>: { $lastUpdated, … } }`: when each property (and the half as a
 * whole) last changed, ISO 8601 times.
 */
export const TwinMetadata = Type.Record(Type.String(), Type.Unknown(), { description: 'per-property { $lastUpdated } (ISO time), nested like the properties; the root $lastUpdated is the half’s last change' });
export type TwinMetadata = Static<typeof TwinMetadata>;

/** One half of a twin: its properties (names never start with `$`) plus `$version` and `$metadata`. */
export const TwinHalf = Type.Object(
  {
    $version: Type.Integer({ minimum: 0, description: 'rises by one on every change of this half' }),
    $metadata: TwinMetadata,
  },
  { additionalProperties: true },
);
export type TwinHalf = Static<typeof TwinHalf> & Record<string, unknown>;

/** The answer to `GET /api/v1/devices/{id}/twin` (and to a desired PATCH). */
export const DeviceTwin = Type.Object({
  deviceId: Type.String(),
  etag: Type.String({ description: 'the whole twin’s entity tag (also the ETag header); send it as If-Match to patch only this version' }),
  desired: TwinHalf,
  reported: TwinHalf,
  delta: Type.Record(Type.String(), Type.Unknown(), { description: 'desired properties the reported state does not match yet' }),
});
export type DeviceTwin = Static<typeof DeviceTwin>;

/** The body of `PATCH /api/v1/devices/{id}/twin`. */
export const TwinDesiredPatch = Type.Object(
  {
    desired: Type.Unknown({ description: 'a JSON merge patch (RFC 7396) of the desired properties: null deletes, objects merge; property names must not start with $' }),
  },
  { additionalProperties: false },
);
export type TwinDesiredPatch = Static<typeof TwinDesiredPatch>;

/** The answer to a device's `PATCH /device/v1/twin/reported`. */
export const TwinReportedAck = Type.Object({ $version: Type.Integer({ minimum: 1 }) });
export type TwinReportedAck = Static<typeof TwinReportedAck>;

const JsonSchemaObject = Type.Record(Type.String(), Type.Unknown(), { description: 'a JSON Schema (2020-12) the half’s properties must satisfy' });

/** The twin schemas of one device type (`/api/v1/twin-schemas/{deviceType}`). */
export const TwinSchema = Type.Object({
  deviceType: Type.String(),
  desired: Type.Union([JsonSchemaObject, Type.Null()]),
  reported: Type.Union([JsonSchemaObject, Type.Null()]),
  updatedAt: Type.String({ format: 'date-time' }),
});
export type TwinSchema = Static<typeof TwinSchema>;

/** The body of `PUT /api/v1/twin-schemas/{deviceType}`: either half or both; null or absent means none. */
export const TwinSchemaInput = Type.Object(
  {
    desired: Type.Optional(Type.Union([Type.Unknown(), Type.Null()])),
    reported: Type.Optional(Type.Union([Type.Unknown(), Type.Null()])),
  },
  { additionalProperties: false },
);
export type TwinSchemaInput = Static<typeof TwinSchemaInput>;
