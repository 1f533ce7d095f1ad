import { Type, type Static } from 'typebox';
import { DeviceId, IsoTime, Nullable, Tags } from './common.js';

export const DeviceStatus = Type.Union([Type.Literal('active'), Type.Literal('suspended'), Type.Literal('decommissioned')]);
export type DeviceStatus = Static<typeof DeviceStatus>;

export const Device = Type.Object(
  {
    id: Type.String(),
    tenant: Type.String(),
    type: Type.String(),
    status: DeviceStatus,
    tags: Tags,
    attributes: Type.Record(Type.String(), Type.Unknown()),
    groups: Type.Array(Type.String()),
    online: Type.Boolean(),
    lastSeen: Nullable(IsoTime),
    firmwareVersion: Nullable(Type.String()),
    createdAt: IsoTime,
    updatedAt: IsoTime,
  },
  { $id: 'Device' },
);
export type Device = Static<typeof Device>;

export const NewDevice = Type.Object(
  {
    id: DeviceId,
    type: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    tags: Type.Optional(Tags),
    attributes: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    groups: Type.Optional(Type.Array(Type.String({ maxLength: 64 }), { maxItems: 100 })),
  },
  { additionalProperties: false },
);
export type NewDevice = Static<typeof NewDevice>;

/** Tags and attributes are JSON merge patches: a `null` value removes the key. */
export const DevicePatch = Type.Object(
  {
    type: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    tags: Type.Optional(Type.Record(Type.String(), Nullable(Type.String()))),
    attributes: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    status: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('suspended')])),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type DevicePatch = Static<typeof DevicePatch>;

export const ImportLineError = Type.Object({ line: Type.Integer(), id: Type.Optional(Type.String()), reason: Type.String() });
export type ImportLineError = Static<typeof ImportLineError>;

/** The answer to `POST /api/v1/devices/import`. */
export const ImportResult = Type.Object({
  created: Type.Integer(),
  updated: Type.Integer(),
  unchanged: Type.Integer(),
  failed: Type.Integer(),
  errors: Type.Array(ImportLineError),
  errorsTruncated: Type.Boolean(),
});
export type ImportResult = Static<typeof ImportResult>;

export const GroupKind = Type.Union([Type.Literal('static'), Type.Literal('dynamic')]);
export type GroupKind = Static<typeof GroupKind>;

export const Group = Type.Object(
  {
    id: Type.String(),
    kind: GroupKind,
    query: Nullable(Type.String()),
    description: Type.String(),
    deviceCount: Type.Optional(Type.Integer()),
    createdAt: IsoTime,
    updatedAt: IsoTime,
  },
  { $id: 'Group' },
);
export type Group = Static<typeof Group>;

export const NewGroup = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 64 }),
    kind: GroupKind,
    query: Type.Optional(Type.String({ maxLength: 4096 })),
    description: Type.Optional(Type.String({ maxLength: 1024 })),
  },
  { additionalProperties: false },
);
export type NewGroup = Static<typeof NewGroup>;

export const GroupPatch = Type.Object(
  { query: Type.Optional(Type.String({ maxLength: 4096 })), description: Type.Optional(Type.String({ maxLength: 1024 })) },
  { additionalProperties: false, minProperties: 1 },
);
export type GroupPatch = Static<typeof GroupPatch>;

export const GroupDevicesAdd = Type.Object({ deviceIds: Type.Array(Type.String({ maxLength: 128 }), { minItems: 1, maxItems: 10000 }) }, { additionalProperties: false });
export type GroupDevicesAdd = Static<typeof GroupDevicesAdd>;

export const GroupDevicesAdded = Type.Object({ added: Type.Integer() });
export type GroupDevicesAdded = Static<typeof GroupDevicesAdded>;
