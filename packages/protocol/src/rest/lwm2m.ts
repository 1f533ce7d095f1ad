import { Type, type Static } from 'typebox';

/** One LwM2M value (docs/lwm2m.md): path text, resource type, JSON value (bigint beyond 2^53 as a string, Opaque as base64, Objlnk "o:i"). */
export const Lwm2mValueJson = Type.Object({
  path: Type.String({ description: '/object/instance/resource[/resource instance]' }),
  type: Type.String({ description: 'String, Integer, Unsigned Integer, Float, Boolean, Opaque, Time, Objlnk, Corelnk' }),
  value: Type.Unknown(),
  time: Type.Optional(Type.Number({ description: 'seconds since the epoch, when the device stamped the value' })),
});
export type Lwm2mValueJson = Static<typeof Lwm2mValueJson>;

export const Lwm2mLink = Type.Object({ target: Type.String(), attributes: Type.Record(Type.String(), Type.Unknown()) });

/** A device's LwM2M registration (TS-Core §6.2.1). */
export const Lwm2mRegistrationView = Type.Object({
  registrationId: Type.String({ description: 'the location the device updates: /rd/{registrationId}' }),
  endpoint: Type.String(),
  lifetime: Type.Integer({ description: 'seconds' }),
  lwm2mVersion: Type.String(),
  binding: Type.String(),
  queueMode: Type.Boolean(),
  sms: Type.Union([Type.String(), Type.Null()]),
  rootPath: Type.String(),
  contentFormats: Type.Array(Type.Integer()),
  address: Type.String(),
  port: Type.Integer(),
  secure: Type.Boolean({ description: 'registered over DTLS' }),
  registeredAt: Type.Integer(),
  updatedAt: Type.Integer(),
  expiresAt: Type.Integer(),
});
export type Lwm2mRegistrationView = Static<typeof Lwm2mRegistrationView>;

export const Lwm2mObjectInstances = Type.Object({
  id: Type.Integer(),
  name: Type.Union([Type.String(), Type.Null()], { description: 'from the tenant registry; null for an object it does not know' }),
  version: Type.Optional(Type.String()),
  instances: Type.Array(Type.Integer()),
  resources: Type.Array(Type.Object({ id: Type.Integer(), name: Type.String(), operations: Type.String(), type: Type.String(), multiple: Type.Boolean(), units: Type.Optional(Type.String()) })),
});

export const Lwm2mQueuedRequest = Type.Object({
  id: Type.String(),
  deviceId: Type.String(),
  op: Type.String(),
  state: Type.Union([Type.Literal('queued'), Type.Literal('sent'), Type.Literal('completed'), Type.Literal('failed')]),
  createdAt: Type.Integer(),
  response: Type.Optional(Type.Unknown()),
  error: Type.Optional(Type.String()),
});

/** `GET /api/v1/devices/{id}/lwm2m` */
export const Lwm2mDeviceView = Type.Object({
  registered: Type.Boolean(),
  registration: Type.Union([Lwm2mRegistrationView, Type.Null()]),
  objects: Type.Array(Lwm2mObjectInstances),
  observations: Type.Array(Type.Array(Type.String()), { description: 'active observations, each a list of paths' }),
  pending: Type.Array(Lwm2mQueuedRequest, { description: 'requests held until a queue-mode device wakes up' }),
});
export type Lwm2mDeviceView = Static<typeof Lwm2mDeviceView>;

/** The answer of an operation that reached the device (200). */
export const Lwm2mOperationResult = Type.Object({
  status: Type.Literal('completed'),
  code: Type.String({ description: 'the device’s CoAP response code, e.g. "2.05"' }),
  values: Type.Optional(Type.Array(Lwm2mValueJson)),
  links: Type.Optional(Type.Array(Lwm2mLink)),
  location: Type.Optional(Type.String({ description: 'Create: the new instance, e.g. /3303/1' })),
});
export type Lwm2mOperationResult = Static<typeof Lwm2mOperationResult>;

/** 202: the device sleeps (queue mode); the request goes out at its next update. */
export const Lwm2mQueuedResult = Type.Object({ status: Type.Literal('queued'), requestId: Type.String({ description: 'GET /api/v1/devices/{id}/lwm2m/requests/{requestId}' }) });

