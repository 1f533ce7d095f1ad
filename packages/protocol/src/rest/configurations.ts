import { Type, type Static } from 'typebox';
import { IsoTime, PageQuery } from './common.js';

export const CONFIGURATION_HELP =
  'Desired twin content written to every device the target (a fleet query) selects, now and as devices come to match. ' +
  'Where two configurations set the same property the higher priority wins; equal priorities: the lower id wins. ' +
  'Content is immutable; target, priority and labels can change. Deleting a configuration removes the properties it set from ' +
  'desired unless another targeting configuration provides them (then its value is written) or an operator has changed them since.';

export const ConfigurationContent = Type.Object(
  { desired: Type.Record(Type.String(), Type.Unknown(), { description: 'desired twin properties (no `$` names, no nulls)' }) },
  { description: 'at most 32 KiB of JSON' },
);

export const ConfigurationMetrics = Type.Object({
  targeted: Type.Integer({ description: 'devices the target selects' }),
  applied: Type.Integer({ description: 'targeted devices whose reported twin matches the whole content' }),
  pending: Type.Integer({ description: 'targeted devices not applied yet' }),
  conflicting: Type.Integer({ description: 'targeted devices where a higher-priority configuration owns some property of the content' }),
});
export type ConfigurationMetrics = Static<typeof ConfigurationMetrics>;

export const Labels = Type.Record(Type.String({ minLength: 1, maxLength: 64 }), Type.String({ maxLength: 256 }), { description: 'up to 32 string labels' });

export const Configuration = Type.Object({
  id: Type.String(),
  name: Type.String(),
  target: Type.String({ description: 'fleet query selecting the devices; empty: every device' }),
  content: ConfigurationContent,
  priority: Type.Integer(),
  labels: Labels,
  metrics: ConfigurationMetrics,
  createdAt: IsoTime,
  updatedAt: IsoTime,
});
export type Configuration = Static<typeof Configuration>;

export const NewConfiguration = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 128 }),
    target: Type.String({ maxLength: 4096, description: 'fleet query; empty targets every device' }),
    // Checked by the service, so that a wrong shape is answered with what is wrong.
    content: Type.Unknown({ description: '{"desired": {…}}: desired twin properties, no `$` names, no nulls, at most 32 KiB' }),
    priority: Type.Optional(Type.Integer({ description: 'higher wins; default 0' })),
    labels: Type.Optional(Labels),
  },
  { additionalProperties: false },
);
export type NewConfiguration = Static<typeof NewConfiguration>;

export const ConfigurationPatch = Type.Object(
  {
    target: Type.Optional(Type.String({ maxLength: 4096 })),
    priority: Type.Optional(Type.Integer()),
    labels: Type.Optional(Labels),
    // Accepted by the schema only to be refused with the reason (content and name are immutable).
    content: Type.Optional(Type.Unknown()),
    name: Type.Optional(Type.Unknown()),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type ConfigurationPatch = Static<typeof ConfigurationPatch>;

export const ConfigurationDevicesQuery = Type.Object(
  { ...PageQuery, status: Type.Optional(Type.String({ description: 'applied, pending or conflicting' })) },
  { additionalProperties: false },
);

export const ConfigurationDevice = Type.Object({
  deviceId: Type.String(),
  status: Type.Union([Type.Literal('applied'), Type.Literal('pending')]),
  conflicting: Type.Boolean(),
  updatedAt: IsoTime,
});
export type ConfigurationDevice = Static<typeof ConfigurationDevice>;