/** PUT (replace) or POST (partial update) on an instance: `{"values": {"<resource id>": value}}`; on a resource: `{"value": v}`. */
export const Lwm2mWriteBody = Type.Object(
  {
    values: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    value: Type.Optional(Type.Unknown()),
    format: Type.Optional(Type.String({ description: 'text, opaque, tlv, senml-json, senml-cbor, lwm2m-json, cbor' })),
  },
  { additionalProperties: false },
);

/** POST on a resource: Execute with optional arguments (TS-Core §5.4.5: `0='a',1`). */
export const Lwm2mExecuteBody = Type.Object({ args: Type.Optional(Type.String({ maxLength: 1024 })) }, { additionalProperties: false });

/** POST on an object: Create, `{"instanceId"?: n, "values": {…}}`. */
export const Lwm2mCreateBody = Type.Object({ instanceId: Type.Optional(Type.Integer({ minimum: 0, maximum: 65534 })), values: Type.Record(Type.String(), Type.Unknown()) }, { additionalProperties: false });

/** `PUT …/attributes`: notification attributes (TS-Core §5.1.2); null removes one. */
export const Lwm2mAttributesBody = Type.Record(Type.String({ pattern: '^(pmin|pmax|gt|lt|st|epmin|epmax|edge|con|hqmax)$' }), Type.Union([Type.Number(), Type.Null()]));

/** Read-Composite / Observe-Composite: `{"paths": ["/3/0/9", "/3303/0/5700"]}`. */
export const Lwm2mCompositeBody = Type.Object({ paths: Type.Array(Type.String({ maxLength: 64 }), { minItems: 1, maxItems: 64 }), format: Type.Optional(Type.String()) }, { additionalProperties: false });

export const Lwm2mObjectModelView = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  version: Type.String(),
  multiple: Type.Boolean(),
  mandatory: Type.Boolean(),
  source: Type.Union([Type.Literal('builtin'), Type.Literal('uploaded')]),
  description: Type.Optional(Type.String()),
  resources: Type.Array(Type.Object({ id: Type.Integer(), name: Type.String(), operations: Type.String(), type: Type.String(), multiple: Type.Boolean(), mandatory: Type.Boolean(), units: Type.Optional(Type.String()) })),
});
export type Lwm2mObjectModelView = Static<typeof Lwm2mObjectModelView>;

export const Lwm2mServerAccount = Type.Object(
  {
    shortServerId: Type.Optional(Type.Integer({ minimum: 1, maximum: 65534 })),
    uri: Type.String({ maxLength: 255, description: 'coap://host:5683 or coaps://host:5684' }),
    securityMode: Type.Optional(Type.Union([Type.Literal('psk'), Type.Literal('nosec')], { description: 'psk: a PSK credential is minted and written; default by the URI scheme' })),
    lifetimeSec: Type.Optional(Type.Integer({ minimum: 1 })),
    binding: Type.Optional(Type.String({ maxLength: 5 })),
    notificationStoring: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

export const Lwm2mBootstrapConfigInput = Type.Object(
  {
    deviceId: Type.Optional(Type.Union([Type.String({ maxLength: 128 }), Type.Null()])),
    enrollmentGroupId: Type.Optional(Type.Union([Type.String({ maxLength: 128 }), Type.Null()])),
    deleteExisting: Type.Optional(Type.Boolean({ description: 'Bootstrap-Delete /0 and /1 first (default true)' })),
    servers: Type.Array(Lwm2mServerAccount, { minItems: 1, maxItems: 4 }),
  },
  { additionalProperties: false },
);
export type Lwm2mBootstrapConfigInput = Static<typeof Lwm2mBootstrapConfigInput>;

export const Lwm2mBootstrapConfig = Type.Object({
  id: Type.String(),
  deviceId: Type.Union([Type.String(), Type.Null()]),
  enrollmentGroupId: Type.Union([Type.String(), Type.Null()]),
  deleteExisting: Type.Boolean(),
  servers: Type.Array(
    Type.Object({ shortServerId: Type.Integer(), uri: Type.String(), securityMode: Type.String(), lifetimeSec: Type.Integer(), binding: Type.String(), notificationStoring: Type.Boolean() }),
  ),
  createdAt: Type.Integer(),
  updatedAt: Type.Integer(),
});
export type Lwm2mBootstrapConfig = Static<typeof Lwm2mBootstrapConfig>;
